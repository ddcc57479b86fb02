"""The plain record every listing source produces and `digest.papers.ingest` consumes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

# New-style ids (0704.0001, 2409.10594) and old-style ones (hep-th/9901001), version stripped.
_ARXIV_ID = re.compile(
    r"^(?:arxiv:)?(?P<id>\d{4}\.\d{4,5}|[a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$",
    re.IGNORECASE,
)


def normalize_arxiv_id(raw: str) -> str | None:
    """Return the bare arXiv id (no `arXiv:` prefix, no version) or None if `raw` is not one."""
    match = _ARXIV_ID.match(raw.strip())
    return match.group("id") if match else None


def arxiv_version(raw: str) -> int | None:
    match = re.search(r"v(\d+)$", raw.strip())
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class PaperRecord:
    """One paper as a source saw it. Fields a source does not know stay None / empty."""

    arxiv_id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    author_count: int | None = None  # when a source gives a count but not the names
    categories: tuple[str, ...] = ()
    primary_category: str = ""
    keywords: tuple[str, ...] = ()
    ai_summary: str = ""  # Hugging Face's one-sentence summary, white space folded
    published_at: datetime | None = None
    listed_on: date | None = None
    upvotes: int | None = None
    comments: int | None = None
    github_repo: str = ""
    github_stars: int | None = None
    project_page: str = ""
    thumbnail: str = ""
    version: int | None = None
    comment: str = ""  # arXiv's author comment ("v2: fixed Table 3", "withdrawn")
    withdrawn: bool = False
    source: str = ""  # "hf", "arxiv" or "snapshot"


@dataclass(slots=True)
class SkippedItem:
    """A listing item that could not be used, with the reason, so a run can count and show it."""

    reason: str
    position: int
    raw_id: str = ""


@dataclass(slots=True)
class Listing:
    """What one fetch of one source produced: good records and the items it skipped."""

    records: list[PaperRecord] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
