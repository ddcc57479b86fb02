"""The parsed form of a topic: an immutable tree that prints back as a normalised query.

``str(query)`` is what users see and can be parsed again to an equal tree. ``query.key`` is
the cache key: case-folded, stemmed and order-independent, so ``Transformers diffusion`` and
``diffusion transformer`` are evaluated once per index.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal, TypeAlias

from digest.topics.text import folded_words, word_keys

Field: TypeAlias = Literal["any", "author", "cat", "like"]

# Words the lexer reads as operators, so a term spelled like one must be quoted.
KEYWORDS = frozenset({"OR", "AND", "NOT"})
_NEEDS_QUOTES = frozenset(' \t\n"():')


class QueryError(ValueError):
    """A topic that cannot be used, with a message meant for the person who typed it.

    ``position`` is the 0-based index in the query of the offending character, when known.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class Term:
    """A word, a quoted phrase, ``author:...``, ``cat:...`` or ``like:<arXiv id>``; ``text`` is
    as typed (for ``like:``, the bare arXiv id)."""

    text: str
    field: Field = "any"

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """The words to find, in order: stemmed, but names unstemmed and categories whole."""
        if self.field in ("cat", "like"):
            return (self.text.casefold(),)
        if self.field == "author":
            return folded_words(self.text)  # "Williams" is not "William"
        return word_keys(self.text)

    @cached_property
    def key(self) -> str:
        prefix = "" if self.field == "any" else f"{self.field}:"
        return f'{prefix}"{" ".join(self.keys)}"'

    def __str__(self) -> str:
        prefix = "" if self.field == "any" else f"{self.field}:"
        return prefix + (f'"{self.text}"' if _needs_quotes(self.text) else self.text)


def _needs_quotes(text: str) -> bool:
    return (
        text in KEYWORDS
        or text.startswith("-")
        or any(c in _NEEDS_QUOTES or c.isspace() for c in text)
    )


@dataclass(frozen=True)
class AnyOf:
    """``a OR b OR ...``: at least one option matches. Options are never exclusions."""

    options: tuple[Node, ...]

    @property
    def key(self) -> str:
        return "(" + " OR ".join(sorted({option.key for option in self.options})) + ")"

    def __str__(self) -> str:
        return " OR ".join(_grouped(option) for option in self.options)


@dataclass(frozen=True)
class AllOf:
    """Every ``include`` matches and no ``exclude`` does; ``include`` is never empty."""

    include: tuple[Node, ...]
    exclude: tuple[Node, ...] = ()

    @property
    def key(self) -> str:
        included = sorted({node.key for node in self.include})
        excluded = sorted({f"-{node.key}" for node in self.exclude})
        return "(" + " ".join(included + excluded) + ")"

    def __str__(self) -> str:
        alone = len(self.include) == 1 and not self.exclude
        parts = [str(node) if alone else _grouped(node) for node in self.include]
        parts += [f"-{_grouped(node)}" for node in self.exclude]
        return " ".join(parts)


Node: TypeAlias = Term | AnyOf | AllOf


def _grouped(node: Node) -> str:
    # Parentheses are needed around a group inside OR or after "-"; around an OR inside a
    # longer query they are not (OR binds tighter), but they make it read unambiguously.
    return str(node) if isinstance(node, Term) else f"({node})"


@dataclass(frozen=True)
class Query:
    """A parsed topic. Build one with :func:`digest.topics.parse`."""

    root: AllOf

    def __str__(self) -> str:
        return str(self.root)

    @cached_property
    def key(self) -> str:
        """Equal for queries that match the same papers in the same way, for caching."""
        return self.root.key

    @cached_property
    def positive_terms(self) -> tuple[Term, ...]:
        """Terms whose hits count towards a match: everything not under an exclusion."""
        found: dict[str, Term] = {}
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, Term):
                found.setdefault(node.key, node)
            elif isinstance(node, AnyOf):
                stack.extend(node.options)
            else:
                stack.extend(node.include)
        return tuple(found.values())

    @cached_property
    def liked_ids(self) -> tuple[str, ...]:
        """The arXiv ids of its ``like:`` terms, exclusions included (each must be known)."""
        found: dict[str, None] = {}
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, Term):
                if node.field == "like":
                    found[node.text] = None
            elif isinstance(node, AnyOf):
                stack.extend(node.options)
            else:
                stack.extend((*node.include, *node.exclude))
        return tuple(found)

    def term_count(self) -> int:
        """How many terms were written, exclusions included (the length limit counts them)."""
        return _count_terms(self.root)


def _count_terms(node: Node) -> int:
    if isinstance(node, Term):
        return 1
    if isinstance(node, AnyOf):
        return sum(_count_terms(option) for option in node.options)
    return sum(_count_terms(child) for child in (*node.include, *node.exclude))
