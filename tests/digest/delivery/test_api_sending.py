"""Sending through a provider's HTTP API with messages in flight (SEND_CONCURRENCY): each on a
connection of its own, an outage costing a few attempts, Retry-After pausing the claims."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError
from django.core import mail

from digest.delivery.batch import deliveries_plan, deliveries_send
from digest.models import Delivery
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

Status = Delivery.Status


class SlowProviderBackend(AnymailTestBackend):
    """anymail's test backend answering after 30 ms, like a provider's API across a network;
    it notes how many messages were in flight at once and on which connections."""

    lock = threading.Lock()
    in_flight = 0
    most_in_flight = 0
    connections: set[int] = set()
    error: BaseException | None = None
    errors: list[BaseException] = []  # raised once each, in turn, before `error`

    def post_to_esp(self, payload, message):
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
            cls.connections.add(id(self))
        try:
            time.sleep(0.03)
            with cls.lock:
                once = cls.errors.pop(0) if cls.errors else None
            if once is not None:
                raise once
            if cls.error is not None:
                raise cls.error
            return super().post_to_esp(payload, message)
        finally:
            with cls.lock:
                cls.in_flight -= 1


@pytest.fixture
def slow_provider(settings):
    settings.EMAIL_BACKEND = f"{__name__}.SlowProviderBackend"
    settings.SEND_CONCURRENCY = 4
    SlowProviderBackend.most_in_flight = 0
    SlowProviderBackend.connections = set()
    SlowProviderBackend.error = None
    SlowProviderBackend.errors = []
    mail.outbox = []
    yield SlowProviderBackend
    SlowProviderBackend.error = None


def test_api_sends_up_to_send_concurrency_at_once_each_on_its_own_connection(
    slow_provider, snapshot_day
):
    subscribers = SubscriberFactory.create_batch(16)
    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    assert report.counts["sent"] == 16
    # Four requests were in flight at once: not one after another. (Wall time is no measure
    # here: it includes rendering, and it took 0.50 s against a 0.48 s bound on a loaded CI.)
    assert slow_provider.most_in_flight == 4
    assert len(slow_provider.connections) == 4  # one per sending thread, reused
    assert Counter(m.to[0] for m in mail.outbox) == Counter(s.email for s in subscribers)
    rows = Delivery.objects.all()
    assert {r.status for r in rows} == {Status.SENT}
    # Each row keeps its own message's provider id.
    ids = {m.anymail_status.message_id: m.to[0] for m in mail.outbox}
    assert {r.message_id: r.subscriber.email for r in rows.select_related("subscriber")} == {
        str(k): v for k, v in ids.items()
    }


def test_api_provider_down_with_messages_in_flight_stops_after_a_few_attempts(
    slow_provider, snapshot_day
):
    SubscriberFactory.create_batch(10)
    slow_provider.error = AnymailAPIError("unavailable", status_code=503)
    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    assert set(Delivery.objects.values_list("status", flat=True)) == {Status.QUEUED}
    assert report.pending == 10
    # The first messages were already in flight when the first failure came back; after it,
    # one at a time, and three failures in a row stop the batch.
    spent = sum(Delivery.objects.values_list("attempts", flat=True))
    assert 3 <= spent <= 3 + 4 - 1


def _too_many_requests(retry_after: str) -> AnymailAPIError:
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = retry_after
    return AnymailRequestsAPIError("slow down", status_code=429, response=response)


def test_retry_after_pauses_the_next_claims(slow_provider, snapshot_day, settings):
    from digest.delivery.sending_errors import send_error_retry_after as retry_after

    settings.REDIS_URL = ""
    assert retry_after(_too_many_requests("2")) == 2.0
    assert retry_after(AnymailAPIError("x", status_code=429)) is None
    subscribers = SubscriberFactory.create_batch(8)
    slow_provider.errors = [_too_many_requests("1")]
    started = time.monotonic()
    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    # The first four went at once; the first answer was 429 with Retry-After: 1, and the next
    # claim waited that second.
    assert time.monotonic() - started >= 1.0
    assert report.counts["sent"] == 7 and report.pending == 1
    assert Counter(Delivery.objects.values_list("status", flat=True)) == {
        Status.SENT: 7,
        Status.QUEUED: 1,
    }
    assert len({m.to[0] for m in mail.outbox}) == 7 < len(subscribers)
