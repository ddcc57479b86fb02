"""A batch through the SMTP backend to a real SMTP server (aiosmtpd in a thread): the sender
starts each transaction before the row's claim and builds the next digest before reading the
relay's verdict (SplitSendmail), and still every row ends as the relay decided."""

from __future__ import annotations

import email
import email.policy
import smtplib

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from digest.delivery import sender
from digest.delivery.batch import deliveries_plan, deliveries_send
from digest.delivery.mail_backends import SplitSendmail
from digest.models import Delivery
from subscriptions.models import Subscriber
from tests.support.factories import SubscriberFactory

Status = Delivery.Status


@pytest.fixture
def relay(settings, smtp_sink):
    handler, port = smtp_sink
    settings.EMAIL_BACKEND = "digest.delivery.mail_backends.SMTPBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    return handler


def statuses() -> dict[str, str]:
    return dict(Delivery.objects.values_list("subscriber__email", "status"))


def test_a_batch_goes_over_one_connection_and_each_row_keeps_its_message_id(relay, snapshot_day):
    readers = SubscriberFactory.create_batch(5)
    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))

    assert report.counts["sent"] == 5
    assert sorted(m.rcpt_tos for m in relay.received) == sorted((r.email,) for r in readers)
    assert len({m.peer for m in relay.received}) == 1
    assert (relay.mails, relay.resets) == (5, 0)
    message_ids = dict(Delivery.objects.values_list("subscriber__email", "message_id"))
    for message in relay.received:
        parsed = email.message_from_bytes(message.content, policy=email.policy.default)
        assert parsed["Message-ID"].strip() == message_ids[message.rcpt_tos[0]]
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert set(statuses().values()) == {Status.SENT}


def test_a_batch_costs_its_reads_once_and_two_statements_per_row(relay, snapshot_day):
    SubscriberFactory.create_batch(10, topics=["diffusion", "video"])
    ids = deliveries_plan(day=snapshot_day)
    deliveries_send(delivery_ids=ids[:1])  # the day's shared work, built once per process
    counts = []
    for batch in (ids[1:4], ids[4:10]):
        with CaptureQueriesContext(connection) as queries:
            assert deliveries_send(delivery_ids=batch).counts["sent"] == len(batch)
        counts.append(len(queries))
    # The three more rows cost their claims and marks (each transaction a savepoint inside
    # the test's own) and nothing else: no subscriber or topic is read row by row.
    assert counts[1] - counts[0] == 3 * 4
    # Rows, the day's stamps (the week's papers, the followed papers' events), history, topics,
    # votes, the library papers the model scores with and the library's arXiv ids (with no
    # followed paper changed, the updates cost nothing more); the last mark's transaction has
    # no claim in it (on PostgreSQL it sets its commit asynchronous: one more).
    assert counts[0] == 8 + 3 * 4 + 2 + (connection.vendor == "postgresql")


@pytest.mark.parametrize("change", ["unsubscribed", "taken by another worker"])
def test_a_row_lost_after_its_transaction_began_sends_nothing(
    relay, snapshot_day, monkeypatch, change
):
    first, second, third = SubscriberFactory.create_batch(3)
    ids = deliveries_plan(day=snapshot_day)
    claim_row = sender.claim_row

    def claim(row):
        # Between the batch's read (and MAIL FROM) and the claim.
        if row.subscriber_id == second.pk:
            if change == "unsubscribed":
                Subscriber.objects.filter(pk=second.pk).update(
                    status=Subscriber.Status.UNSUBSCRIBED
                )
            else:
                Delivery.objects.filter(pk=row.pk).update(status=Status.SENDING)
        return claim_row(row)

    monkeypatch.setattr(sender, "claim_row", claim)
    report = deliveries_send(delivery_ids=ids)

    assert sorted(m.rcpt_tos for m in relay.received) == sorted([(first.email,), (third.email,)])
    # Its MAIL FROM was withdrawn with a RSET and the connection carried on.
    assert (relay.mails, relay.resets) == (3, 1)
    assert len({m.peer for m in relay.received}) == 1
    expected = Status.SUPPRESSED if change == "unsubscribed" else Status.SENDING
    assert statuses()[second.email] == expected
    assert report.counts["suppressed" if change == "unsubscribed" else "skipped"] == 1


def test_a_claim_that_fails_after_the_recipient_went_sends_nothing(
    relay, snapshot_day, monkeypatch
):
    first, second = SubscriberFactory.create_batch(2)
    address = SplitSendmail.address

    def address_then_fail(self):
        address(self)  # RCPT TO is out; then the claim's commit fails
        if self.to_addrs == [second.email]:
            raise DatabaseError("could not commit")

    monkeypatch.setattr(SplitSendmail, "address", address_then_fail)
    with pytest.raises(DatabaseError):
        deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))

    assert [m.rcpt_tos for m in relay.received] == [(first.email,)]
    assert (relay.mails, relay.resets) == (2, 1)
    # The claim rolled back, the first row's mark with it; settle() wrote that mark again.
    assert statuses() == {first.email: Status.SENT, second.email: Status.QUEUED}


@pytest.mark.parametrize(
    "address, status, count",
    [
        ("refuse@example.org", Status.REJECTED, "rejected"),  # 550 at RCPT
        ("bounce@example.org", Status.FAILED, "failed"),  # 554 after DATA
        ("later@example.org", Status.QUEUED, "retrying"),  # 451 after DATA
        ("close@example.org", Status.QUEUED, "retrying"),  # 421 after DATA, then hangs up
    ],
)
def test_each_relay_answer_marks_its_row_and_the_batch_goes_on(
    relay, snapshot_day, address, status, count
):
    SubscriberFactory(email=address)
    after = SubscriberFactory(email="after@example.org")
    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))

    assert statuses() == {address: status, after.email: Status.SENT}
    assert report.counts[count] == 1 and report.counts["sent"] == 1
    assert [m.rcpt_tos for m in relay.received] == [(after.email,)]


@pytest.mark.parametrize(
    "data",
    [
        b"Subject: dots\r\n\r\n.one leading dot\r\n..two\r\n.\r\nend\r\n",
        b"Subject: no final line end\r\n\r\nlast line",
        b".a first line with a dot\r\n",
    ],
)
def test_split_sendmail_delivers_what_sendmail_delivers(smtp_sink, data):
    handler, port = smtp_sink
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for sender in ("digest@example.org", "Paper Digest <digest@example.org>"):
            smtp.sendmail(sender, ["a@example.org"], data)
            split = SplitSendmail(smtp, sender, ["a@example.org"], data)
            split.commit()
            split.wait()
    first, second, third, fourth = handler.received
    assert first.content == second.content == third.content == fourth.content
    assert first.mail_from == second.mail_from == third.mail_from == fourth.mail_from
    assert first.peer == second.peer


def test_split_sendmail_withdrawn_after_its_recipient_sends_nothing(smtp_sink):
    handler, port = smtp_sink
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        split = SplitSendmail(smtp, "digest@example.org", ["a@example.org"], b"x\r\n")
        split.address()
        split.abort()
        smtp.sendmail("digest@example.org", ["b@example.org"], b"Subject: ok\r\n\r\nok\r\n")
    assert [m.rcpt_tos for m in handler.received] == [("b@example.org",)]
    assert (handler.mails, handler.resets) == (2, 1)


def test_split_sendmail_keeps_a_refused_sender_for_commit(smtp_sink):
    handler, port = smtp_sink
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        split = SplitSendmail(smtp, "refuse@example.org", ["a@example.org"], b"x\r\n")
        split.address()  # in the claim's transaction: it must not raise
        with pytest.raises(smtplib.SMTPSenderRefused) as error:
            split.commit()
        assert error.value.smtp_code == 553
        smtp.sendmail("digest@example.org", ["b@example.org"], b"Subject: ok\r\n\r\nok\r\n")
    assert [m.rcpt_tos for m in handler.received] == [("b@example.org",)]


def test_split_sendmail_raises_what_sendmail_raises(smtp_sink):
    handler, port = smtp_sink
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        split = SplitSendmail(smtp, "digest@example.org", ["refuse@example.org"], b"x\r\n")
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            split.commit()
        split = SplitSendmail(smtp, "digest@example.org", ["bounce@example.org"], b"x\r\n")
        split.commit()
        with pytest.raises(smtplib.SMTPDataError) as error:
            split.wait()
        assert error.value.smtp_code == 554
        # After a refusal the connection still carries a message.
        smtp.sendmail("digest@example.org", ["a@example.org"], b"Subject: ok\r\n\r\nok\r\n")
    assert [m.rcpt_tos for m in handler.received] == [("a@example.org",)]
