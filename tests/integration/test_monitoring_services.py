"""Monitoring against real processes: counters summed across two `celery worker` processes,
beat's liveness seen and lost when a real `celery beat` is stopped, and /healthz?deep=1's
worker check (PostgreSQL, our own redis-server)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from config.celery import app
from digest.models import Delivery
from tests.integration.conftest import (
    CELERY,
    MANAGE,
    ROOT,
    RedisServer,
    Worker,
    make_subscribers,
    settled,
)
from tests.support.real_services import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
TOKEN = "metrics-token"
SMTP_BACKEND = "digest.delivery.mail_backends.SMTPBackend"


@pytest.fixture
def on_our_redis(settings, redis_server: RedisServer) -> Iterator[None]:
    """This process reads what the workers and beat write: the same Redis as broker and cache."""
    settings.CELERY_BROKER_URL = redis_server.url
    settings.REDIS_URL = redis_server.url
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
        }
    }
    settings.METRICS_TOKEN = TOKEN
    app.conf.update(broker_url=redis_server.url)
    _drop_connection_pools()
    yield
    app.conf.update(broker_url=None)
    _drop_connection_pools()


def _drop_connection_pools() -> None:
    """The app makes its connection and producer pools once per process, bound to the broker of
    that moment: after an earlier test's broker (or a restart), this test's pings would go to a
    dead connection and no worker would ever answer. Celery drops both after a fork the same way
    (Celery._after_fork)."""
    pool = app.__dict__.get("_pool")
    if pool is not None:
        pool.force_close_all()
    app.__dict__["_pool"] = None
    with contextlib.suppress(AttributeError, KeyError):
        app.__dict__["amqp"]._producer_pool = None


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def second_worker(worker: Worker, name: str) -> Worker:
    return Worker(
        env=worker.env,
        log=worker.log.with_name(f"{name}.log"),
        client=worker.client,
        args=["-n", f"{name}@%h"],
    )


def test_counters_are_summed_across_two_worker_processes(
    worker: Worker, listing_day, on_our_redis, client
):
    make_subscribers(300)
    worker.args = ["-n", "one@%h"]
    other = second_worker(worker, "two")
    worker.start()
    other.start()
    try:
        worker.call("digest.plan_deliveries")  # 6 batches of 50, shared by both workers
        wait_for(settled(300), timeout=120, what="the day's 300 digests")
        assert Delivery.objects.filter(status="sent").count() == 300
        sent = ("digest_messages_total", (("backend", SMTP_BACKEND), ("outcome", "sent")))
        # Both processes counted into the same series (the batches' results come in last).
        wait_for(lambda: scrape(client).get(sent) == 300, timeout=30, what="300 counted")

        # Failed tasks: two in the first worker alone, three in the second alone.
        failures = ("digest_task_failures_total", (("task", "digest.fetch_day"),))
        other.stop()
        for _ in range(2):
            worker.call("digest.fetch_day", "not-a-date")
        wait_for(lambda: scrape(client).get(failures) == 2, timeout=30, what="2 failures")
        worker.stop()
        other.start()
        for _ in range(3):
            other.call("digest.fetch_day", "not-a-date")
        wait_for(lambda: scrape(client).get(failures) == 5, timeout=30, what="5 failures")
    finally:
        other.stop()
    samples = scrape(client)
    assert samples[("digest_deliveries", (("day", "yesterday"), ("status", "sent")))] == 300
    assert samples[("digest_job_last_success_timestamp_seconds", (("job", "plan"),))] > 0
    assert samples[("digest_job_last_success_timestamp_seconds", (("job", "send"),))] > 0


@pytest.fixture
def beat(worker: Worker, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "beat.log").open("ab")
    process = subprocess.Popen(
        [CELERY, "-A", "digest", "beat", "--schedule", str(tmp_path / "beat-schedule")],
        cwd=ROOT,
        env={**worker.env, "BEAT_STALE_SECONDS": "4"},  # so it wakes every second
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    yield process
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def beat_alive_command(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The beat container's health check, as Docker runs it."""
    return subprocess.run(
        [*MANAGE, "beat_alive"],
        cwd=ROOT,
        env={**env, "BEAT_STALE_SECONDS": "4"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_beat_liveness_and_workers_in_the_deep_health_check(
    worker: Worker, beat, on_our_redis, client, settings
):
    settings.BEAT_STALE_SECONDS = 4
    deep = reverse("healthz") + "?deep=1"

    # Beat is up (its first tick writes the timestamp); no worker has answered yet.
    wait_for(lambda: beat_alive_command(worker.env).returncode == 0, what="beat's timestamp")
    body = client.get(deep)
    assert body.status_code == 503
    assert body.json()["beat"] == "ok" and body.json()["workers"] == "no answer"
    # The shallow check is what the load balancer asks: beat and workers do not enter it.
    assert client.get(reverse("healthz")).status_code == 200

    worker.start()
    # Each deep check pings for a second; on a busy machine the first answer may come later.
    wait_for(lambda: client.get(deep).status_code == 200, timeout=30, what="a worker's answer")
    body = client.get(deep)
    assert body.status_code == 200, body.json()
    assert body.json()["workers"] == "ok" and "workers_last_answer" in body.json()

    # Beat stopped: within BEAT_STALE_SECONDS both its health check and /healthz?deep=1 say so.
    beat.send_signal(signal.SIGTERM)
    beat.wait(timeout=30)
    time.sleep(5)
    failed = beat_alive_command(worker.env)
    assert failed.returncode != 0
    assert "beat last wrote its timestamp" in failed.stderr
    body = client.get(deep)
    assert body.status_code == 503
    assert body.json()["beat"] == "stale" and int(body.json()["beat_seconds_ago"]) >= 4
    assert body.json()["workers"] == "ok"
