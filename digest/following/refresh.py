"""The daily refresh of followed papers: what changed since yesterday becomes PaperEvents.

Papers on the recent Daily Papers lists are refreshed by those lists (fetching.trending_refresh);
every followed paper is also read here once a day: its arXiv version in batches of `id_list`
(100 ids per request, the 3-second etiquette) and, when it is older than those lists, its
Hugging Face paper page (one request each). Beat runs this hourly with a share of what is still
due, so the requests spread over the day; `manage.py refresh_followed` runs the rest at once.

A paper whose arXiv batch or Hugging Face request failed changes nothing today; it is marked as
tried, so it is retried the next day rather than hammered within the day. One refresh runs at a
time (a lock in the shared cache), so the command and an hourly run never ask twice.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from digest.models import Paper
from digest.papers.fetching import TRENDING_REFRESH_DAYS
from digest.papers.ingest import papers_upsert
from digest.sources.arxiv import ID_LIST_MAX, fetch_arxiv_ids
from digest.sources.hf import fetch_hf_paper
from digest.sources.http import FetchError, HttpFetcher, shared_rate_limiter
from digest.sources.records import PaperRecord
from subscriptions.feedback.follows import follows_end_withdrawn
from subscriptions.feedback.selectors import followed_paper_ids

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

LOCK_KEY = "digest.followed_refresh.lock"
# Longer than any run (10,000 papers take minutes); a crashed run's lock expires by then.
LOCK_SECONDS = 3 * 3600


class RefreshBusy(Exception):
    """Another refresh of followed papers is running."""


@dataclass(slots=True)
class RefreshReport:
    day: date
    due: int = 0
    papers: int = 0
    hf_requests: int = 0
    arxiv_requests: int = 0
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    events: int = 0
    updated: int = 0
    follows_ended: int = 0

    def summary(self) -> str:
        return (
            f"{self.papers} of {self.due} followed papers refreshed for {self.day}: "
            f"{self.updated} updated, {self.events} events, {len(self.failed)} failed "
            f"(retried tomorrow), {self.follows_ended} follows ended; "
            f"{self.hf_requests} Hugging Face and {self.arxiv_requests} arXiv requests"
        )


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def followed_due(*, day: date) -> list[Paper]:
    """Followed papers (an active follow, not withdrawn) not yet refreshed or tried on `day`."""
    followed = followed_paper_ids(at=day_start(day))
    return list(
        Paper.objects.filter(pk__in=followed, withdrawn_at__isnull=True)
        .filter(Q(refreshed_on__isnull=True) | Q(refreshed_on__lt=day))
        .order_by("pk")
        .only("pk", "arxiv_id", "listed_on")
    )


def share_size(due: int, share: float) -> int:
    """How many of `due` papers to take for a `share` of what remains, in whole arXiv batches
    (so the day's arXiv requests stay at one per 100 papers, however it is sliced)."""
    if share >= 1 or due == 0:
        return due
    wanted = math.ceil(due * share)
    return min(due, math.ceil(wanted / ID_LIST_MAX) * ID_LIST_MAX)


def followed_refresh(
    *,
    day: date | None = None,
    share: float = 1.0,
    fetcher: HttpFetcher | None = None,
    progress: Progress | None = None,
) -> RefreshReport:
    """Refresh a `share` (1.0: all) of the followed papers still due on `day` (default today)."""
    day = day or timezone.now().date()
    token = uuid.uuid4().hex
    if not cache.add(LOCK_KEY, token, timeout=LOCK_SECONDS):
        raise RefreshBusy("another refresh of followed papers is running; try again later")
    try:
        return _refresh_due(day, share, fetcher, progress)
    finally:
        if cache.get(LOCK_KEY) == token:
            cache.delete(LOCK_KEY)


def _refresh_due(
    day: date, share: float, fetcher: HttpFetcher | None, progress: Progress | None
) -> RefreshReport:
    due = followed_due(day=day)
    report = RefreshReport(day=day, due=len(due))
    papers = due[: share_size(len(due), share)]
    if not papers:
        report.follows_ended = follows_end_withdrawn()
        return report
    if fetcher is None:
        with HttpFetcher.from_settings() as own:
            return _refresh(papers, day, own, report, progress)
    return _refresh(papers, day, fetcher, report, progress)


def _refresh(
    papers: list[Paper],
    day: date,
    fetcher: HttpFetcher,
    report: RefreshReport,
    progress: Progress | None,
) -> RefreshReport:
    say = progress or (lambda line: None)
    ids = [paper.arxiv_id for paper in papers]
    failed: set[str] = set()
    from_arxiv: list[PaperRecord] = []
    from_hf: list[PaperRecord] = []

    limiter = shared_rate_limiter("arxiv", settings.ARXIV_REQUEST_INTERVAL)
    batches = fetch_arxiv_ids(
        ids, base_url=settings.ARXIV_API_URL, fetcher=fetcher, limiter=limiter, listed_on=day
    )
    for batch, outcome in batches:
        report.arxiv_requests += 1
        if isinstance(outcome, FetchError):
            failed.update(batch)
            report.errors.append(str(outcome))
        else:
            wanted = set(batch)
            from_arxiv.extend(r for r in outcome.records if r.arxiv_id in wanted)
        say(f"arXiv: {report.arxiv_requests} requests, {len(from_arxiv)} papers")

    # Papers on the recent lists are refreshed by them (fetching.trending_refresh).
    listed_after = day - timedelta(days=TRENDING_REFRESH_DAYS)
    for n, paper in enumerate(p for p in papers if p.listed_on <= listed_after):
        report.hf_requests += 1
        try:
            record = fetch_hf_paper(
                paper.arxiv_id,
                url_template=settings.HF_PAPER_API_URL,
                fetcher=fetcher,
                listed_on=day,
            )
        except FetchError as exc:
            failed.add(paper.arxiv_id)
            report.errors.append(str(exc))
            continue
        if record is not None:
            from_hf.append(record)
        if (n + 1) % 100 == 0:
            say(f"Hugging Face: {n + 1} papers")

    results = [
        papers_upsert(
            records=[r for r in records if r.arxiv_id not in failed], listed_on=day, seen_on=day
        )
        for records in (from_arxiv, from_hf)
    ]
    # Tried today, whatever the outcome: at most one request per paper and day.
    Paper.objects.filter(pk__in=[p.pk for p in papers]).update(refreshed_on=day)
    report.papers = len(papers) - len(failed)
    report.failed = sorted(failed)
    report.events = sum(r.events for r in results)
    report.updated = sum(r.updated for r in results)  # a paper updated by both counts twice
    report.follows_ended = follows_end_withdrawn()
    for error in report.errors:
        logger.warning("followed refresh %s: %s", day, error)
    logger.info("followed refresh: %s", report.summary())
    return report
