"""Sending a batch: anymail's test backend, each send error mapped to its row status, retries."""

from __future__ import annotations

import smtplib
import time
from collections import Counter
from datetime import timedelta

import pytest
import requests
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused, AnymailRequestsAPIError
from django.core import mail
from django.utils import timezone

from digest.delivery.batch import deliveries_plan, deliveries_send, deliveries_take_for_enqueue
from digest.delivery.sending_errors import SendOutcome, send_error_outcome
from digest.models import Delivery
from digest.tasks import retry_countdown, send_batch
from subscriptions.models import Subscriber
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

Status = Delivery.Status


class RaisingBackend(AnymailTestBackend):
    """anymail's test backend, standing in for a provider whose API answers with `error`."""

    error: BaseException | None = None
    opened = 0

    session: object | None = None

    # Like a real ESP backend: open() starts an API session unless one is open, close() ends it.
    def open(self) -> bool:
        if self.session is not None:
            return False
        self.session = object()
        type(self).opened += 1
        return True

    def close(self) -> None:
        self.session = None

    def post_to_esp(self, payload, message):
        error = type(self).error
        if error is not None:
            raise error
        return super().post_to_esp(payload, message)


@pytest.fixture
def anymail_test(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    return mail.outbox


@pytest.fixture
def raising(settings):
    settings.EMAIL_BACKEND = f"{__name__}.RaisingBackend"
    RaisingBackend.error = None
    RaisingBackend.opened = 0
    mail.outbox = []
    yield RaisingBackend
    RaisingBackend.error = None


def _timeout_error() -> AnymailAPIError:
    # What anymail raises for a requests timeout: both its own error and the requests one.
    cls = type("AnymailRequestsAPIError", (AnymailRequestsAPIError, requests.ReadTimeout), {})
    return cls("Error posting to Test:", status_code=None)


def test_anymail_message_carries_delivery_id_metadata_and_tags(anymail_test, snapshot_day):
    subscriber = SubscriberFactory(email="reader@example.org", topics=["diffusion"])
    ids = deliveries_plan(day=snapshot_day)
    report = deliveries_send(delivery_ids=ids)
    assert report.counts["sent"] == 1
    (message,) = anymail_test
    params = message.anymail_test_params
    assert params["metadata"] == {"delivery_id": str(ids[0]), "digest_date": "2026-11-24"}
    assert params["tags"] == ["digest"]
    assert message.to == [subscriber.email]
    row = Delivery.objects.get()
    assert row.status == Status.SENT
    # The provider's message id (the test backend numbers its outbox) is kept for webhooks.
    assert row.message_id == str(message.anymail_status.message_id) == "0"
    assert row.attempts == 1 and row.papers


def test_one_connection_for_a_batch(raising, snapshot_day, settings):
    settings.SEND_CONCURRENCY = 1  # one message in flight: one connection (else one per thread)
    SubscriberFactory.create_batch(4)
    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    assert report.counts["sent"] == 4
    assert len(mail.outbox) == 4
    assert RaisingBackend.opened == 1


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (AnymailRecipientsRefused("refused"), Status.REJECTED),
        (AnymailAPIError("bad request", status_code=400), Status.FAILED),
        (AnymailAPIError("unauthorized", status_code=401), Status.FAILED),
    ],
    ids=["recipients-refused", "api-400", "api-401"],
)
def test_permanent_errors_settle_the_row_without_retry(raising, snapshot_day, error, status):
    SubscriberFactory()
    RaisingBackend.error = error
    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    row = Delivery.objects.get()
    assert row.status == status
    assert row.error and row.finished_at
    assert report.pending == 0


@pytest.mark.parametrize(
    "error",
    [AnymailAPIError("unavailable", status_code=503), _timeout_error()],
    ids=["api-503", "timeout"],
)
def test_transient_errors_requeue_the_row(raising, snapshot_day, error):
    SubscriberFactory()
    RaisingBackend.error = error
    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    row = Delivery.objects.get()
    assert row.status == Status.QUEUED
    assert row.attempts == 1
    assert row.error.startswith("attempt 1:")
    assert report.pending == 1 and report.counts["retrying"] == 1

    # The provider is back: the retry sends it, once.
    RaisingBackend.error = None
    deliveries_send(delivery_ids=[row.pk])
    row.refresh_from_db()
    assert row.status == Status.SENT and row.attempts == 2
    assert len(mail.outbox) == 1


def test_transient_error_on_the_last_attempt_marks_failed(raising, snapshot_day, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    SubscriberFactory()
    RaisingBackend.error = AnymailAPIError("unavailable", status_code=502)
    ids = deliveries_plan(day=snapshot_day)
    deliveries_send(delivery_ids=ids)
    report = deliveries_send(delivery_ids=ids)
    row = Delivery.objects.get()
    assert row.status == Status.FAILED
    assert row.error.startswith("gave up after 2 attempts")
    assert report.pending == 0


def test_provider_down_stops_the_batch_without_spending_attempts(raising, snapshot_day, settings):
    settings.SEND_CONCURRENCY = 1
    SubscriberFactory.create_batch(5)
    RaisingBackend.error = AnymailAPIError("unavailable", status_code=503)
    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    attempts = sorted(Delivery.objects.values_list("attempts", flat=True))
    assert attempts == [0, 0, 1, 1, 1]  # three in a row, then the batch stops
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.QUEUED}
    assert report.pending == 5


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (AnymailRecipientsRefused("x"), SendOutcome.REJECTED),
        (AnymailAPIError("x", status_code=500), SendOutcome.TRANSIENT),
        (AnymailAPIError("x", status_code=429), SendOutcome.TRANSIENT),
        (AnymailAPIError("x", status_code=422), SendOutcome.FAILED),
        (_timeout_error(), SendOutcome.TRANSIENT),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no such user")}), "rejected"),
        (smtplib.SMTPRecipientsRefused({"a@example.org": (450, b"greylisted")}), "transient"),
        (smtplib.SMTPDataError(451, b"try later"), SendOutcome.TRANSIENT),
        (smtplib.SMTPDataError(554, b"rejected"), SendOutcome.FAILED),
        (smtplib.SMTPSenderRefused(553, b"bad sender", "x@example.org"), SendOutcome.FAILED),
        (smtplib.SMTPServerDisconnected("gone"), SendOutcome.TRANSIENT),
        (ConnectionRefusedError(111, "refused"), SendOutcome.TRANSIENT),
        (TimeoutError("timed out"), SendOutcome.TRANSIENT),
        (ValueError("bug"), SendOutcome.FAILED),
    ],
)
def test_send_error_outcomes(error, outcome):
    assert send_error_outcome(error) == outcome


def test_smtp_refusal_marks_rejected(settings, snapshot_day, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

    def refuse(self, messages):
        raise smtplib.SMTPRecipientsRefused({"x@example.org": (550, b"5.1.1 unknown user")})

    monkeypatch.setattr("django.core.mail.backends.smtp.EmailBackend.open", lambda self: False)
    monkeypatch.setattr("django.core.mail.backends.smtp.EmailBackend.send_messages", refuse)
    SubscriberFactory()
    deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    assert Delivery.objects.get().status == Status.REJECTED


def test_build_error_fails_one_row_not_the_batch(anymail_test, snapshot_day, monkeypatch):
    first, second = SubscriberFactory.create_batch(2)
    from digest.composing import build

    original = build.DayBuilder.select

    def select(self, subscriber, **kwargs):
        if subscriber.pk == first.pk:
            raise RuntimeError("template bug")
        return original(self, subscriber, **kwargs)

    monkeypatch.setattr(build.DayBuilder, "select", select)
    deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    statuses = dict(Delivery.objects.values_list("subscriber_id", "status"))
    assert statuses == {first.pk: Status.FAILED, second.pk: Status.SENT}


def test_inactive_subscriber_is_suppressed_without_a_claim(anymail_test, snapshot_day):
    subscriber = SubscriberFactory()
    ids = deliveries_plan(day=snapshot_day)
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.PAUSED)
    deliveries_send(delivery_ids=ids)
    row = Delivery.objects.get()
    assert row.status == Status.SUPPRESSED and row.attempts == 0
    assert "paused" in row.error
    assert anymail_test == []


def test_send_rate_spaces_messages(anymail_test, snapshot_day, settings):
    settings.SEND_RATE_PER_SECOND = 20.0
    settings.REDIS_URL = ""
    SubscriberFactory.create_batch(6)
    ids = deliveries_plan(day=snapshot_day)
    started = time.monotonic()
    deliveries_send(delivery_ids=ids)
    assert len(anymail_test) == 6
    assert time.monotonic() - started >= 5 / 20.0 - 0.01


class WatchingBackend(AnymailTestBackend):
    """anymail's test backend, noting the rows' statuses as each message leaves."""

    seen: list[dict[str, int]] = []

    def post_to_esp(self, payload, message):
        type(self).seen.append(dict(Counter(Delivery.objects.values_list("status", flat=True))))
        return super().post_to_esp(payload, message)


@pytest.mark.parametrize("rate", [0.0, 50.0])
def test_one_row_undecided_at_a_time_and_marks_kept_in_order(settings, snapshot_day, rate):
    settings.EMAIL_BACKEND = f"{__name__}.WatchingBackend"
    settings.SEND_CONCURRENCY = 1  # one message in flight, as over SMTP
    settings.SEND_RATE_PER_SECOND = rate
    settings.REDIS_URL = ""
    WatchingBackend.seen = []
    SubscriberFactory.create_batch(4)
    deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    # As message n leaves, the n-1 before it are marked and it is the only one in flight.
    assert WatchingBackend.seen == [
        {k: v for k, v in {"sent": n, "sending": 1, "queued": 3 - n}.items() if v} for n in range(4)
    ]
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.SENT}


def test_send_rate_wait_does_not_hold_back_the_last_mark(anymail_test, snapshot_day, settings):
    settings.SEND_CONCURRENCY = 1
    settings.SEND_RATE_PER_SECOND = 20.0
    settings.REDIS_URL = ""
    SubscriberFactory.create_batch(3)
    from digest.delivery import send_rate

    seen: list[list[str]] = []
    original = send_rate.SendRateLimiter.wait

    def wait(self):
        seen.append(sorted(Delivery.objects.values_list("status", flat=True)))
        return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(send_rate.SendRateLimiter, "wait", wait)
        deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    # A killed worker sleeping for its slot has left nothing `sending`.
    assert all(Status.SENDING not in statuses for statuses in seen)
    assert seen[-1] == [Status.QUEUED, Status.SENT, Status.SENT]


@pytest.mark.parametrize("in_flight", [1, 4])
def test_a_failed_claim_keeps_the_previous_rows_outcome(
    anymail_test, snapshot_day, monkeypatch, settings, in_flight
):
    from digest.delivery import in_flight as pooled
    from digest.delivery import sender

    settings.SEND_CONCURRENCY = in_flight
    first, second = SubscriberFactory.create_batch(2)
    ids = deliveries_plan(day=snapshot_day)
    original, original_many = sender.claim_row, pooled.claim_rows

    def claim(row):
        if row.subscriber_id == second.pk:
            raise RuntimeError("database went away")
        return original(row)

    def claim_many(rows, *, marks):
        if any(row.subscriber_id == second.pk for row in rows):
            raise RuntimeError("database went away")
        return original_many(rows, marks=marks)

    monkeypatch.setattr(sender, "claim_row", claim)
    monkeypatch.setattr(pooled, "claim_rows", claim_many)  # the sending threads' claims
    with pytest.raises(RuntimeError):
        deliveries_send(delivery_ids=ids)
    # The first digest went out: its row says so, though the transaction it shared failed.
    statuses = dict(Delivery.objects.values_list("subscriber_id", "status"))
    assert statuses == {first.pk: Status.SENT, second.pk: Status.QUEUED}
    assert len(anymail_test) == 1


def test_retry_countdown_is_bounded_and_jittered(settings):
    settings.DELIVERY_RETRY_BACKOFF = 30
    settings.DELIVERY_RETRY_BACKOFF_MAX = 600
    countdowns = {retry_countdown(retries) for retries in range(12) for _ in range(5)}
    assert max(countdowns) <= 600 and min(countdowns) >= 1
    assert len(countdowns) > 10
    assert all(15 <= retry_countdown(0) <= 30 for _ in range(20))


class Retry(Exception):
    pass


def test_task_retries_with_backoff_while_rows_stay_queued(raising, snapshot_day, monkeypatch):
    SubscriberFactory()
    ids = deliveries_plan(day=snapshot_day)
    RaisingBackend.error = AnymailAPIError("unavailable", status_code=503)
    asked: dict[str, int] = {}

    def retry(countdown: int, **kwargs: object) -> Retry:
        asked["countdown"] = countdown
        return Retry()

    monkeypatch.setattr(send_batch, "retry", retry)
    before = timezone.now()
    with pytest.raises(Retry):
        send_batch(ids)
    row = Delivery.objects.get()
    assert row.status == Status.QUEUED
    assert 1 <= asked["countdown"] <= 30
    # The row counts as enqueued until the retry is due, so the planner does not double it.
    assert row.enqueued_at is not None
    assert row.enqueued_at >= before + timedelta(seconds=asked["countdown"] - 1)


def test_take_for_enqueue_takes_new_and_lost_rows_once(snapshot_day, settings):
    settings.DELIVERY_REQUEUE_AFTER = 600
    SubscriberFactory.create_batch(3)
    ids = deliveries_plan(day=snapshot_day)
    now = timezone.now()
    assert deliveries_take_for_enqueue(now=now) == ids
    assert deliveries_take_for_enqueue(now=now + timedelta(minutes=5)) == []
    Delivery.objects.filter(pk=ids[0]).update(status=Status.SENT)
    # Ten minutes on and still queued: the broker lost them; enqueue again.
    assert deliveries_take_for_enqueue(now=now + timedelta(minutes=11)) == ids[1:]
    assert deliveries_take_for_enqueue(ids=ids[:2], now=now + timedelta(minutes=30)) == [ids[1]]
