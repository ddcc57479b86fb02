"""Upsert a listing's records into Paper rows on the arXiv id, and record the run.

A paper seen again updates only what changes over time (upvotes, comments, stars, a new version)
and fills fields another source left empty; it keeps its first listing day. Queries are per chunk
of records, never per paper, so a 10,000-paper listing costs a handful of queries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from digest.models import FetchRun, Paper, PaperEvent
from digest.sources.records import PaperRecord, SkippedItem

logger = logging.getLogger(__name__)

CHUNK = 1000

# Fields that change while a paper is listed: always take the newest value.
_LIVE_FIELDS = ("upvotes", "comments", "github_stars")
# Fields a second source may fill in when the first left them empty.
_FILL_FIELDS = (
    "abstract",
    "authors",
    "author_count",
    "categories",
    "primary_category",
    "keywords",
    "published_at",
    "github_repo",
    "project_page",
    "thumbnail",
)
# Fields a source regenerates (Hugging Face rewrites its AI summary): the newest non-empty value.
_REFRESHED_FIELDS = ("ai_summary",)
# Fields a new arXiv version may change.
_VERSIONED_FIELDS = ("title", "abstract", "authors", "author_count", "categories")


@dataclass(slots=True)
class IngestResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    events: int = 0
    skipped: list[SkippedItem] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.skipped)} skipped"
        )


def papers_upsert(
    *,
    records: Sequence[PaperRecord],
    listed_on: date,
    relist: bool = False,
    seen_on: date | None = None,
) -> IngestResult:
    """Insert new papers and update known ones; a second run of the same records writes nothing.

    A known paper keeps its first listing day, except with `relist` (the bundled snapshot, which
    stands for "today's listing" whenever it is loaded, so a demo always has a fresh day).
    Changes to a known paper that its followers care about become PaperEvents seen on `seen_on`
    (default `listed_on`), in the same transaction.
    """
    result = IngestResult()
    seen = seen_on or listed_on
    for start in range(0, len(records), CHUNK):
        _upsert_chunk(_dedupe(records[start : start + CHUNK]), listed_on, result, relist, seen)
    return result


def _dedupe(records: Iterable[PaperRecord]) -> list[PaperRecord]:
    """One record per id within a chunk (a listing can repeat a paper); the last one wins."""
    return list({record.arxiv_id: record for record in records}.values())


def _upsert_chunk(
    records: list[PaperRecord], listed_on: date, result: IngestResult, relist: bool, seen: date
) -> None:
    with transaction.atomic():
        known = Paper.objects.select_for_update().in_bulk(
            [r.arxiv_id for r in records], field_name="arxiv_id"
        )
        to_create: list[Paper] = []
        to_update: list[Paper] = []
        changed_fields: set[str] = set()
        events: list[PaperEvent] = []
        now = timezone.now()
        for record in records:
            paper = known.get(record.arxiv_id)
            if paper is None:
                to_create.append(_new_paper(record, listed_on))
                continue
            events.extend(_events(paper, record, seen, now))
            changed = _merge(paper, record)
            if relist and paper.listed_on != listed_on:
                paper.listed_on = listed_on
                changed.append("listed_on")
            if changed:
                to_update.append(paper)
                changed_fields.update(changed)
            else:
                result.unchanged += 1
        # A concurrent fetch may have inserted the same id since the read above; its row wins
        # and ours is dropped rather than failing the whole chunk.
        created = Paper.objects.bulk_create(to_create, ignore_conflicts=True)
        result.new += len(created)
        if to_update:
            for paper in to_update:
                paper.updated_at = now
            Paper.objects.bulk_update(to_update, [*sorted(changed_fields), "updated_at"])
            result.updated += len(to_update)
        if events:
            PaperEvent.objects.bulk_create(events)
            result.events += len(events)


def _events(paper: Paper, record: PaperRecord, seen_on: date, now: datetime) -> list[PaperEvent]:
    """What changed on a known paper that a follower wants to hear, before the merge applies it.

    Only a value known before and after makes an event: a first sighting tells nothing. A record
    whose source is "hf" comes from the Daily Papers list (or is a paper the paper endpoint says
    was put on it), so a known paper without "hf" among its sources has just entered the list.
    Upvotes are known once a source with upvotes listed the paper or the endpoint refreshed it.
    """
    sources = set(paper.sources.split(","))
    Kind = PaperEvent.Kind
    found: list[tuple[str, str, str, str]] = []  # kind, before, after, detail
    if record.github_repo and not paper.github_repo:
        stars = record.github_stars
        detail = record.github_repo + (f" (\u2605 {stars})" if stars else "")
        found.append((Kind.CODE, "", record.github_repo, detail))
    if record.project_page and not paper.project_page:
        found.append((Kind.PROJECT_PAGE, "", record.project_page, record.project_page))
    if record.version and paper.version and record.version > paper.version:
        detail = f"v{record.version}" + (f": {record.comment}" if record.comment else "")
        found.append((Kind.VERSION, f"v{paper.version}", f"v{record.version}", detail))
    if record.source == "hf" and "hf" not in sources:
        found.append((Kind.TRENDING, "", "listed", "on Hugging Face Daily Papers"))
    upvotes_known = bool(sources & {"hf", "snapshot"}) or paper.refreshed_on is not None
    if upvotes_known and record.upvotes is not None and record.upvotes > paper.upvotes:
        thresholds = settings.FOLLOW_UPVOTE_THRESHOLDS
        passed = [t for t in thresholds if paper.upvotes < t <= record.upvotes]
        if passed:  # one event for the highest threshold passed at once
            detail = f"passed {passed[-1]} upvotes ({record.upvotes})"
            found.append((Kind.UPVOTES, str(paper.upvotes), str(record.upvotes), detail))
    return [
        PaperEvent(
            paper=paper,
            kind=kind,
            before=before[:500],
            after=after[:500],
            detail=detail,
            seen_at=now,
            seen_on=seen_on,
        )
        for kind, before, after, detail in found
    ]


def _new_paper(record: PaperRecord, listed_on: date) -> Paper:
    return Paper(
        arxiv_id=record.arxiv_id,
        title=record.title,
        abstract=record.abstract,
        authors=list(record.authors),
        author_count=record.author_count or len(record.authors),
        categories=list(record.categories),
        primary_category=record.primary_category,
        keywords=list(record.keywords),
        ai_summary=record.ai_summary,
        published_at=record.published_at,
        listed_on=record.listed_on or listed_on,
        upvotes=record.upvotes or 0,
        comments=record.comments or 0,
        github_repo=record.github_repo,
        github_stars=record.github_stars,
        project_page=record.project_page,
        thumbnail=record.thumbnail,
        version=record.version,
        sources=record.source,
        withdrawn_at=timezone.now() if record.withdrawn else None,
    )


def _merge(paper: Paper, record: PaperRecord) -> list[str]:
    """Apply what `record` knows that `paper` does not; return the names of changed fields."""
    incoming = _new_paper(record, paper.listed_on)
    changed: list[str] = []

    def take(name: str) -> None:
        value = getattr(incoming, name)
        if getattr(paper, name) != value:
            setattr(paper, name, value)
            changed.append(name)

    for name in _LIVE_FIELDS:
        # A source that does not know the value (arXiv has no upvotes) leaves it alone.
        if getattr(record, name) is not None:
            take(name)
    for name in _REFRESHED_FIELDS:
        if getattr(incoming, name):
            take(name)
    newer_version = bool(record.version and (paper.version or 0) < record.version)
    if newer_version:
        take("version")
        for name in _VERSIONED_FIELDS:
            if getattr(incoming, name):
                take(name)
    for name in _FILL_FIELDS:
        if not getattr(paper, name) and getattr(incoming, name):
            take(name)
    sources = ",".join(sorted({*filter(None, paper.sources.split(",")), record.source} - {""}))
    if sources != paper.sources:
        paper.sources = sources
        changed.append("sources")
    if record.withdrawn and paper.withdrawn_at is None:
        take("withdrawn_at")
    return changed


def fetch_run_start(*, source: str, for_date: date) -> FetchRun:
    return FetchRun.objects.create(source=source, for_date=for_date)


def fetch_run_finish(
    *,
    run: FetchRun,
    result: IngestResult | None = None,
    error: str = "",
    empty_expected: bool = False,
) -> FetchRun:
    """Record how a run ended: counts and skipped items, or the error that stopped it."""
    run.finished_at = timezone.now()
    run.empty_expected = empty_expected
    if error:
        run.status = FetchRun.Status.FAILED
        run.error = error
    elif result is not None:
        run.new, run.updated, run.unchanged = result.new, result.updated, result.unchanged
        run.skipped = len(result.skipped)
        run.skipped_items = [
            {"position": s.position, "id": s.raw_id, "reason": s.reason} for s in result.skipped
        ]
        total = result.new + result.updated + result.unchanged
        run.status = FetchRun.Status.OK if total else FetchRun.Status.EMPTY
    run.save()
    return run
