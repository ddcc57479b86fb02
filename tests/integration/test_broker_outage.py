"""The worker survives the broker going away while it sends (issue 15).

Real parts: the test's own redis-server, `celery -A digest worker`, PostgreSQL and a local SMTP
server. The SMTP server stops Redis while it accepts the last message of a batch, so the batch
task returns (and its late acknowledgement comes due) while the broker is down; Redis starts
again, empty, 2 seconds later. That is the moment celery 5.7.0 with kombu 5.7.0 killed the
worker (`Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")`,
see docs/operations.md, "Broker outages"). One batch in flight leaves the other pool process
idle (the worker's default concurrency is the number of CPUs), so the worker also has a BRPOP
outstanding at that moment: on 5.7.0 the first round kills it, every time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from functools import partial

import pytest

from digest.models import Delivery
from tests.integration.conftest import (
    RedisServer,
    SmtpSink,
    Worker,
    make_subscribers,
    settled,
    statuses,
)
from tests.support.real_services import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

OUTAGE_SECONDS = 2.0


def readers(count: int, *, prefix: str) -> set[str]:
    return {s.email for s in make_subscribers(count, prefix=prefix)}


def alive(worker: Worker, pid: int, round_no: int) -> bool:
    """Fails the test at once when the worker process has exited (or was replaced)."""
    assert worker.process is not None
    if worker.process.poll() is not None or worker.process.pid != pid:
        pytest.fail(
            f"the worker died in round {round_no}:\n{worker.log.read_text()[-3000:]}",
            pytrace=False,
        )
    return True


def answering(worker: Worker, pid: int, round_no: int) -> bool:
    return alive(worker, pid, round_no) and worker.ping()


# (new readers, stop Redis at this round's n-th message, outage in seconds). One batch alone is
# the deterministic case; 120 readers are three batches, two of them being sent when Redis stops
# and the third lost with Redis' queue; the last outage spans several reconnection attempts.
ROUNDS = [(20, 20, 2.0), (20, 20, 2.0), (120, 50, 2.0), (20, 20, 12.0)]


def test_redis_stopped_as_batches_finish_worker_lives_and_sends_one_digest_each(
    worker: Worker, smtp_sink: SmtpSink, listing_day, redis_server: RedisServer
):
    handler = smtp_sink.handler
    worker.start()
    assert worker.process is not None
    pid = worker.process.pid

    emails: set[str] = set()
    for round_no, (count, stop_after, outage) in enumerate(ROUNDS):
        # New readers each round: the planner plans only them.
        emails |= readers(count, prefix=f"round{round_no}-")
        stop_at = smtp_sink.count() + stop_after
        stopped = threading.Event()
        restarts: list[threading.Timer] = []

        def stop_redis(
            received: int,
            stop_at: int = stop_at,
            stopped=stopped,
            restarts=restarts,
            outage: float = outage,
        ) -> None:
            if received != stop_at or stopped.is_set():
                return
            # In the SMTP server, before the 250: the batch task returns, and its late ack comes
            # due, with Redis down.
            redis_server.stop()
            stopped.set()
            restarts.append(threading.Timer(outage, redis_server.start))
            restarts[0].start()

        handler.on_message = stop_redis
        worker.call("digest.plan_deliveries")
        wait_for(stopped.is_set, timeout=120, what=f"round {round_no}: Redis to be stopped")
        restarts[0].join(timeout=outage + 30)
        handler.on_message = None

        wait_for(
            partial(answering, worker, pid, round_no),
            timeout=90,
            what=f"round {round_no}: the worker to reconnect",
        )
        # Redis came back empty: batches it held are gone. Past DELIVERY_REQUEUE_AFTER (3 s in
        # the worker's env) the planner enqueues their rows again.
        time.sleep(3.5)
        worker.call("digest.plan_deliveries")
        wait_for(settled(len(emails)), timeout=120, what=f"round {round_no}: the rows to settle")

    log = worker.log.read_text()
    # Each stop reached the worker while it was connected, which is when it used to die.
    assert log.count("Connection to broker lost") >= len(ROUNDS), log[-4000:]
    assert "Unrecoverable error" not in log, log[-4000:]
    assert alive(worker, pid, len(ROUNDS))
    received = Counter(smtp_sink.recipients())
    assert received == Counter(emails), "every reader gets exactly one digest"
    assert statuses() == {Delivery.Status.SENT: len(emails)}
