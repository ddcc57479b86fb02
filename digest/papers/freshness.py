"""Upstream freshness: a source that answered but served nothing new.

Two cases, each silent otherwise (a paper keeps its first listing day, so a list served again
adds nothing and the day just shrinks):

- the list is the previous listing day's again (same arXiv ids), which Hugging Face or a cache
  in front of it can do: flagged `repeat`;
- arXiv announces no mailing (its holidays, https://info.arxiv.org/help/availability.html): the
  API answers a weekday's query with no entries at all. Flagged `no_mailing`; a category list
  that matches nothing looks the same, which the run's page says.

The run records it (FetchRun.stale); the admin banner, /metrics and readers' digests read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

from digest.models import FetchRun, Paper
from digest.sources.records import PaperRecord


def listing_fingerprint(records: Iterable[PaperRecord]) -> str:
    """sha256 of the sorted, distinct arXiv ids; empty for an empty listing."""
    ids = sorted({record.arxiv_id for record in records})
    return hashlib.sha256("\n".join(ids).encode()).hexdigest() if ids else ""


def listing_staleness(*, run: FetchRun, fingerprint: str) -> str:
    """How fresh this run's listing is: "" (fresh), "repeat" or "no_mailing"."""
    if not fingerprint:
        if run.source == Paper.Source.ARXIV and not run.empty_expected:
            return FetchRun.Stale.NO_MAILING
        return FetchRun.Stale.FRESH
    if run.source == Paper.Source.SNAPSHOT:  # the demo's bundled list, the same every day
        return FetchRun.Stale.FRESH
    previous = (
        FetchRun.objects.filter(
            source=run.source, for_date__lt=run.for_date, status=FetchRun.Status.OK
        )
        .exclude(fingerprint="")
        .order_by("-for_date", "-started_at")
        .values_list("fingerprint", flat=True)
        .first()
    )
    return FetchRun.Stale.REPEAT if previous == fingerprint else FetchRun.Stale.FRESH


def fetch_run_mark_freshness(*, run: FetchRun, records: Iterable[PaperRecord]) -> FetchRun:
    """Record the listing's fingerprint and whether it brought anything new."""
    run.fingerprint = listing_fingerprint(records)
    run.stale = listing_staleness(run=run, fingerprint=run.fingerprint)
    run.save(update_fields=["fingerprint", "stale"])
    return run


def stale_sources(*, day: date) -> list[tuple[str, str]]:
    """(source, flag) of each source whose latest finished run for `day` was flagged: a later
    run (the trending refresh, a refetch by hand) that found a fresh list clears it."""
    latest: dict[str, str] = {}
    runs = FetchRun.objects.filter(for_date=day).exclude(
        status__in=[FetchRun.Status.FAILED, FetchRun.Status.RUNNING]
    )
    for source, stale in runs.order_by("started_at").values_list("source", "stale"):
        latest[source] = stale
    return [(source, stale) for source, stale in sorted(latest.items()) if stale]


STALE_NOTES: dict[tuple[str, str], str] = {
    (Paper.Source.HF, FetchRun.Stale.REPEAT): (
        "Hugging Face served the day before's list again, so there are no new trending papers"
    ),
    (Paper.Source.ARXIV, FetchRun.Stale.REPEAT): (
        "arXiv served the day before's listing again, so fewer new papers came in"
    ),
    (Paper.Source.ARXIV, FetchRun.Stale.NO_MAILING): (
        "arXiv announced no new papers (a holiday, most likely)"
    ),
}


def stale_note(*, source: str, stale: str) -> str:
    return STALE_NOTES.get((source, stale), f"{source}: {FetchRun.Stale(stale).label}")


def upstream_note(*, day: date) -> str:
    """One sentence for readers when a source served nothing new on `day` ("" when all is
    well), so a short digest says why instead of silently shrinking."""
    notes = [stale_note(source=source, stale=stale) for source, stale in stale_sources(day=day)]
    return "; ".join(notes) + " today." if notes else ""
