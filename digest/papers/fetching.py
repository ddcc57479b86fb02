"""Fetch one source's listing for a day, upsert it, and record the run.

Whatever goes wrong while reading a source (timeouts, HTTP errors after the retries, a body that
is not JSON or Atom) is a FetchError: the run is recorded as failed and no paper is touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from django.utils import timezone

from digest.logging import log_context
from digest.models import FetchRun, Paper
from digest.papers.freshness import fetch_run_mark_freshness
from digest.papers.ingest import IngestResult, fetch_run_finish, fetch_run_start, papers_upsert
from digest.sources.http import FetchError
from digest.sources.records import Listing

logger = logging.getLogger(__name__)

SOURCES = (Paper.Source.HF, Paper.Source.ARXIV, Paper.Source.SNAPSHOT)
# The trending order depends on upvotes, which keep rising for days after a paper is listed.
TRENDING_REFRESH_DAYS = 3

Loader = Callable[[str, date, Path | None], Listing]


def load_listing(source: str, day: date, file: Path | None = None) -> Listing:
    """Read one source's listing for `day` (network for hf and arxiv, the bundled file else)."""
    if source == Paper.Source.HF:
        from digest.sources.hf import fetch_hf_day_from_settings

        return fetch_hf_day_from_settings(day)
    if source == Paper.Source.ARXIV:
        from digest.sources.arxiv import fetch_arxiv_day_from_settings

        return fetch_arxiv_day_from_settings(day)
    if source == Paper.Source.SNAPSHOT:
        from digest.sources.snapshot import SNAPSHOT_PATH, load_snapshot

        return load_snapshot(listed_on=day, path=file or SNAPSHOT_PATH)
    raise FetchError(f"unknown source {source!r}")


def empty_is_expected(source: str, day: date) -> bool:
    """Nothing is listed on weekends (arXiv announces Sunday to Thursday evenings, US Eastern,
    which are the listing days Monday to Friday). A holiday cannot be told from a fault here,
    so an empty weekday is reported as a warning."""
    return day.weekday() >= 5


def listing_fetch(
    *,
    source: str,
    day: date,
    file: Path | None = None,
    loader: Loader = load_listing,
    seen_on: date | None = None,
) -> tuple[FetchRun, IngestResult | None]:
    """Fetch and upsert; a failed fetch records the error and changes no paper. Changes found
    are events seen on `seen_on` (default `day`)."""
    run = fetch_run_start(source=source, for_date=day)
    # Every line logged during the fetch (sources, ingest) names the run.
    with log_context(fetch_run_id=run.pk):
        try:
            listing = loader(source, day, file)
        except FetchError as exc:
            logger.error("fetch %s %s failed: %s", source, day, exc)
            return fetch_run_finish(run=run, error=str(exc)), None
        result = papers_upsert(
            records=listing.records,
            listed_on=day,
            relist=source == Paper.Source.SNAPSHOT,
            seen_on=seen_on,
        )
        result.skipped.extend(listing.skipped)
        expected = empty_is_expected(source, day)
        run = fetch_run_finish(run=run, result=result, empty_expected=expected)
        run = fetch_run_mark_freshness(run=run, records=listing.records)
        if run.stale == FetchRun.Stale.REPEAT:
            logger.warning("fetch %s %s: the same list as the day before", source, day)
        elif run.stale == FetchRun.Stale.NO_MAILING:
            logger.warning("fetch %s %s: no mailing announced (a holiday?)", source, day)
        elif run.status == FetchRun.Status.EMPTY:
            if expected:
                logger.info("fetch %s %s: empty listing, as expected on a weekend", source, day)
            else:
                logger.warning("fetch %s %s: empty listing on a weekday", source, day)
        return run, result


def trending_refresh(
    *, today: date | None = None, days: int = TRENDING_REFRESH_DAYS
) -> list[FetchRun]:
    """Re-read the last few days of the Hugging Face list so upvotes stay current."""
    today = today or timezone.now().date()
    return [
        listing_fetch(source=Paper.Source.HF, day=today - timedelta(days=n), seen_on=today)[0]
        for n in range(days)
    ]
