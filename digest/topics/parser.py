"""Parse topic queries, the search-engine syntax researchers already type.

Grammar, loosest binding first::

    query    := clause+                      all clauses must match (implicit AND)
    clause   := ["-"] group                  "-" excludes papers matching the group
    group    := unit ("OR" unit)*            at least one unit must match
    unit     := WORD | "PHRASE" | FIELD:VALUE | "(" query ")"

Choices, and why:

- ``OR`` binds tighter than the implicit AND, as on Google and arXiv search:
  ``diffusion video OR audio`` means ``diffusion (video OR audio)``. Only the upper-case
  ``OR`` is an operator, so the word "or" can still be searched for; ``AND`` is accepted and
  ignored (it is the default); ``NOT`` is refused with a pointer to ``-``.
- An exclusion cannot be an ``OR`` option (``a OR -b`` would match nearly every paper).
- Words with inner hyphens or dots (``self-supervised``, ``GPT-4``) match as phrases of their
  parts, so ``self-supervised`` and ``self supervised`` are the same query. Quoted phrases and
  words are stemmed alike: ``"diffusion model"`` finds "diffusion models".
- ``author:Name`` / ``author:"First Last"`` match one author's name: all words, in order,
  other names (middle initials) allowed in between.
- ``cat:cs.CL`` matches that arXiv category exactly (case-insensitive); ``cat:cs``, without
  a dot, matches the whole archive (cs.CL, cs.LG, ...), but not ``cat:math`` for math-ph.
- ``like:2409.10594`` matches the papers whose text is most like that paper's (tf-idf cosine
  similarity, :mod:`digest.recommend`); the index is given the similarity by its builder.
  ``arXiv:`` prefixes and version suffixes are dropped: ``like:arXiv:2409.10594v2`` is
  ``like:2409.10594``. Whether the paper exists is the caller's check (:func:`validate`'s
  ``known``), since this module does not read the database.
- Parentheses group; “curly” quotes count as straight ones. Limits: 200 characters and
  12 terms (words, phrases and fields; exclusions included), so a topic stays a topic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache

from digest.topics.query import KEYWORDS, AllOf, AnyOf, Field, Node, Query, QueryError, Term
from digest.topics.text import word_keys

MAX_LENGTH = 200
MAX_TERMS = 12
_FIELDS: dict[str, Field] = {"author": "author", "cat": "cat", "like": "like"}
# New-style (2409.10594) and old-style (hep-th/9901001, math.GT/0309136) arXiv ids.
_ARXIV_ID_RE = re.compile(
    r"(?:arxiv:)?(?:(?P<new>\d{4}\.\d{4,5})|(?P<archive>[a-z][a-z-]*)(?:\.[a-z]{2})?/(?P<number>\d{7}))"
    r"(?:v\d+)?",
    re.IGNORECASE,
)
_CATEGORY_RE = re.compile(r"[a-z][a-z-]*(?:\.[a-z][a-z-]*)?", re.IGNORECASE)
_CURLY_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"'})
_STOPS = frozenset('()"')
_OR_EXAMPLE = "put a term on each side of OR, e.g. video OR audio"


def parse(query: str) -> Query:
    """Parse a topic, or raise :class:`QueryError` saying what is wrong and where."""
    return _parse_cached(query)


def validate(
    query: str, *, known: Callable[[Collection[str]], Collection[str]] | None = None
) -> str | None:
    """The error message for a bad topic (for form validation), or None if it is fine.

    ``known`` answers which of some arXiv ids are papers we have: a ``like:`` topic naming
    another is refused, since it could never match anything.
    """
    try:
        parsed = parse(query)
    except QueryError as error:
        return error.message
    if _matches_nearly_all(parsed.root):
        if _function_words_only(parsed.root):
            return (
                "this would bring nearly every paper: words such as “the”, “of” or “we” are in "
                "every abstract; add a subject word, e.g. diffusion"
            )
        return (
            "this would bring nearly every paper: an alternative (OR) made only of words such "
            "as “the”, “a” or “we” matches every abstract; leave it out"
        )
    if known is not None and parsed.liked_ids:
        have = set(known(parsed.liked_ids))
        if missing := [arxiv_id for arxiv_id in parsed.liked_ids if arxiv_id not in have]:
            return (
                f"No paper {missing[0]} here yet: like: takes the arXiv id of a paper that has "
                "been in the digest (its link ends with the id, e.g. like:2409.10594)"
            )
    return None


# Words in (nearly) every English abstract: a topic of these alone is no filter at all.
# fmt: off
_FUNCTION_WORDS = frozenset({
    "a", "an", "the", "of", "and", "or", "in", "on", "for", "to", "with", "by", "at", "from",
    "as", "is", "are", "be", "this", "that", "these", "we", "our", "it", "its",
})
# fmt: on


def _matches_nearly_all(node: Node) -> bool:
    """Whether a topic's words are all function words (``the``, ``a OR diffusion``), so that
    it would match nearly every paper."""
    if isinstance(node, Term):
        words = node.text.casefold().split()
        return node.field == "any" and all(word in _FUNCTION_WORDS for word in words)
    if isinstance(node, AnyOf):
        return any(_matches_nearly_all(option) for option in node.options)
    return all(_matches_nearly_all(child) for child in node.include)


def _function_words_only(node: Node) -> bool:
    """Whether every word of the topic is a function word (no subject word at all)."""
    if isinstance(node, Term):
        return _matches_nearly_all(node)
    children = node.options if isinstance(node, AnyOf) else node.include
    return all(_function_words_only(child) for child in children)


@lru_cache(maxsize=65_536)
def _parse_cached(query: str) -> Query:
    # Digest runs parse the same few thousand topics for every subscriber that has them.
    stripped = query.strip()
    if len(stripped) > MAX_LENGTH:
        raise _too_long(len(stripped))
    lexemes = _Lexer(query.translate(_CURLY_QUOTES)).lex()
    parsed = Query(_Parser(lexemes).parse())
    if parsed.term_count() > MAX_TERMS:
        raise QueryError(
            f"Too many terms ({parsed.term_count()}): a topic can have at most {MAX_TERMS}. "
            "Split it into several topics."
        )
    if len(str(parsed)) > MAX_LENGTH:
        # The normalised form can grow a little (added quotes or parentheses); it must still
        # parse, since it is what gets stored and shown.
        raise _too_long(len(str(parsed)))
    return parsed


def _too_long(length: int) -> QueryError:
    return QueryError(
        f"Topic is too long ({length} characters): keep it under {MAX_LENGTH}, "
        "or split it into several topics."
    )


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "term", "or", "(" or ")"
    position: int
    term: Term | None = None
    negated: bool = False


class _Lexer:
    """Cuts a query into terms and operators; every syntax error found here has a position."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.i = 0

    def lex(self) -> list[_Lexeme]:
        out: list[_Lexeme] = []
        query = self.query
        while self.i < len(query):
            char = query[self.i]
            if char.isspace():
                self.i += 1
            elif char in "()":
                out.append(_Lexeme(char, self.i))
                self.i += 1
            else:
                lexeme = self._clause()
                if lexeme is not None:
                    out.append(lexeme)
        return out

    def _clause(self) -> _Lexeme | None:
        start = self.i
        negated = self.query[start] == "-"
        if negated:
            self.i += 1
            self._check_exclusion(start)
            if self.query[self.i] == "(":
                self.i += 1
                return _Lexeme("(", start, negated=True)
        if self.query[self.i] == '"':
            opening = self.i
            phrase = self._phrase()
            if not word_keys(phrase):
                raise QueryError(
                    'Empty quotes: put words between them, e.g. "diffusion models"', opening
                )
            return _Lexeme("term", start, Term(phrase), negated)
        word = self._word()
        name, colon, value = word.partition(":")
        if colon and name.isascii() and name.isalpha():
            return _Lexeme("term", start, self._field(name, value, start), negated)
        if not negated and word in KEYWORDS:
            return self._keyword(word, start)
        if not word_keys(word):
            if negated:
                raise QueryError(
                    f"Nothing to exclude in '-{word}': write -word, e.g. -survey", start
                )
            return None  # Lone punctuation such as "&" or "+" carries no words; skip it.
        return _Lexeme("term", start, Term(word), negated)

    def _check_exclusion(self, start: int) -> None:
        rest = self.query[self.i :]
        if not rest or rest[0].isspace() or rest[0] == ")":
            raise QueryError(
                "A lone '-' excludes nothing: put it right before a word, e.g. -survey", start
            )
        if rest[0] == "-":
            raise QueryError("Use a single '-' to exclude a word, e.g. -survey", start)

    def _word(self) -> str:
        start = self.i
        query = self.query
        while self.i < len(query) and not (query[self.i].isspace() or query[self.i] in _STOPS):
            self.i += 1
        return query[start : self.i]

    def _phrase(self) -> str:
        """Read a quoted phrase starting at the opening quote; returns its normalised text."""
        opening = self.i
        closing = self.query.find('"', opening + 1)
        if closing < 0:
            after = self.query[opening:].rstrip()
            if len(after) > 40:
                after = after[:40] + "..."
            raise QueryError(f'Unclosed quote: add a closing " after {after}', opening)
        self.i = closing + 1
        return " ".join(self.query[opening + 1 : closing].split())

    def _field(self, name: str, value: str, start: int) -> Term:
        field = _FIELDS.get(name.lower())
        if field is None:
            raise QueryError(f"Unknown field '{name}:'. Use author:, cat: or like:", start)
        if not value and self.i < len(self.query) and self.query[self.i] == '"':
            value = self._phrase()
        if not value:
            example = {"cat": "cat:cs.CL", "like": "like:2409.10594"}.get(
                field, 'author:"Yann LeCun"'
            )
            raise QueryError(f"{field}: needs a value right after the colon, e.g. {example}", start)
        if field == "like":
            found = _ARXIV_ID_RE.fullmatch(value.strip())
            if not found:
                raise QueryError(f"'{value}' is not an arXiv id: write e.g. like:2409.10594", start)
            arxiv_id = found["new"] or f"{found['archive'].lower()}/{found['number']}"
            return Term(arxiv_id, field)
        if field == "cat":
            if not _CATEGORY_RE.fullmatch(value):
                raise QueryError(
                    f"'{value}' is not an arXiv category: write e.g. cat:cs.CL, "
                    "or cat:cs for all of computer science",
                    start,
                )
        elif not word_keys(value):
            raise QueryError('author: needs a name, e.g. author:"Yann LeCun"', start)
        return Term(value, field)

    def _keyword(self, word: str, start: int) -> _Lexeme | None:
        if word == "NOT":
            raise QueryError("Use -word instead of NOT to exclude a word, e.g. -survey", start)
        if word == "OR":
            return _Lexeme("or", start)
        return None  # AND is what juxtaposition already means.


class _Parser:
    """Recursive descent over lexemes; builds flattened trees so printing round-trips."""

    def __init__(self, lexemes: list[_Lexeme]) -> None:
        self.lexemes = lexemes
        self.i = 0

    def parse(self) -> AllOf:
        if not self.lexemes:
            raise QueryError("The topic is empty: type a few words, e.g. diffusion video")
        return self._sequence(opened_at=None)

    def _peek(self) -> _Lexeme | None:
        return self.lexemes[self.i] if self.i < len(self.lexemes) else None

    def _next(self) -> _Lexeme:
        lexeme = self.lexemes[self.i]
        self.i += 1
        return lexeme

    def _sequence(self, opened_at: int | None) -> AllOf:
        include: list[Node] = []
        exclude: list[Node] = []
        while (lexeme := self._peek()) is not None and lexeme.kind != ")":
            negated, node = self._group()
            (exclude if negated else include).append(node)
        if opened_at is None and lexeme is not None:
            raise QueryError("Unmatched ')': remove it or add a '(' before it", lexeme.position)
        if opened_at is not None:
            if lexeme is None:
                raise QueryError("Unclosed parenthesis: add a closing ')'", opened_at)
            self._next()
        if not include:
            raise _no_positive_terms(bool(exclude), opened_at)
        return _all_of(include, exclude)

    def _group(self) -> tuple[bool, Node]:
        negated, first = self._unit()
        options = [first]
        while (lexeme := self._peek()) is not None and lexeme.kind == "or":
            self._next()
            following = self._peek()
            if following is None:
                raise QueryError(f"The topic ends with OR: {_OR_EXAMPLE}", lexeme.position)
            if following.kind in ("or", ")"):
                raise QueryError(f"OR needs a term after it: {_OR_EXAMPLE}", lexeme.position)
            option_negated, option = self._unit()
            if negated or option_negated:
                raise QueryError(
                    "An exclusion can't be part of OR: exclude separately, "
                    "e.g. (video OR audio) -survey",
                    lexeme.position,
                )
            options.append(option)
        if len(options) == 1:
            return negated, first
        return False, _any_of(options)

    def _unit(self) -> tuple[bool, Node]:
        lexeme = self._next()
        if lexeme.kind == "or":
            first = lexeme is self.lexemes[0]
            where = "The topic starts with OR" if first else "OR needs a term before it"
            raise QueryError(f"{where}: {_OR_EXAMPLE}", lexeme.position)
        if lexeme.kind == "(":
            group = self._sequence(opened_at=lexeme.position)
            alone = len(group.include) == 1 and not group.exclude
            return lexeme.negated, group.include[0] if alone else group
        assert lexeme.term is not None
        return lexeme.negated, lexeme.term


def _no_positive_terms(has_exclusions: bool, opened_at: int | None) -> QueryError:
    if opened_at is not None:
        if has_exclusions:
            return QueryError(
                "Parentheses can't hold only exclusions: add a word to look for", opened_at
            )
        return QueryError("Empty parentheses: put words inside or remove them", opened_at)
    if has_exclusions:
        return QueryError(
            "A topic can't be only exclusions: add a word to look for, e.g. diffusion -survey"
        )
    return QueryError("The topic is empty: type a few words, e.g. diffusion video")


def _all_of(include: list[Node], exclude: list[Node]) -> AllOf:
    # "a (b -c)" is "a b -c": splice groups so equal meanings print (and compare) equal.
    flat_include: list[Node] = []
    flat_exclude = list(exclude)
    for node in include:
        if isinstance(node, AllOf):
            flat_include.extend(node.include)
            flat_exclude.extend(node.exclude)
        else:
            flat_include.append(node)
    return AllOf(tuple(flat_include), tuple(flat_exclude))


def _any_of(options: list[Node]) -> AnyOf:
    flat: list[Node] = []
    for option in options:
        flat.extend(option.options if isinstance(option, AnyOf) else (option,))
    return AnyOf(tuple(flat))
