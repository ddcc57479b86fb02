"""Faults in the middle of a day's sending, with the real parts: the broker losing its queue and
a PostgreSQL restart (a provider down: test_provider_outages.py). What a reader notices: nobody
gets two digests, and everyone gets theirs once the fault is over; what an operator notices: the
command says what it did, the admin says what happened to each row. See docs/delivery.md ("Faults").
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
import redis
from django.conf import settings
from django.utils import timezone

from digest.models import Delivery
from tests.integration.conftest import (
    ROOT,
    RedisServer,
    SmtpSink,
    Worker,
    make_subscribers,
    manage,
    no_second_copies,
    send_digests_waiting,
    statuses,
)
from tests.support.pgcluster import PostgresCluster, postgres_bin
from tests.support.real_services import unavailable, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

Status = Delivery.Status


# --- The broker lost its queue: a rerun by hand sends the rest now ------------------------------
def test_rerun_after_the_broker_lost_its_queue_sends_the_rest_at_once(
    worker: Worker, smtp_sink: SmtpSink, listing_day, redis_server: RedisServer
):
    subscribers = make_subscribers(300)
    emails = {s.email for s in subscribers}
    # Production clocks: a lost row would otherwise wait DELIVERY_REQUEUE_AFTER (10 minutes).
    worker.env |= {
        "SEND_RATE_PER_SECOND": "100",
        "DELIVERY_REQUEUE_AFTER": "600",
        "DELIVERY_SENDING_TIMEOUT": "900",
    }
    worker.start()
    first = manage(worker.env, "send_digests", "--date", str(listing_day))
    assert "300 deliveries to send" in first and "Enqueued 6 batches" in first, first
    assert "enqueued before" not in first  # nothing had a broker message yet

    wait_for(lambda: smtp_sink.count() >= 75, timeout=60, what="a quarter sent")
    worker.kill()  # the incident: the worker dies, and Redis comes back empty
    redis_server.restart()
    in_flight = Delivery.objects.filter(status=Status.SENDING).count()
    assert in_flight <= 2  # at most one per pool process
    worker.start()
    time.sleep(3)
    stalled_at = smtp_sink.count()
    assert stalled_at < 300, "the run finished before the incident; slow it down"
    left = Delivery.objects.filter(status=Status.QUEUED).count()
    assert left > 0

    started = time.monotonic()
    rerun = manage(worker.env, "send_digests", "--date", str(listing_day))
    assert f"{left} deliveries to send" in rerun, rerun
    assert f"{left} of them were enqueued before" in rerun and "enqueued again now" in rerun, rerun
    assert f"Enqueued {-(-left // 50)} batches" in rerun, rerun
    wait_for(
        lambda: not Delivery.objects.filter(status=Status.QUEUED).exists(),
        timeout=60,
        what="the rest to be sent after the rerun",
    )
    assert time.monotonic() - started < 60

    received = no_second_copies(smtp_sink.recipients())
    counts = statuses()
    undecided = set(
        Delivery.objects.filter(status=Status.SENDING).values_list("subscriber__email", flat=True)
    )
    assert counts.get(Status.SENT, 0) + len(undecided) == 300 and len(undecided) <= 2
    assert received | undecided == emails
    # A second rerun finds nothing left and sends nothing.
    again = manage(worker.env, "send_digests", "--date", str(listing_day))
    assert "0 deliveries to send" in again and "Enqueued 0 batches" in again
    time.sleep(1)
    assert len(smtp_sink.recipients()) == len(received)


def test_wait_enqueues_again_when_nothing_moves(
    worker: Worker, smtp_sink: SmtpSink, listing_day, redis_server: RedisServer
):
    """`send_digests --wait` started before the broker lost its queue: it notices the stall."""
    make_subscribers(120)
    worker.env |= {"DELIVERY_REQUEUE_AFTER": "600"}
    waiting = send_digests_waiting(worker.env, listing_day)
    try:
        wait_for(
            lambda: (
                not Delivery.objects.filter(enqueued_at__isnull=True).exists()
                and Delivery.objects.count() == 120
            ),
            timeout=60,
            what="the batches to be enqueued",
        )
        # The rows are marked enqueued before the messages reach Redis (they are published after
        # the commit): wait until the broker holds all three, so the restart surely loses them.
        broker = redis.Redis.from_url(redis_server.url)
        wait_for(lambda: broker.llen(settings.SEND_QUEUE) >= 3, timeout=30, what="3 batch messages")
        broker.close()
        redis_server.restart()  # no worker has taken them yet: all three batches are lost
        worker.start()
        started = time.monotonic()
        output, _ = waiting.communicate(timeout=150)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, output
    assert "nothing settled for 30 s: enqueued the day's queued rows again (3 batches)" in output
    assert "every delivery settled (120 sent)" in output, output
    assert time.monotonic() - started < 60
    assert len(no_second_copies(smtp_sink.recipients())) == 120


# --- PostgreSQL restarted mid-send ---------------------------------------------------------------
@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    """A cluster of our own, which the test stops and starts (never the shared server)."""
    binaries = postgres_bin()
    if binaries is None:
        unavailable("PostgreSQL server binaries (initdb) are not installed")
    assert binaries is not None
    cluster = PostgresCluster(binaries)
    cluster.init()
    yield cluster
    cluster.destroy()


def rows_by_status(url: str) -> dict[str, list[str]]:
    dsn = url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT d.status, s.email FROM digest_delivery d "
            "JOIN subscriptions_subscriber s ON s.id = d.subscriber_id"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for status, email in rows:
        found.setdefault(status, []).append(email)
    return found


# Paced by a send rate, each row is claimed when its message is ready; paced by a slow relay
# (no send rate), each row's claim is in flight while its digest is built (smtp_sender.py).
@pytest.mark.parametrize("pace", ["send rate", "slow relay"])
def test_postgres_restarted_mid_send_workers_and_send_digests_carry_on(
    worker: Worker, smtp_sink: SmtpSink, private_postgres: PostgresCluster, pace: str
):
    day = timezone.now().date() - timedelta(days=1)
    if pace == "send rate":
        worker.env["SEND_RATE_PER_SECOND"] = "40"
    else:
        smtp_sink.handler.delay = 0.025  # 40 messages a second per connection
    worker.env |= {
        "DATABASE_URL": private_postgres.url,
        "DELIVERY_REQUEUE_AFTER": "600",
        # Short enough for --wait to end if a row were left undecided, long beside the restart.
        "DELIVERY_SENDING_TIMEOUT": "30",
    }
    worker.args = ["--loglevel", "INFO"]  # the task's retries are logged at INFO
    subprocess.run(
        [sys.executable, "-m", "tests.integration.seed", "--day", str(day), "--subscribers", "400"],
        cwd=ROOT,
        env=worker.env,
        check=True,
        timeout=120,
    )
    worker.start()
    waiting = send_digests_waiting(worker.env, day)
    try:
        wait_for(lambda: smtp_sink.count() >= 60, timeout=60, what="the sending to start")
        private_postgres.stop()  # fast shutdown: every session is cut off mid-transaction
        at_stop = smtp_sink.count()
        time.sleep(5)
        private_postgres.start()
        restarted = time.monotonic()
        output, _ = waiting.communicate(timeout=170)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert at_stop < 300, "the run finished before the restart; slow it down"
    assert waiting.returncode == 0, output
    assert "every delivery settled" in output, output
    assert "database unavailable, retrying" in output, output  # --wait lived through it
    assert time.monotonic() - restarted < 60

    # The batches in hand waited for the database instead of failing; the others stayed in the
    # queue (no task was retried or failed for it).
    worker_log = worker.log.read_text()
    assert "database unavailable while sending a batch, retrying" in worker_log, worker_log[-3000:]
    assert "raised unexpected" not in worker_log and "retry: Retry in" not in worker_log

    received = no_second_copies(smtp_sink.recipients())
    rows = rows_by_status(private_postgres.url)
    sent = set(rows.get(Status.SENT, []))
    undecided = set(rows.get(Status.UNKNOWN, [])) | set(rows.get(Status.SENDING, []))
    # Rows in flight end as the crash table says: a row whose claim did not commit is still
    # queued and sent later; one the relay accepted is marked sent once the database is back
    # (the batch waits for it); at most one per process could be left undecided.
    assert len(undecided) <= 2, rows
    assert set(rows) <= {Status.SENT, Status.UNKNOWN}, {k: len(v) for k, v in rows.items()}
    assert len(sent) + len(undecided) == 400
    assert sent <= received and received <= sent | undecided
