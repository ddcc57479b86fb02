"""Celery tasks: thin wrappers that take ids or dates and call one service.

With no CELERY_BROKER_URL they run in-process (settings.CELERY_TASK_ALWAYS_EAGER).
"""

from __future__ import annotations

import logging
from datetime import date

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from digest.delivery import deliveries_expire_sending, deliveries_send
from digest.fetching import listing_fetch
from digest.planning import deliveries_plan_due

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
    return outcome


@shared_task(name="digest.send_batch", acks_late=True, reject_on_worker_lost=True)
def send_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Send one batch. Safe to run twice: only `queued` rows are claimed, one worker each."""
    return dict(deliveries_send(delivery_ids=delivery_ids).counts)


def enqueue_batches(ids: list[int]) -> int:
    chunks = batches(ids)
    for chunk in chunks:
        send_batch.delay(chunk)
    return len(chunks)


@shared_task(name="digest.plan_deliveries")
def plan_deliveries() -> int:
    """Hourly: rows for everyone due, then their batches enqueued (after the rows committed)."""
    deliveries_expire_sending()
    planned = deliveries_plan_due()
    return sum(enqueue_batches(ids) for ids in planned.values())
