"""The dead-man's switch: each job pings an outside monitor when it succeeds or fails.

HEARTBEAT_URLS maps a job (fetch, plan, send) to a URL, pinged with a GET after a success and
with `/fail` appended after a failure, the convention of healthchecks.io, Uptime Kuma (push
monitors) and Cronitor. The monitor raises the alarm when a ping is late, which our own
scheduler cannot do when it is the thing that died. A ping that fails is logged and forgotten:
it never fails the job. Each success is also kept in the cache for /metrics.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

import httpx
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from digest.models import Delivery

logger = logging.getLogger(__name__)

JOBS = ("fetch", "plan", "send")
# The last success of each job lives this long in the cache (a week without one is an alarm).
SUCCESS_TTL = 14 * 24 * 3600


def _success_key(job: str) -> str:
    return f"monitoring:last-success:{job}"


def heartbeat_ping(*, job: str, ok: bool) -> bool:
    """GET the job's URL (`/fail` appended when not ok); True when the monitor answered 2xx."""
    url = settings.HEARTBEAT_URLS.get(job)
    if not url:
        return False
    if not ok:
        url = url.rstrip("/") + "/fail"
    try:
        response = httpx.get(url, timeout=settings.HEARTBEAT_TIMEOUT)
        response.raise_for_status()
    except httpx.HTTPError as exc:  # the monitor's outage is not ours: log, carry on
        logger.warning("heartbeat %s not delivered: %s", job, exc)
        return False
    return True


def job_succeeded(*, job: str, at: dt.datetime | None = None) -> None:
    at = at or timezone.now()
    try:
        cache.set(_success_key(job), at.timestamp(), timeout=SUCCESS_TTL)
    except Exception as exc:  # a cache outage must not fail the job it reports on
        logger.warning("last success of %s not recorded: %s", job, exc)
    heartbeat_ping(job=job, ok=True)


def job_failed(*, job: str) -> None:
    heartbeat_ping(job=job, ok=False)


def last_successes(jobs: Iterable[str] = JOBS) -> dict[str, dt.datetime | None]:
    keys = {_success_key(job): job for job in jobs}
    try:
        found = cache.get_many(list(keys))
    except Exception as exc:
        logger.warning("last successes not read: %s", exc)
        found = {}
    return {
        job: dt.datetime.fromtimestamp(found[key], tz=dt.UTC) if key in found else None
        for key, job in keys.items()
    }


def send_days_settled(*, delivery_ids: list[int]) -> list[dt.date]:
    """After a batch: each of its digest days with no row left queued or sending has its send
    completed (readers in later time zones open it again later: each completion pings, and two
    last batches finishing together ping twice, which a monitor takes as one). Returns them."""
    days = set(
        Delivery.objects.filter(id__in=delivery_ids)
        .values_list("digest_date", flat=True)
        .distinct()
        .order_by()
    )
    done = []
    for day in sorted(days):
        still_open = Delivery.objects.filter(
            digest_date=day, status__in=(Delivery.Status.QUEUED, Delivery.Status.SENDING)
        ).exists()
        if not still_open:
            job_succeeded(job="send")
            done.append(day)
    return done
