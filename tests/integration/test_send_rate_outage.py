"""The shared send rate through a Redis outage: one warning, each process limits itself, no
message waits on Redis, and the shared limit is back once Redis is. A redis-server of the
test's own, stopped and started again."""

from __future__ import annotations

import logging
import time

import pytest

from digest.delivery import send_rate
from tests.integration.conftest import RedisServer

pytestmark = pytest.mark.services

RATE = 50  # messages per second: a slot every 20 ms


@pytest.fixture
def server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch):
    # Another test's outage or slots must not carry over (they are per process).
    monkeypatch.setattr(send_rate, "_redis_down_since", 0.0, raising=False)
    monkeypatch.setattr(send_rate, "_redis_retry_at", 0.0, raising=False)
    monkeypatch.setattr(send_rate, "_local_next_free", 0.0)
    monkeypatch.setattr(send_rate, "_local_paused_until", 0.0)
    monkeypatch.setattr(send_rate, "REDIS_RETRY_SECONDS", 1.0, raising=False)


def _send(limiter: send_rate.SendRateLimiter, messages: int) -> float:
    started = time.monotonic()
    for _ in range(messages):
        limiter.wait()
    return time.monotonic() - started


def test_a_redis_outage_warns_once_and_the_rate_still_holds(server, caplog):
    caplog.set_level(logging.INFO, logger=send_rate.__name__)
    limiter = send_rate.SendRateLimiter(RATE, server.url)
    _send(limiter, 5)
    server.stop()

    # Hundreds of messages' worth of waits: one warning, and each process keeps to the rate.
    elapsed = _send(limiter, 25)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "Redis unavailable" in warnings[0].getMessage()
    assert 24 / RATE <= elapsed < 25 / RATE + 0.5

    # A batch makes its own limiter: the outage is remembered by the process, not re-announced.
    _send(send_rate.SendRateLimiter(RATE, server.url), 5)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    server.start()  # the same port
    time.sleep(send_rate.REDIS_RETRY_SECONDS)
    caplog.clear()
    _send(limiter, 3)
    assert [r.getMessage() for r in caplog.records if "back after" in r.getMessage()]
    # The shared schedule is in use again: a second limiter (another process's) queues behind.
    other = send_rate.SendRateLimiter(RATE, server.url)
    assert other._shared_delay() is not None
    limiter.close()
    other.close()


def test_while_redis_is_down_no_message_waits_for_it(server, monkeypatch):
    """Without the pause between retries every message would try Redis again; with Redis
    unreachable (not refusing), each try would wait for the connect timeout."""
    limiter = send_rate.SendRateLimiter(0, server.url)  # no rate: only the provider's pause
    server.stop()
    tries = 0
    reserve = limiter._reserve

    def counted(*args, **kwargs):
        nonlocal tries
        tries += 1
        return reserve(*args, **kwargs)

    monkeypatch.setattr(limiter, "_reserve", counted)
    assert _send(limiter, 200) < 0.5
    assert tries == 1
    limiter.close()
