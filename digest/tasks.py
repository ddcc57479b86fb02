"""Celery tasks: thin wrappers that take ids or dates and call one service.

With no CELERY_BROKER_URL they run in-process (settings.CELERY_TASK_ALWAYS_EAGER).
"""

from __future__ import annotations

import logging
import math
import random
from datetime import date, timedelta
from functools import partial

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from digest.delivery.batch import (
    deliveries_expire_sending,
    deliveries_mark_enqueued,
    deliveries_send,
    deliveries_take_for_enqueue,
    when_database_is_back,
)
from digest.delivery.planning import deliveries_plan_due
from digest.following.refresh import RefreshBusy, followed_refresh
from digest.models import FetchRun
from digest.monitoring.celery_signals import messages_count
from digest.monitoring.health import daily_health_report
from digest.monitoring.heartbeats import job_failed, job_succeeded, send_days_settled
from digest.papers.fetching import listing_fetch, trending_refresh

logger = logging.getLogger(__name__)


def batches(ids: list[int], size: int | None = None) -> list[list[int]]:
    size = size or settings.DIGEST_BATCH_SIZE
    return [ids[i : i + size] for i in range(0, len(ids), size)]


@shared_task(name="digest.fetch_day")
def fetch_day(day: str | None = None, sources: list[str] | None = None) -> dict[str, str]:
    """The daily fetch: each configured source for the day (default today, UTC)."""
    for_date = date.fromisoformat(day) if day else timezone.now().date()
    outcome = {}
    for source in sources or ["hf", "arxiv"]:
        run, _ = listing_fetch(source=source, day=for_date)
        outcome[source] = run.status
    # The heartbeat: a failed source is a failed fetch (an empty weekend day is not).
    if FetchRun.Status.FAILED in outcome.values():
        job_failed(job="fetch")
    else:
        job_succeeded(job="fetch")
    return outcome


# The database stayed away longer than the batch waits for it (DATABASE_WAIT_SECONDS): retry the
# task, with exponential backoff and full jitter (2 s, 4 s, 8 s, ... at most a minute). Safe for
# the batch because its claim is idempotent: a row whose claim did not commit is still `queued`,
# a row already claimed or sent is skipped. Celery's Django fixup closes the connections around
# every task, so the retry starts on a new one.
DATABASE_ERRORS = (OperationalError, InterfaceError)
DATABASE_RETRY_BACKOFF, DATABASE_RETRY_BACKOFF_MAX = 2, 60


def retry_countdown(retries: int, *, retry_after: float = 0) -> int:
    """Exponential backoff with full jitter (so retries of many batches do not arrive together),
    never shorter than the provider's Retry-After and never longer than
    DELIVERY_RETRY_BACKOFF_MAX, which settings keep below Redis' visibility timeout."""
    ceiling = min(settings.DELIVERY_RETRY_BACKOFF * 2**retries, settings.DELIVERY_RETRY_BACKOFF_MAX)
    countdown = max(random.uniform(ceiling / 2, ceiling), retry_after)
    return max(1, math.ceil(min(countdown, settings.DELIVERY_RETRY_BACKOFF_MAX)))


@shared_task(
    bind=True,
    name="digest.send_batch",
    # Safe to run twice (only `queued` rows are claimed), so the message is acknowledged only
    # after the batch, and a worker killed mid-batch gives it back to the queue.
    acks_late=True,
    reject_on_worker_lost=True,
    # Per-row attempts bound the real work (DELIVERY_MAX_ATTEMPTS); this bounds the chain. Rows
    # still queued after the last retry are enqueued again by the planner.
    max_retries=12,
    autoretry_for=DATABASE_ERRORS,
    retry_backoff=DATABASE_RETRY_BACKOFF,
    retry_backoff_max=DATABASE_RETRY_BACKOFF_MAX,
    retry_jitter=True,
)
def send_batch(self: Task, delivery_ids: list[int]) -> dict[str, int]:
    """Send one batch; retry it with backoff while transient errors leave rows queued."""
    # A database restart is waited out here, on this batch; past DATABASE_WAIT_SECONDS the error
    # goes to Celery's retry (autoretry_for above).
    report = when_database_is_back(
        partial(deliveries_send, delivery_ids=delivery_ids), what="sending a batch"
    )
    messages_count(report.counts)
    if (
        report.pending
        and not self.request.is_eager
        and self.request.retries < (self.max_retries or 0)
    ):
        countdown = retry_countdown(self.request.retries, retry_after=report.retry_after)
        deliveries_mark_enqueued(ids=delivery_ids, at=timezone.now() + timedelta(seconds=countdown))
        logger.info("batch: %d rows left queued, retrying in %ds", report.pending, countdown)
        raise self.retry(countdown=countdown)
    # In-process (no broker) there is nobody to retry later but the next planner run, which
    # picks the rows up as stale; that is also what happens after the last retry.
    send_days_settled(delivery_ids=delivery_ids)
    return dict(report.counts)


def enqueue_batches(
    ids: list[int] | None = None,
    *,
    requeue_after: float | None = None,
    every_queued: bool = False,
) -> int:
    """Enqueue batches for the rows that need a broker message (new or lost ones, see
    `deliveries_take_for_enqueue`, which takes the keyword arguments), after the current
    transaction commits. With `ids`, only those rows; without, every queued row that needs one.
    Returns the number of batches."""
    taken = deliveries_take_for_enqueue(
        ids=ids, requeue_after=requeue_after, every_queued=every_queued
    )
    chunks = batches(taken)
    for chunk in chunks:
        # After commit, so a worker never looks for rows it cannot see yet; robust, so one
        # failed publish (broker away) does not drop the others: its rows are stamped and the
        # next planner run enqueues them again.
        transaction.on_commit(partial(send_batch.delay, chunk), robust=True)
    return len(chunks)


@shared_task(
    name="digest.plan_deliveries",
    max_retries=8,
    autoretry_for=DATABASE_ERRORS,
    retry_backoff=DATABASE_RETRY_BACKOFF,
    retry_backoff_max=DATABASE_RETRY_BACKOFF_MAX,
    retry_jitter=True,
)
def plan_deliveries() -> int:
    """Hourly: rows for everyone due and batches for every queued row that needs one, in one
    transaction; the batches go to the broker after it commits."""
    with transaction.atomic():
        deliveries_expire_sending()
        deliveries_plan_due()
        batches_enqueued = enqueue_batches()
    job_succeeded(job="plan")  # its failure is counted and pinged by the task_failure signal
    return batches_enqueued


@shared_task(name="digest.check_health")
def check_health() -> list[str]:
    """Hourly: warn operators (log at error, email ADMINS) when today's fetch or send is missing."""
    return [warning.title for warning in daily_health_report()]


@shared_task(name="digest.refresh_trending")
def refresh_trending() -> list[str]:
    """Through the day: re-read the last few days of the Hugging Face list, so the trending
    order follows the upvotes that keep coming in after a paper is listed."""
    return [f"{run.for_date}:{run.status}" for run in trending_refresh()]


@shared_task(name="digest.refresh_followed")
def refresh_followed() -> str:
    """Hourly: a share of the followed papers still due today (1/24 at 00:xx, all at 23:xx), so
    each is read once a day and the requests spread over the day."""
    hour = timezone.now().hour
    try:
        return followed_refresh(share=1 / (24 - hour)).summary()
    except RefreshBusy as exc:  # the previous hour's run (or the command) is still going
        logger.warning("refresh_followed skipped: %s", exc)
        return f"skipped: {exc}"
