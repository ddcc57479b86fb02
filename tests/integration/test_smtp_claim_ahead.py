"""Over SMTP on PostgreSQL a row's claim is sent before its digest is built and commits
meanwhile (digest/delivery/smtp_sender.py). Checked against a real SMTP server that looks at
the database (its own connection) as each message arrives: the message's row is already
`sending`, never more than two rows are, and every reader gets one digest."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from django.db import DatabaseError, connection

from digest.delivery import smtp_sender
from digest.delivery.batch import deliveries_plan, deliveries_send
from digest.delivery.sender import BatchSender
from digest.models import Delivery
from subscriptions.models import Subscriber
from tests.integration.conftest import make_subscribers, no_second_copies
from tests.support.real_services import free_port

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

Status = Delivery.Status


def database_conninfo() -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or "postgres",
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
    )


class WatchingRelay:
    """An SMTP server that, at each message's DATA, reads the rows' statuses as they are
    committed; `refuse` answers every MAIL FROM with a 421 instead."""

    def __init__(self, conninfo: str, *, refuse: bool = False) -> None:
        self.conninfo, self.refuse = conninfo, refuse
        self.db: psycopg.Connection[Any] | None = None
        self.recipients: list[str] = []
        self.own_row_status: list[str] = []
        self.most_sending = 0
        self.resets = 0

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        self.resets += 1
        return "250 OK"

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options):
        if self.refuse:
            return "421 4.3.0 try again later"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.db is None:
            self.db = psycopg.connect(self.conninfo, autocommit=True)
        rows = self.db.execute(
            "SELECT s.email, d.status FROM digest_delivery d "
            "JOIN subscriptions_subscriber s ON s.id = d.subscriber_id"
        ).fetchall()
        status = dict(rows)
        (recipient,) = envelope.rcpt_tos
        self.recipients.append(recipient)
        self.own_row_status.append(status[recipient])
        sending = sum(s == Status.SENDING for s in status.values())
        self.most_sending = max(self.most_sending, sending)
        return "250 OK"


@pytest.fixture
def relay(settings):
    def start(**options: Any) -> WatchingRelay:
        handler = WatchingRelay(database_conninfo(), **options)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        started.append((handler, controller))
        settings.EMAIL_BACKEND = "digest.delivery.mail_backends.SMTPBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
        return handler

    started: list[tuple[WatchingRelay, Controller]] = []
    yield start
    for handler, controller in started:
        controller.stop()
        if handler.db is not None:
            handler.db.close()


def test_each_message_goes_after_its_claim_and_two_rows_at_most_are_sending(
    relay, listing_day, settings
):
    settings.SEND_RATE_PER_SECOND = 0
    watching = relay()
    readers = make_subscribers(60)
    report = deliveries_send(delivery_ids=deliveries_plan(day=listing_day))

    assert report.counts["sent"] == 60
    assert no_second_copies(watching.recipients) == {r.email for r in readers}
    # The claim committed before the message went: the relay saw the row already `sending`.
    assert set(watching.own_row_status) == {Status.SENDING}
    # This message's row, and the next one's, claimed while the relay reads this one.
    assert watching.most_sending == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}
    assert Delivery.objects.filter(message_id="").count() == 0


def test_a_row_no_longer_ours_gets_a_reset_and_the_batch_goes_on(relay, listing_day, settings):
    """MAIL FROM goes while the claim's answer is on its way; a reader who left after planning
    gets a RSET instead of the message."""
    settings.SEND_RATE_PER_SECOND = 0
    watching = relay()
    readers = make_subscribers(8)
    ids = deliveries_plan(day=listing_day)
    Subscriber.objects.filter(pk=readers[4].pk).update(status=Subscriber.Status.UNSUBSCRIBED)
    report = deliveries_send(delivery_ids=ids)

    assert report.counts["sent"] == 7 and report.counts["suppressed"] == 1
    assert readers[4].email not in watching.recipients
    assert no_second_copies(watching.recipients) == {r.email for r in readers} - {readers[4].email}
    assert watching.resets == 1
    assert Delivery.objects.get(subscriber=readers[4]).status == Status.SUPPRESSED


@contextlib.contextmanager
def on_each_claim(name: str, action: str) -> Iterator[None]:
    """A trigger running `action` (PL/pgSQL) in each claim's UPDATE, dropped afterwards: the
    tables outlive the test."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.status = 'sending' THEN {action} END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            f"CREATE TRIGGER {name} BEFORE UPDATE ON digest_delivery "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON digest_delivery")
            cursor.execute(f"DROP FUNCTION IF EXISTS {name}()")


@pytest.fixture
def failing_claim(transactional_db):
    """The claim of the row whose id is in failing_claim_row raises in PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE failing_claim_row (id bigint)")
    refuse = (
        "IF NEW.id IN (SELECT id FROM failing_claim_row) THEN "
        "RAISE EXCEPTION 'claim refused'; END IF;"
    )
    with on_each_claim("failing_claim", refuse):
        yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS failing_claim_row")


def test_a_claim_that_fails_after_mail_from_went_sends_nothing_of_its_message(
    relay, listing_day, settings, failing_claim
):
    settings.SEND_RATE_PER_SECOND = 0
    watching = relay()
    readers = make_subscribers(6)
    ids = deliveries_plan(day=listing_day)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO failing_claim_row VALUES (%s)", [ids[3]])

    with pytest.raises(DatabaseError, match="claim refused"):
        deliveries_send(delivery_ids=ids)

    # The rows before it went out and are marked; its own transaction was withdrawn.
    assert no_second_copies(watching.recipients) == {r.email for r in readers[:3]}
    assert watching.resets == 1
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert [statuses[i] for i in ids] == [Status.SENT] * 3 + [Status.QUEUED] * 3


@pytest.fixture
def slow_claims(transactional_db):
    """Each claim's UPDATE sleeps 40 ms in PostgreSQL."""
    with on_each_claim("slow_claim", "PERFORM pg_sleep(0.04);"):
        yield


@pytest.mark.parametrize("claim_ahead", [True, False])
def test_the_claim_commits_while_the_digest_is_built(
    relay, listing_day, settings, monkeypatch, slow_claims, claim_ahead
):
    """A slow commit (a trigger sleeps 40 ms in each claim) and a slow build (40 ms) overlap:
    12 rows take about 12 x 40 ms, where one after the other they took 12 x 80 ms."""
    settings.SEND_RATE_PER_SECOND = 0
    relay()
    make_subscribers(12)
    ids = deliveries_plan(day=listing_day)
    build = BatchSender._build

    def slow_build(self: BatchSender, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.04)
        return build(self, *args, **kwargs)

    monkeypatch.setattr(BatchSender, "_build", slow_build)
    if not claim_ahead:  # the plain loop, for comparison
        monkeypatch.setattr(smtp_sender.ClaimingAheadSender, "_send_rows", BatchSender._send_rows)
    deliveries_send(delivery_ids=ids[:1])  # the day's shared work, built once per process
    started = time.monotonic()
    report = deliveries_send(delivery_ids=ids[1:])
    elapsed = time.monotonic() - started

    assert report.counts["sent"] == 11
    if claim_ahead:
        # The sleeps alone make 11 x 80 ms one after the other; overlapped, about 11 x 40 ms.
        assert elapsed < 11 * 0.07, elapsed
    else:
        assert elapsed > 11 * 0.08, elapsed


def test_a_relay_that_looks_down_gets_the_claimed_ahead_row_back_unspent(
    relay, listing_day, settings
):
    settings.SEND_RATE_PER_SECOND = 0
    settings.DELIVERY_STOP_AFTER_TRANSIENT = 3
    watching = relay(refuse=True)
    make_subscribers(10)
    report = deliveries_send(delivery_ids=deliveries_plan(day=listing_day))

    assert watching.recipients == []
    assert report.counts["retrying"] == 3 and report.pending == 10
    rows = list(Delivery.objects.values_list("status", "attempts").order_by("pk"))
    # Three attempts refused, back to `queued`; the fourth row was claimed while the third was
    # refused, and is given back as it was; the rest were never touched.
    assert rows == [(Status.QUEUED, 1)] * 3 + [(Status.QUEUED, 0)] * 7
