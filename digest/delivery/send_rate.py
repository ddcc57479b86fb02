"""A global send rate: at most SEND_RATE_PER_SECOND messages per second across every worker,
and the provider's "slow down" (429 with Retry-After) obeyed by every worker.

Celery's `rate_limit` counts per worker process, so N processes send N times the limit. Here each
message first reserves the next free slot in one schedule shared by every process: a Redis key
holding the time of the next free slot (the GCRA "theoretical arrival time"), advanced atomically
by a Lua script. A provider's Retry-After sets a second key, a time before which no worker
claims another row. Without REDIS_URL (a laptop, one process) both live in the process.
See docs/delivery.md, "Rate limit".
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from django.conf import settings

from digest.delivery.sending_errors import send_error_retry_after

logger = logging.getLogger(__name__)

# KEYS[1]: next free slot, KEYS[2]: the provider's pause, both in microseconds of Redis' clock.
# ARGV[1]: slot length in microseconds (0: no rate limit, only the pause). Returns how long the
# caller must wait, in microseconds, before its reserved slot starts. The clock is Redis' own
# (TIME), so the workers' clocks need not agree.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local next_free = tonumber(redis.call('GET', KEYS[1]) or '0')
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if next_free < now then next_free = now end
if next_free < paused then next_free = paused end
if interval > 0 then
  redis.call('SET', KEYS[1], string.format('%d', next_free + interval), 'PX', 60000)
end
return next_free - now
"""

# KEYS[1]: the provider's pause. ARGV[1]: its length in microseconds from now. Only lengthens it.
_PAUSE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local until_ = now + tonumber(ARGV[1])
local paused = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > paused then
  local ttl = math.ceil(tonumber(ARGV[1]) / 1000) + 1000
  redis.call('SET', KEYS[1], string.format('%d', until_), 'PX', ttl)
end
return until_ - now
"""

_KEY = "digest:send-rate:next-slot"
_PAUSE_KEY = "digest:send-rate:paused-until"
# After Redis fails, each process limits itself for this long before trying it again: one
# warning an outage, not one a message, and no reconnection attempted for every message.
REDIS_RETRY_SECONDS = 10.0
# A Retry-After longer than this is not waited out inside a batch: the batch's transient errors
# stop it and the task's retry backoff takes over (a batch must end within its time limit).
MAX_PAUSE_SECONDS = 60.0


class SendRateLimiter:
    """Call `wait()` before each message; it sleeps until this message's slot comes, and through
    any pause a provider asked for (`pause_for()`)."""

    def __init__(self, per_second: float, redis_url: str = "") -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._client: Any = None
        if redis_url:
            # Every outbound call has a timeout; a slow Redis must not stall the batch.
            self._client = redis.Redis.from_url(
                redis_url, socket_timeout=2, socket_connect_timeout=2
            )
            self._reserve = self._client.register_script(_RESERVE)
            self._pause = self._client.register_script(_PAUSE)

    def wait(self) -> float:
        """Block until the next message may go; return the seconds slept."""
        delay = self._shared_delay() if self._client is not None else None
        if delay is None:
            delay = _local_delay(self.interval)
        if delay > 0:
            time.sleep(delay)
        return delay

    def _shared_delay(self) -> float | None:
        global _redis_down_since, _redis_retry_at
        if _redis_down_since and time.monotonic() < _redis_retry_at:
            return None
        try:
            micros = int(
                self._reserve(keys=[_KEY, _PAUSE_KEY], args=[int(self.interval * 1_000_000)])
            )
        except redis.RedisError as exc:
            # Redis away: keep sending at the per-process rate rather than stop the batch.
            with _local_lock:
                first = not _redis_down_since
                now = time.monotonic()
                _redis_down_since = _redis_down_since or now
                _redis_retry_at = now + REDIS_RETRY_SECONDS
            if first:
                logger.warning(
                    "send rate: Redis unavailable (%s), limiting per process; retrying every %gs",
                    exc,
                    REDIS_RETRY_SECONDS,
                )
            return None
        if _redis_down_since:
            with _local_lock:
                down_for, _redis_down_since = time.monotonic() - _redis_down_since, 0.0
            logger.info("send rate: Redis back after %.0fs, one limit for all again", down_for)
        return micros / 1_000_000

    def pause_for(self, exc: BaseException) -> float:
        """If `exc` is the provider saying "slow down" with a Retry-After, no worker claims
        another row until then (at most MAX_PAUSE_SECONDS); the seconds paused."""
        seconds = send_error_retry_after(exc)
        if seconds is None or seconds <= 0:
            return 0.0
        seconds = min(seconds, MAX_PAUSE_SECONDS)
        logger.warning("provider asked to wait %.1fs (Retry-After): every worker pauses", seconds)
        _local_pause(seconds)
        if self._client is not None:
            try:
                self._pause(keys=[_PAUSE_KEY], args=[int(seconds * 1_000_000)])
            except redis.RedisError as exc:
                logger.warning("send rate: Redis unavailable (%s), pausing this process", exc)
        return seconds

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


_local_lock = threading.Lock()
_local_next_free = 0.0
_local_paused_until = 0.0
# Per process (a batch makes its own limiter): since when Redis has failed (0: it has not), and
# when to try it again.
_redis_down_since = 0.0
_redis_retry_at = 0.0


def _local_delay(interval: float) -> float:
    global _local_next_free
    with _local_lock:
        now = time.monotonic()
        slot = max(now, _local_next_free, _local_paused_until)
        if interval:
            _local_next_free = slot + interval
        return slot - now


def _local_pause(seconds: float) -> None:
    global _local_paused_until
    with _local_lock:
        _local_paused_until = max(_local_paused_until, time.monotonic() + seconds)


def send_rate_limiter() -> SendRateLimiter:
    return SendRateLimiter(settings.SEND_RATE_PER_SECOND, settings.REDIS_URL)
