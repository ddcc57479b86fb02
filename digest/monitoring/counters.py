"""Counters of things that happen in worker processes (messages sent, tasks failed), kept in
Redis so that /metrics, served by another process on another container, sums every worker.

Why Redis and not prometheus-client's multiprocess mode: that mode sums the processes that share
one PROMETHEUS_MULTIPROC_DIR on one machine, but our workers run in other containers (and, to
grow, on other machines) than the web process that answers the scrape; Redis is already the
broker every one of them reaches. One HINCRBY per batch or failed task, one HGETALL per scrape.
A lost Redis resets the counters, which Prometheus' rate() reads as a counter reset.
Without REDIS_URL (the laptop) nothing is counted: there is no process to scrape anyway.
"""

from __future__ import annotations

import json
import logging
from functools import cache

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

KEY = "digest:metrics:counters"
Labels = tuple[tuple[str, str], ...]


@cache
def _client(url: str) -> redis.Redis:
    # Short timeouts: a counter is never worth holding a send or a scrape.
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _field(name: str, labels: dict[str, str]) -> str:
    return json.dumps([name, sorted(labels.items())], separators=(",", ":"))


def counter_add(name: str, amount: int = 1, **labels: str) -> None:
    """Add `amount` to the counter `name` with these labels; never raises."""
    if not settings.REDIS_URL or amount <= 0:
        return
    try:
        _client(settings.REDIS_URL).hincrby(KEY, _field(name, labels), amount)
    except redis.RedisError as exc:
        logger.warning("counter %s not counted: %s", name, exc)


def counters_read() -> dict[str, dict[Labels, int]]:
    """Every counter: name -> {labels: value}. Empty without Redis or when it does not answer."""
    if not settings.REDIS_URL:
        return {}
    try:
        raw = _client(settings.REDIS_URL).hgetall(KEY)
    except redis.RedisError as exc:
        logger.warning("counters not read: %s", exc)
        return {}
    out: dict[str, dict[Labels, int]] = {}
    for field, value in raw.items():
        name, labels = json.loads(field)
        out.setdefault(name, {})[tuple((k, v) for k, v in labels)] = int(value)
    return out
