"""Deliver by feed only: the digest is built on the reader's schedule, kept on the delivery row
as `sent` (message id "feed"), and never mailed; exactly once, like an email."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command

from digest.delivery.batch import deliveries_plan, deliveries_send
from digest.delivery.sender import FEED_MESSAGE_ID
from digest.models import Delivery
from subscriptions.models import Subscriber
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["one-at-a-time", "pooled"])
def backend(request, settings):
    """The plain batch sender (locmem), and the provider's pooled sender (anymail's test
    backend with several messages in flight)."""
    if request.param == "pooled":
        settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
        settings.SEND_CONCURRENCY = 4
    mail.outbox = []
    return request.param


def test_feed_only_reader_gets_the_same_selection_and_no_email(backend, snapshot_day):
    emailed = SubscriberFactory(email="inbox@example.org", topics=["diffusion", "agents"])
    feed_only = SubscriberFactory(
        email="feeds@example.org",
        topics=["diffusion", "agents"],
        deliver_by=Subscriber.DeliverBy.FEED,
    )
    both = SubscriberFactory(
        email="both@example.org", topics=["diffusion"], deliver_by=Subscriber.DeliverBy.BOTH
    )

    report = deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))

    assert sorted(m.to[0] for m in mail.outbox) == [both.email, emailed.email]
    assert report.counts["sent"] == 2 and report.counts["published to feeds"] == 1
    by_reader = {row.subscriber_id: row for row in Delivery.objects.all()}
    published = by_reader[feed_only.pk]
    assert published.status == Delivery.Status.SENT
    assert published.message_id == FEED_MESSAGE_ID
    assert published.attempts == 1 and published.finished_at is not None
    assert published.subject == by_reader[emailed.pk].subject  # listed on the manage page
    # The same topics on the same day: the same papers, sections and reasons as the email.
    assert published.papers and published.papers == by_reader[emailed.pk].papers


def test_feed_only_digest_is_published_once(backend, snapshot_day):
    SubscriberFactory(topics=["diffusion"], deliver_by=Subscriber.DeliverBy.FEED)
    ids = deliveries_plan(day=snapshot_day)
    deliveries_send(delivery_ids=ids)
    row = Delivery.objects.get()
    finished = row.finished_at

    # A duplicate broker message and a second plan: the row is not queued, nothing changes.
    again = deliveries_send(delivery_ids=ids)
    assert deliveries_plan(day=snapshot_day) == []
    assert again.counts["skipped"] == 1 and not again.counts["published to feeds"]
    row.refresh_from_db()
    assert row.finished_at == finished and row.attempts == 1
    assert mail.outbox == []


def test_feed_only_day_with_nothing_new_is_suppressed_like_an_email(backend, snapshot_day):
    SubscriberFactory(deliver_by=Subscriber.DeliverBy.FEED, quiet_day_note=True)
    # A day with no listing: nothing to publish, and no "quiet day" note (no email at all).
    deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day + timedelta(days=1)))
    row = Delivery.objects.get()
    assert row.status == Delivery.Status.SUPPRESSED
    assert row.error == "nothing new to send"
    assert mail.outbox == []


def test_preview_says_a_feed_only_reader_gets_no_email(snapshot_day):
    SubscriberFactory(email="feeds@example.org", topics=["diffusion"], deliver_by="feed")
    out = StringIO()
    call_command(
        "preview_digest", "feeds@example.org", "--date", str(snapshot_day), "--format", "json",
        stdout=out,
    )  # fmt: skip
    found = json.loads(out.getvalue())
    assert found["would_send"] is False
    assert "feed only" in found["not_sent_because"]
