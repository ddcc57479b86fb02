"""Is beat alive, and does a worker answer? Checked from outside the scheduler.

Beat writes a timestamp into the cache (Redis in production, so every container reads it) from
its own scheduler loop at each wake-up, at least once a minute (CELERY_BEAT_MAX_LOOP_INTERVAL):
a beat that is stopped, hung or cut off from Redis stops writing. `manage.py beat_alive` (the
beat container's health check) and /healthz?deep=1 call it dead past BEAT_STALE_SECONDS. A beat
entry would not do: it runs on a worker, and proves nothing when beat is the thing that died.

Workers: /healthz?deep=1 pings them over the broker (Celery's remote control, one second), and
keeps the time of the last answer, so a busy moment in the last few minutes is not an outage.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

BEAT_KEY = "monitoring:beat-alive"
WORKER_KEY = "monitoring:worker-answered"
WRITE_EVERY = 1.0  # at most one write a second when many entries fall due together
WORKER_STALE_SECONDS = 300  # "recently" for a worker's answer
KEEP = 7 * 24 * 3600  # the timestamps outlive the process, so a dead beat shows its last minute


def beat_alive_record(at: float | None = None) -> None:
    cache.set(BEAT_KEY, at if at is not None else time.time(), timeout=KEEP)


def _age(key: str) -> float | None:
    value = cache.get(key)
    return None if value is None else max(time.time() - float(value), 0.0)


def beat_age() -> float | None:
    """Seconds since beat last wrote its timestamp; None if it never did (or the cache lost it)."""
    return _age(BEAT_KEY)


def beat_is_alive() -> bool:
    age = beat_age()
    return age is not None and age <= settings.BEAT_STALE_SECONDS


class LivenessScheduler(PersistentScheduler):
    """Celery's default scheduler (its schedule file, catch-up after a restart) that also writes
    beat's timestamp from its loop."""

    _written = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if now - self._written >= WRITE_EVERY:
            try:
                beat_alive_record()
                self._written = now
            except Exception as exc:  # the cache away must not stop the schedule
                logger.warning("beat's liveness timestamp not written: %s", exc)
        return float(super().tick(*args, **kwargs))


def workers_answered() -> tuple[bool, dt.datetime | None]:
    """Did some worker answer a ping within WORKER_STALE_SECONDS? Pings now (1 s) only when the
    last answer is older than a minute. Returns the answer and when the last one came."""
    from config.celery import app

    age = _age(WORKER_KEY)
    if age is None or age > 60:
        try:
            answers = app.control.ping(timeout=1.0)
        except Exception as exc:  # broker away: the broker check names that
            logger.warning("worker ping failed: %s", exc)
            answers = []
        if answers:
            cache.set(WORKER_KEY, time.time(), timeout=KEEP)
            age = 0.0
    when = None if age is None else dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age)
    return age is not None and age <= WORKER_STALE_SECONDS, when
