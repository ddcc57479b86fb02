"""Delivery with the real parts: PostgreSQL, Redis, `celery -A digest worker`, an SMTP server.

What a subscriber would notice: exactly one digest each, with the list headers, whatever
happens to the worker or the broker in the middle of the run.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

import pytest
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from digest.delivery.batch import deliveries_plan, deliveries_send, deliveries_take_for_enqueue
from digest.delivery.claims import _CLAIM_MANY_POSTGRESQL, _CLAIM_POSTGRESQL
from digest.delivery.planning import deliveries_plan_due
from digest.models import Delivery
from subscriptions.models import Subscriber
from subscriptions.readers.services import subscriber_unsubscribe
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

Status = Delivery.Status
T = TypeVar("T")


def assert_one_each(sink: SmtpSink, emails: set[str]) -> Counter[str]:
    received = Counter(sink.recipients())
    doubles = {address: n for address, n in received.items() if n > 1}
    assert not doubles, f"second copies: {doubles}"
    assert set(received) <= emails
    return received


def test_500_subscribers_one_message_each_with_list_headers(worker, smtp_sink, listing_day):
    subscribers = make_subscribers(500)
    worker.start()
    # The planner goes to the default queue, its batches to `digest.send`: one bare worker
    # consumes both.
    worker.call("digest.plan_deliveries")
    wait_for(settled(500), timeout=180, what="500 deliveries to settle")

    assert statuses() == {Status.SENT: 500}
    messages = smtp_sink.parsed()
    assert len(messages) == 500
    assert Counter(str(m["To"]) for m in messages) == Counter(s.email for s in subscribers)
    unsubscribe_links = set()
    for message in messages:
        # Long headers are folded; the unfolded value may keep the folding space.
        assert (
            str(message["List-Unsubscribe"])
            .strip()
            .startswith("<https://digest.example.org/unsubscribe/")
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"].endswith("<digest.digest.example.org>")
        assert message["Message-ID"]
        unsubscribe_links.add(str(message["List-Unsubscribe"]))
    assert len(unsubscribe_links) == 500
    # The row keeps the Message-ID that went out (for webhooks and operators).
    assert set(Delivery.objects.values_list("message_id", flat=True)) == {
        str(m["Message-ID"]).strip() for m in messages
    }


def kill_mid_run_then_recover(
    worker: Worker, smtp_sink: SmtpSink, total: int, interrupt: Callable[[], None]
) -> None:
    worker.call("digest.plan_deliveries")
    wait_for(lambda: smtp_sink.count() >= total // 4, timeout=120, what="a quarter sent")
    interrupt()
    assert smtp_sink.count() < total, "the run finished before the interruption; slow it down"
    # Past DELIVERY_REQUEUE_AFTER and DELIVERY_SENDING_TIMEOUT (3 s in the worker's env): the
    # next planner run marks interrupted rows `unknown` and enqueues the lost queued ones again.
    time.sleep(4)
    worker.call("digest.plan_deliveries")
    wait_for(settled(total), timeout=180, what="every delivery to settle after recovery")


def test_worker_killed_mid_batch_sends_each_digest_at_most_once(worker, smtp_sink, listing_day):
    subscribers = make_subscribers(400)
    emails = {s.email for s in subscribers}
    # Slow enough to be mid-batch when the kill comes (shared through Redis across processes).
    worker.env["SEND_RATE_PER_SECOND"] = "120"
    worker.start()

    def sigkill_and_restart() -> None:
        worker.kill()  # SIGKILL to the worker and its pool: no ack, no cleanup
        in_flight = Delivery.objects.filter(status=Status.SENDING).count()
        assert in_flight <= 2  # at most one row per pool process
        worker.start()

    kill_mid_run_then_recover(worker, smtp_sink, 400, sigkill_and_restart)

    counts = statuses()
    received = assert_one_each(smtp_sink, emails)
    unknown = set(
        Delivery.objects.filter(status=Status.UNKNOWN).values_list("subscriber__email", flat=True)
    )
    # The documented window: a row claimed when the worker died is `unknown`, never resent
    # (its message may or may not have reached the server). Everyone else has exactly one.
    assert len(unknown) <= 2
    assert counts.get(Status.SENT, 0) + len(unknown) == 400
    assert set(received) | unknown == emails
    sent_emails = set(
        Delivery.objects.filter(status=Status.SENT).values_list("subscriber__email", flat=True)
    )
    assert sent_emails <= set(received)

    # Another planner run later changes nothing: `unknown` rows are not resent.
    before = smtp_sink.count()
    worker.call("digest.plan_deliveries")
    time.sleep(2)
    assert smtp_sink.count() == before
    assert statuses() == counts


def test_worker_killed_mid_batch_without_a_rate_limit_leaves_two_rows_per_process(
    worker, smtp_sink, listing_day
):
    """Without SEND_RATE_PER_SECOND the SMTP batch claims each row while the relay reads the
    message before it (digest/delivery/smtp_sender.py): two rows per process can be `sending`,
    and a SIGKILL leaves at most those undecided."""
    subscribers = make_subscribers(400)
    emails = {s.email for s in subscribers}
    smtp_sink.handler.delay = 0.01  # a relay taking 10 ms a message: mid-batch at the kill
    worker.start()

    def sigkill_and_restart() -> None:
        worker.kill()
        in_flight = Delivery.objects.filter(status=Status.SENDING).count()
        assert in_flight <= 4  # at most two rows per pool process
        worker.start()

    kill_mid_run_then_recover(worker, smtp_sink, 400, sigkill_and_restart)

    received = assert_one_each(smtp_sink, emails)
    unknown = set(
        Delivery.objects.filter(status=Status.UNKNOWN).values_list("subscriber__email", flat=True)
    )
    assert len(unknown) <= 4
    assert statuses().get(Status.SENT, 0) + len(unknown) == 400
    assert set(received) | unknown == emails


def test_redis_restarted_mid_run_loses_nothing_and_doubles_nothing(
    worker, smtp_sink, listing_day, redis_server: RedisServer
):
    subscribers = make_subscribers(400)
    emails = {s.email for s in subscribers}
    worker.env["SEND_RATE_PER_SECOND"] = "120"
    worker.start()

    def restart_redis() -> None:
        redis_server.restart()  # killed, started empty: the queued batches are gone
        # The worker reconnects by itself.
        wait_for(worker.ping, timeout=60, what="the worker to reconnect to Redis")

    kill_mid_run_then_recover(worker, smtp_sink, 400, restart_redis)

    counts = statuses()
    received = assert_one_each(smtp_sink, emails)
    # The worker itself never died, so no row was left undecided.
    assert counts == {Status.SENT: 400}
    assert set(received) == emails


def at_once(work: Callable[[], T], *, threads: int = 2, timeout: float = 120) -> list[T]:
    """Run `work` in `threads` threads released together, each with its own database
    connection; their results, or the first error any of them raised."""
    barrier = threading.Barrier(threads)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work())
        except BaseException as exc:  # reported by the calling thread
            errors.append(exc)
        finally:
            connection.close()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=timeout)
    close_old_connections()
    if errors:
        raise errors[0]
    return results


@pytest.fixture
def send_to_sink(smtp_sink, settings):
    """In-process sends (deliveries_send) go to the SMTP sink."""
    settings.EMAIL_BACKEND = "digest.delivery.mail_backends.SMTPBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_sink.port
    return smtp_sink


def test_two_planners_at_once_create_each_row_once(listing_day, transactional_db):
    subscribers = make_subscribers(1500)

    def planner() -> list[int]:
        with transaction.atomic():
            deliveries_plan_due()
            return deliveries_take_for_enqueue()

    first, second = at_once(planner, timeout=60)
    assert Delivery.objects.count() == len(subscribers)
    # And each row went into exactly one planner's batches.
    assert not set(first) & set(second)
    assert len(first) + len(second) == len(subscribers)


def test_unsubscribe_between_planning_and_sending(worker, smtp_sink, listing_day):
    subscribers = make_subscribers(20)
    ids = deliveries_plan(day=listing_day)
    leaving = subscribers[7]
    subscriber_unsubscribe(subscriber=Subscriber.objects.get(pk=leaving.pk))
    worker.call("digest.send_batch", ids, queue="digest.send")
    worker.start()
    wait_for(settled(20), timeout=120, what="20 deliveries to settle")

    row = Delivery.objects.get(subscriber=leaving)
    assert row.status == Status.SUPPRESSED
    assert leaving.email not in smtp_sink.recipients()
    assert smtp_sink.count() == 19
    assert statuses() == {Status.SENT: 19, Status.SUPPRESSED: 1}


def test_two_senders_on_one_batch_send_each_digest_once(send_to_sink, listing_day):
    """Two workers holding the same batch (a redelivered broker message) race row by row."""
    subscribers = make_subscribers(120)
    ids = deliveries_plan(day=listing_day)
    reports = at_once(lambda: deliveries_send(delivery_ids=ids).counts)
    sent = [report["sent"] for report in reports]
    assert sum(sent) == len(subscribers), sent
    # Each went over every row and was refused the ones the other had claimed. (Which one takes
    # more is timing: with the one-statement claim a sender that starts first can stay ahead.)
    assert all(r["sent"] + r["skipped"] == len(subscribers) for r in reports), reports
    assert statuses() == {Status.SENT: len(subscribers)}
    wait_for(lambda: send_to_sink.count() >= len(subscribers), timeout=30, what="the messages")
    assert sum(assert_one_each(send_to_sink, {s.email for s in subscribers}).values()) == 120


def test_a_row_locked_by_another_worker_is_passed_over_not_waited_for(send_to_sink, listing_day):
    make_subscribers(2)
    locked, free = deliveries_plan(day=listing_day)
    holding, release = threading.Event(), threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                Delivery.objects.select_for_update().get(pk=locked)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        started = time.monotonic()
        report = deliveries_send(delivery_ids=[locked, free])
        assert time.monotonic() - started < 5  # it did not wait for the lock
    finally:
        release.set()
        thread.join(timeout=30)
    close_old_connections()
    assert report.counts["sent"] == 1 and report.counts["skipped"] == 1
    assert dict(Delivery.objects.values_list("pk", "status")) == {
        locked: Status.QUEUED,
        free: Status.SENT,
    }


@pytest.mark.parametrize("claim", [_CLAIM_POSTGRESQL, _CLAIM_MANY_POSTGRESQL])
def test_after_planning_a_claim_finds_its_row_by_key_not_by_status(listing_day, claim):
    """A day's rows are new to PostgreSQL's statistics; the planner refreshes them, or a claim
    (and a batch's read) would scan every queued row through the status index."""
    make_subscribers(3000)
    ids = deliveries_plan(day=listing_day)
    sql = claim.format(delivery=Delivery._meta.db_table, subscriber=Subscriber._meta.db_table)
    key = ids[-1] if claim is _CLAIM_POSTGRESQL else ids[-3:]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", ["sending", timezone.now(), key, "queued", "active"])
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "delivery_status_day" not in plan and "subscriber_due" not in plan, plan
    assert "digest_delivery_pkey" in plan and "subscriptions_subscriber_pkey" in plan, plan
