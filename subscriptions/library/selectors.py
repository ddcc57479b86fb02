"""What the digest pipeline reads of readers' preferences: their positive and negative
examples (votes and library papers as one set) and the papers they already have.

Three queries per batch of readers, whatever their number or the size of their libraries:
the votes, the library papers the model scores with (every paper of a small library, the
representatives of a large one: `summary.py`), and the arXiv ids of every library paper (never
recommended, counted as read).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from digest.papers.citations import CitationRecord
from digest.recommend import PaperText, Vote
from subscriptions.feedback.selectors import votes_by_subscriber
from subscriptions.models import LibraryImport, LibraryPaper


class Source(StrEnum):
    """How the reader told us they like a paper (a recommendation's reason says it)."""

    VOTE = "vote"
    LIBRARY = "library"
    LIKE = "like"  # a `like:` topic


@dataclass(slots=True)
class ReaderPositives:
    """One reader's examples: `votes` (likes and dislikes), `library` (the model's library
    papers by key, each with how many papers it stands for), their `texts` (library papers
    need not be stored papers), and `owned`, the arXiv ids of their whole library."""

    votes: list[Vote] = field(default_factory=list)
    library: dict[str, float] = field(default_factory=dict)
    texts: dict[str, PaperText] = field(default_factory=dict)
    owned: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.votes or self.library)

    def source(self, key: str) -> Source:
        return Source.LIBRARY if key in self.library else Source.VOTE


NO_POSITIVES = ReaderPositives()


def positives_by_subscriber(*, subscriber_ids: Iterable[int]) -> dict[int, ReaderPositives]:
    """Each reader's votes and library, for a batch of readers (readers with neither are
    absent)."""
    ids = list(subscriber_ids)
    found: dict[int, ReaderPositives] = {}
    for subscriber_id, votes in votes_by_subscriber(subscriber_ids=ids).items():
        found[subscriber_id] = ReaderPositives(votes=votes)
    owned: dict[int, set[str]] = {}
    rows = LibraryPaper.objects.filter(subscriber_id__in=ids).exclude(arxiv_id="")
    for subscriber_id, arxiv_id in rows.values_list("subscriber_id", "arxiv_id"):
        owned.setdefault(subscriber_id, set()).add(arxiv_id)
    for subscriber_id, arxiv_ids in owned.items():
        found.setdefault(subscriber_id, ReaderPositives()).owned = frozenset(arxiv_ids)
    positives = LibraryPaper.objects.filter(subscriber_id__in=ids, weight__gt=0).values_list(
        "pk", "subscriber_id", "arxiv_id", "title", "abstract", "authors", "weight"
    )
    for pk, subscriber_id, arxiv_id, title, abstract, authors, weight in positives:
        if not (title or abstract):
            continue  # an id whose look-up failed: nothing for the features to read
        reader = found.setdefault(subscriber_id, ReaderPositives())
        key = arxiv_id or f"library:{pk}"
        reader.library[key] = weight
        reader.texts[key] = PaperText(
            arxiv_id=key,
            title=title,
            abstract=abstract,
            authors=tuple(str(name) for name in authors or ()),
        )
    return found


def owned_arxiv_ids(*, subscriber_id: int) -> set[str]:
    """The arXiv ids of a reader's library."""
    rows = LibraryPaper.objects.filter(subscriber_id=subscriber_id).exclude(arxiv_id="")
    return set(rows.values_list("arxiv_id", flat=True))


LIBRARY_SHOWN = 10


@dataclass(frozen=True, slots=True)
class LibraryOverview:
    """The manage page's library section."""

    count: int
    newest: list[LibraryPaper]
    running: list[LibraryImport]
    last_finished: LibraryImport | None


def library_overview(*, subscriber_id: int, shown: int = LIBRARY_SHOWN) -> LibraryOverview:
    papers = LibraryPaper.objects.filter(subscriber_id=subscriber_id)
    imports = LibraryImport.objects.filter(subscriber_id=subscriber_id).defer("content")
    return LibraryOverview(
        count=papers.count(),
        newest=list(papers.order_by("-added_at", "-id")[:shown]),
        running=list(imports.filter(status=LibraryImport.Status.RUNNING)),
        last_finished=imports.exclude(status=LibraryImport.Status.RUNNING).first(),
    )


def library_citations(*, subscriber_id: int, skip: set[str]) -> list[CitationRecord]:
    """The reader's library papers with an arXiv id, as citation records for their export
    (those in `skip`, already exported as liked or followed, left out). A paper without an
    arXiv id came from the reader's own reference manager, where it still is."""
    rows = (
        LibraryPaper.objects.filter(subscriber_id=subscriber_id)
        .exclude(arxiv_id="")
        .order_by("-added_at", "-id")
        .values_list("arxiv_id", "title", "authors", "abstract")
    )
    return [
        CitationRecord(
            arxiv_id=arxiv_id,
            title=title or f"arXiv:{arxiv_id}",
            authors=tuple(str(name) for name in authors or ()),
            abstract=abstract,
        )
        for arxiv_id, title, authors, abstract in rows
        if arxiv_id not in skip
    ]
