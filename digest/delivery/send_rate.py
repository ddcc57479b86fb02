"""A global send rate: at most SEND_RATE_PER_SECOND messages per second across every worker.

Celery's `rate_limit` counts per worker process, so N processes send N times the limit. Here each
message first reserves the next free slot in one schedule shared by every process: a Redis key
holding the time of the next free slot (the GCRA "theoretical arrival time"), advanced atomically
by a Lua script. Without REDIS_URL (a laptop, one process) the schedule lives in the process.
See docs/delivery.md, "Rate limit".
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

# KEYS[1]: next free slot, in microseconds of Redis' clock. ARGV[1]: slot length in microseconds.
# Returns how long the caller must wait, in microseconds, before its reserved slot starts.
# The clock is Redis' own (TIME), so the workers' clocks need not agree.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
if next_free < now then next_free = now end
redis.call('SET', KEYS[1], string.format('%d', next_free + interval), 'PX', 60000)
return next_free - now
"""

_KEY = "digest:send-rate:next-slot"


class SendRateLimiter:
    """Call `wait()` before each message; it sleeps until this message's slot comes."""

    def __init__(self, per_second: float, redis_url: str = "") -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._client: Any = None
        if self.interval and redis_url:
            # Every outbound call has a timeout; a slow Redis must not stall the batch.
            self._client = redis.Redis.from_url(
                redis_url, socket_timeout=2, socket_connect_timeout=2
            )
            self._reserve = self._client.register_script(_RESERVE)

    def wait(self) -> float:
        """Block until the next message may go; return the seconds slept."""
        if not self.interval:
            return 0.0
        delay = self._shared_delay() if self._client is not None else None
        if delay is None:
            delay = _local_delay(self.interval)
        if delay > 0:
            time.sleep(delay)
        return delay

    def _shared_delay(self) -> float | None:
        try:
            micros = int(self._reserve(keys=[_KEY], args=[int(self.interval * 1_000_000)]))
        except redis.RedisError as exc:
            # Redis away: keep sending at the per-process rate rather than stop the batch.
            logger.warning("send rate: Redis unavailable (%s), limiting per process", exc)
            return None
        return micros / 1_000_000

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


_local_lock = threading.Lock()
_local_next_free = 0.0


def _local_delay(interval: float) -> float:
    global _local_next_free
    with _local_lock:
        now = time.monotonic()
        slot = max(now, _local_next_free)
        _local_next_free = slot + interval
        return slot - now


def send_rate_limiter() -> SendRateLimiter:
    return SendRateLimiter(settings.SEND_RATE_PER_SECOND, settings.REDIS_URL)
