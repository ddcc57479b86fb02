"""An inverted index over a day's papers, and query matching against it.

A digest run asks the same index for the topics of every subscriber, so the work is arranged
to be paid once: the index is built once per day; each distinct term is looked up once
(posting lists of stemmed words, phrases verified by positions); each distinct query (by
``Query.key``) is evaluated once. A query never scans all papers.

Positions pack where a word is into one int, so that "adjacent" is simply ``p + 1``::

    field (4 bits) | item (12 bits: which author, keyword or category) | word offset (16 bits)

Words past offset 65535 of an item, or items past the 4095th author, are not indexed.

``like:<arXiv id>`` terms are not looked up in postings: the builder passes ``similar``, which
gives the papers like a given one with their similarity (tf-idf cosine, computed by
:mod:`digest.recommend`), and the index treats those papers as the term's hits.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from digest.topics.parser import parse
from digest.topics.query import AllOf, AnyOf, Node, Query, Term
from digest.topics.text import fold_and_key, tokens, words

TITLE, ABSTRACT, KEYWORD, AUTHOR, CATEGORY = range(5)
_ITEM_SHIFT = 16
_FIELD_SHIFT = 28
_MAX_OFFSET = (1 << _ITEM_SHIFT) - 1
_MAX_ITEMS = 1 << (_FIELD_SHIFT - _ITEM_SHIFT)
# Where a term is found says how much the paper is about it.
_FIELD_WEIGHTS = {TITLE: 3.0, KEYWORD: 2.0, AUTHOR: 2.0, ABSTRACT: 1.0, CATEGORY: 1.0}
# Author names are also indexed unstemmed, under keys no stem can collide with.
_NAME_PREFIX = "="
_PHRASE_BONUS = 0.5  # per extra word in a matched phrase
_REPEAT_BONUS = 0.1  # per occurrence, capped: a tie-breaker, never worth a title hit
_MAX_REPEATS = 5

# A paper like the one a `like:` topic names counts like a keyword hit, more the closer it is
# (cosines of similar papers run from about 0.1 to 0.5).
_LIKE_BASE = 2.0
_LIKE_SCALE = 4.0

# (first position, last position) of one occurrence of a term.
Hit = tuple[int, int]
# Paper key -> cosine similarity, for the papers like the one with the given arXiv id.
Similar = Callable[[str], Mapping[int, float]]


@dataclass(frozen=True)
class PaperText:
    """The text of one paper to index; ``key`` is the caller's id for it (the DB pk)."""

    key: int
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """Why a paper matched a query.

    ``score``: higher is better; title hits beat keyword hits beat abstract hits, and every
    matched term (more for phrases) adds up. ``words``: the surface forms in the paper's text
    that matched (``{"Transformers", "self-supervised"}``), for :func:`highlight`.
    """

    score: float
    words: frozenset[str]


class PaperIndex:
    """An immutable inverted index over papers. Build it with :meth:`build`."""

    def __init__(self) -> None:
        self._keys: list[int] = []
        self._postings: defaultdict[str, dict[int, list[int]]] = defaultdict(dict)
        self._categories: defaultdict[str, dict[int, list[Hit]]] = defaultdict(dict)
        self._texts: list[dict[int, str]] = []  # doc -> item -> the indexed string
        self._words: list[dict[int, list[str]]] = []  # doc -> item -> its words
        self._spans: dict[tuple[int, int], array[int]] = {}
        self._term_hits: dict[str, dict[int, list[Hit]]] = {}
        self._scored: dict[str, dict[int, Match]] = {}  # term key -> doc -> its part
        self._matches: dict[str, dict[int, Match]] = {}
        self._similar: Similar | None = None
        self._similarity: dict[str, dict[int, float]] = {}  # like term key -> doc -> cosine

    @classmethod
    def build(cls, papers: Iterable[PaperText], *, similar: Similar | None = None) -> PaperIndex:
        """Index ``papers``; their keys must be distinct (a paper listed twice is a caller bug).

        ``similar`` answers ``like:`` terms; without it they match nothing.
        """
        index = cls()
        index._similar = similar
        seen: set[int] = set()
        for paper in papers:
            if paper.key in seen:
                raise ValueError(f"Paper key {paper.key} is indexed twice")
            seen.add(paper.key)
            index._add(paper)
        index._postings.default_factory = None  # Lookups must not grow the index.
        index._categories.default_factory = None
        return index

    def __len__(self) -> int:
        return len(self._keys)

    def match(self, query: Query | str) -> dict[int, Match]:
        """Paper key -> :class:`Match` for every paper ``query`` matches.

        A string is parsed first (raising :class:`QueryError`). Results are cached per
        ``Query.key``; the returned dict is the caller's own copy.
        """
        parsed = parse(query) if isinstance(query, str) else query
        found = self._matches.get(parsed.key)
        if found is None:
            found = self._evaluate(parsed)
            self._matches[parsed.key] = found
        return dict(found)

    # Building

    def _add(self, paper: PaperText) -> None:
        doc = len(self._keys)
        self._keys.append(paper.key)
        self._texts.append({})
        self._words.append({})
        self._add_item(doc, TITLE, 0, paper.title)
        self._add_item(doc, ABSTRACT, 0, paper.abstract)
        for field, texts in ((KEYWORD, paper.keywords), (AUTHOR, paper.authors)):
            for number, text in enumerate(texts[:_MAX_ITEMS]):
                self._add_item(doc, field, number, text)
        for number, category in enumerate(paper.categories[:_MAX_ITEMS]):
            item = self._add_item(doc, CATEGORY, number, category)
            if item is not None:
                self._add_category(doc, category, item)

    def _add_item(self, doc: int, field: int, number: int, text: str) -> Hit | None:
        """Index one string; returns the hit covering all of it (None if it has no words)."""
        base = (field << _FIELD_SHIFT) | (number << _ITEM_SHIFT)
        found = words(text)[: _MAX_OFFSET + 1]
        if not found:
            return None
        postings = self._postings
        for offset, word in enumerate(found, base):
            folded, key = fold_and_key(word)
            postings[key].setdefault(doc, []).append(offset)
            if field == AUTHOR:
                postings[_NAME_PREFIX + folded].setdefault(doc, []).append(offset)
        self._texts[doc][base >> _ITEM_SHIFT] = text
        self._words[doc][base >> _ITEM_SHIFT] = found
        return (base, base + len(found) - 1)

    def _add_category(self, doc: int, category: str, item: Hit) -> None:
        exact = category.strip().casefold()
        archive = exact.split(".", 1)[0]
        for name in {exact, archive}:
            self._categories[name].setdefault(doc, []).append(item)

    # Matching

    def _evaluate(self, query: Query) -> dict[int, Match]:
        docs = self._docs(query.root)
        terms = [(term, self._hits(term), self._scored_for(term)) for term in query.positive_terms]
        found: dict[int, Match] = {}
        for doc in docs:
            scored = [
                scores.get(doc) or self._score(term, doc, hits[doc], scores)
                for term, hits, scores in terms
                if doc in hits
            ]
            if len(scored) == 1:
                found[self._keys[doc]] = scored[0]
            else:
                words = frozenset().union(*(match.words for match in scored))
                score = sum(match.score for match in scored)
                found[self._keys[doc]] = Match(round(score, 6), words)
        return found

    def _docs(self, node: Node) -> Collection[int]:
        """Internal numbers of the papers matching ``node``, by set algebra on postings."""
        if isinstance(node, Term):
            return self._hits(node)
        if isinstance(node, AnyOf):
            union: set[int] = set()
            for option in node.options:
                union.update(self._docs(option))
            return union
        return self._all_of(node)

    def _all_of(self, node: AllOf) -> set[int]:
        # Smallest first: an intersection costs the size of what is left.
        included = sorted((self._docs(child) for child in node.include), key=len)
        docs = set(included[0])
        for other in included[1:]:
            docs = {doc for doc in docs if doc in other}
        for child in node.exclude:
            if not docs:
                break
            excluded = self._docs(child)
            docs = {doc for doc in docs if doc not in excluded}
        return docs

    def _hits(self, term: Term) -> dict[int, list[Hit]]:
        """Occurrences of ``term`` per paper, computed once per index."""
        found = self._term_hits.get(term.key)
        if found is None:
            found = self._find(term)
            self._term_hits[term.key] = found
        return found

    def _find(self, term: Term) -> dict[int, list[Hit]]:
        if term.field == "like":
            return self._find_like(term)
        if term.field == "cat":
            return self._categories.get(term.keys[0], {})
        prefix = _NAME_PREFIX if term.field == "author" else ""
        postings: list[dict[int, list[int]]] = [
            self._postings.get(prefix + key, {}) for key in term.keys
        ]
        if len(postings) == 1:
            return {doc: [(p, p) for p in positions] for doc, positions in postings[0].items()}
        smallest = min(postings, key=len)
        candidates = set(smallest)
        for posting in postings:
            candidates = {doc for doc in candidates if doc in posting}
        find = _in_one_name if prefix else _adjacent
        found: dict[int, list[Hit]] = {}
        for doc in candidates:
            hits = find([posting[doc] for posting in postings])
            if hits:
                found[doc] = hits
        return found

    def _find_like(self, term: Term) -> dict[int, list[Hit]]:
        if self._similar is None:
            return {}
        doc_of = {key: doc for doc, key in enumerate(self._keys)}
        similarity = {
            doc_of[key]: cosine for key, cosine in self._similar(term.text).items() if key in doc_of
        }
        self._similarity[term.key] = similarity
        return {doc: [(0, 0)] for doc in similarity}

    def _scored_for(self, term: Term) -> dict[int, Match]:
        return self._scored.setdefault(term.key, {})

    def _score(self, term: Term, doc: int, hits: list[Hit], scores: dict[int, Match]) -> Match:
        """A term's contribution to one paper's match, computed once per (term, paper)."""
        if term.field == "like":
            cosine = self._similarity[term.key][doc]
            scores[doc] = Match(round(_LIKE_BASE + _LIKE_SCALE * cosine, 6), frozenset())
            return scores[doc]
        weight = max(_FIELD_WEIGHTS[first >> _FIELD_SHIFT] for first, _ in hits)
        extra_words = 0 if term.field == "cat" else len(term.keys) - 1
        score = weight * (1 + _PHRASE_BONUS * extra_words)
        score += _REPEAT_BONUS * min(len(hits), _MAX_REPEATS)
        scored = scores[doc] = Match(score, frozenset(self._surface(doc, hit) for hit in hits))
        return scored

    def _surface(self, doc: int, hit: Hit) -> str:
        """The paper's own text for a hit, e.g. "self-supervised" for the query self supervised."""
        first, last = hit
        item = first >> _ITEM_SHIFT
        if first == last:
            return self._words[doc][item][_offset(first)]
        text = self._texts[doc][item]
        spans = self._spans.get((doc, item))
        if spans is None:
            # Only phrase hits need spans, so they are not worked out while building.
            spans = array("I", [bound for token in tokens(text) for bound in token[1:3]])
            self._spans[(doc, item)] = spans
        return text[spans[2 * _offset(first)] : spans[2 * _offset(last) + 1]]


def _offset(position: int) -> int:
    return position & _MAX_OFFSET


def _adjacent(positions: list[list[int]]) -> list[Hit]:
    """Phrase occurrences: word i at p + i. Packed positions never run across two items."""
    rest = [set(p) for p in positions[1:]]
    return [
        (start, start + len(rest))
        for start in positions[0]
        if all(start + i in words for i, words in enumerate(rest, 1))
    ]


def _in_one_name(positions: list[list[int]]) -> list[Hit]:
    """Author phrases: all words within one author's name, in order, gaps allowed.

    So ``author:"Yann LeCun"`` still finds "Yann A. LeCun".
    """
    hits: list[Hit] = []
    for start in positions[0]:
        item, current = start >> _ITEM_SHIFT, start
        for later in positions[1:]:
            following = [p for p in later if p >> _ITEM_SHIFT == item and p > current]
            if not following:
                break
            current = min(following)
        else:
            hits.append((start, current))
    return hits
