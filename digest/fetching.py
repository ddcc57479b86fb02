"""Fetch one source's listing for a day, upsert it, and record the run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from pathlib import Path

from digest.ingest import IngestResult, fetch_run_finish, fetch_run_start, papers_upsert
from digest.models import FetchRun, Paper
from digest.sources.http import FetchError
from digest.sources.records import Listing

logger = logging.getLogger(__name__)

SOURCES = (Paper.Source.HF, Paper.Source.ARXIV, Paper.Source.SNAPSHOT)


def _load(source: str, day: date, file: Path | None) -> Listing:
    if source == Paper.Source.SNAPSHOT:
        from digest.sources.snapshot import SNAPSHOT_PATH, load_snapshot

        return load_snapshot(listed_on=day, path=file or SNAPSHOT_PATH)
    raise FetchError(f"unknown source {source!r}")


def listing_fetch(
    *,
    source: str,
    day: date,
    file: Path | None = None,
    loader: Callable[[str, date, Path | None], Listing] = _load,
) -> tuple[FetchRun, IngestResult | None]:
    """Fetch and upsert; a failed fetch records the error and changes no paper."""
    run = fetch_run_start(source=source, for_date=day)
    try:
        listing = loader(source, day, file)
    except FetchError as exc:
        logger.error("fetch %s %s failed: %s", source, day, exc)
        return fetch_run_finish(run=run, error=str(exc)), None
    result = papers_upsert(records=listing.records, listed_on=day)
    result.skipped.extend(listing.skipped)
    expected_empty = day.weekday() >= 5
    run = fetch_run_finish(run=run, result=result, empty_expected=expected_empty)
    if run.status == FetchRun.Status.EMPTY:
        log = logger.info if expected_empty else logger.warning
        log("fetch %s %s: empty listing%s", source, day, " (weekend)" if expected_empty else "")
    for item in listing.skipped:
        logger.info(
            "fetch %s %s: skipped item %s (%s): %s",
            source,
            day,
            item.position,
            item.raw_id or "no id",
            item.reason,
        )
    return run, result
