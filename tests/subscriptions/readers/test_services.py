"""The subscriber services behind the reader's pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail

from subscriptions.models import Subscriber, Suppression
from subscriptions.readers import services
from subscriptions.readers.services import Preferences, SignupEmail
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 7, 8, tzinfo=UTC)


def request(email="s@example.org", **prefs):
    return services.subscriber_request(
        email=email,
        preferences=Preferences(**prefs),
        consent_ip="192.0.2.1",
        consent_text="the wording",
    )


def test_request_creates_pending_with_provenance():
    subscriber = request(topics=("a", "b", "a"), cadence="weekly", weekday=3)
    assert subscriber is not None
    assert subscriber.status == "pending"
    assert (subscriber.consent_ip, subscriber.consent_text) == ("192.0.2.1", "the wording")
    assert (subscriber.cadence, subscriber.weekday) == ("weekly", 3)
    assert [t.query for t in subscriber.topics.all()] == ["a", "b"]


def test_request_leaves_a_confirmed_reader_alone():
    reader = SubscriberFactory(status="active", topics=["keep me"], max_papers=7)
    assert request(reader.email, topics=("other",), max_papers=3) == reader
    reader.refresh_from_db()
    assert reader.max_papers == 7 and [t.query for t in reader.topics.all()] == ["keep me"]


@pytest.mark.parametrize(
    ("status", "confirmed_at"), [("unsubscribed", None), ("bounced", None), ("bounced", NOW)]
)
def test_request_brings_an_address_that_never_read_or_bounced_back_to_pending(status, confirmed_at):
    reader = SubscriberFactory(status=status, confirmed_at=confirmed_at, topics=["old"])
    request(reader.email, topics=("new",))
    assert Subscriber.objects.get(pk=reader.pk).status == "pending"
    assert [t.query for t in reader.topics.all()] == ["new"]


def test_request_leaves_a_reader_who_unsubscribed_alone():
    reader = SubscriberFactory(status="unsubscribed", confirmed_at=NOW, topics=["keep me"])
    assert request(reader.email, topics=("other",)) == reader
    assert Subscriber.objects.get(pk=reader.pk).status == "unsubscribed"
    assert [t.query for t in reader.topics.all()] == ["keep me"]


def test_request_ignores_suppressed_and_complained():
    Suppression.objects.create(email_hash=services.email_hash("x@example.org"), reason="erased")
    complained = SubscriberFactory(status="complained")
    assert request("X@example.org") is None
    assert request(complained.email) is None
    assert not Subscriber.objects.filter(email="x@example.org").exists()
    assert Subscriber.objects.get(pk=complained.pk).status == "complained"


def test_confirm_pause_resume_unsubscribe_resubscribe():
    reader = SubscriberFactory(status="pending", confirmed_at=None)
    services.subscriber_confirm(subscriber=reader)
    assert reader.status == "active" and reader.confirmed_at
    services.subscriber_pause(subscriber=reader)
    assert reader.status == "paused"
    services.subscriber_resume(subscriber=reader)
    assert reader.status == "active"
    services.subscriber_unsubscribe(subscriber=reader)
    with pytest.raises(services.SubscriberStateError):
        services.subscriber_confirm(subscriber=reader)
    with pytest.raises(services.SubscriberStateError):
        services.subscriber_pause(subscriber=reader)
    services.subscriber_resubscribe(subscriber=reader)
    assert Subscriber.objects.get(pk=reader.pk).status == "active"


def test_resubscribe_refuses_a_suppressed_address():
    reader = SubscriberFactory(status="unsubscribed")
    Suppression.objects.create(email_hash=services.email_hash(reader.email), reason="complaint")
    with pytest.raises(services.SubscriberStateError):
        services.subscriber_resubscribe(subscriber=reader)


def test_update_preferences_replaces_topics():
    reader = SubscriberFactory(topics=["old"])
    services.subscriber_update_preferences(
        subscriber=reader, preferences=Preferences(topics=("new",), min_upvotes=4)
    )
    reader.refresh_from_db()
    assert reader.min_upvotes == 4 and [t.query for t in reader.topics.all()] == ["new"]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("pending", SignupEmail.CONFIRM),
        ("active", SignupEmail.MANAGE_LINK),
        ("paused", SignupEmail.MANAGE_LINK),
        ("unsubscribed", SignupEmail.MANAGE_LINK),  # had confirmed: resubscribe from there
        ("bounced", SignupEmail.NONE),
    ],
)
def test_signup_email_kind(status, kind):
    reader = SubscriberFactory(status=status, topics=["<script>x</script>"])
    assert services.signup_email_send(email=reader.email) == kind
    assert len(mail.outbox) == (0 if kind == SignupEmail.NONE else 1)
    if kind != SignupEmail.NONE:
        message = mail.outbox[0]
        html = message.alternatives[0][0]
        assert message.to == [reader.email]
        assert "/unsubscribe/" in message.body and "/unsubscribe/" in html
        assert "<script>x</script>" not in html


def test_signup_email_for_unknown_or_suppressed_sends_nothing():
    assert services.signup_email_send(email="nobody@example.org") == SignupEmail.NONE
    reader = SubscriberFactory(status="pending")
    Suppression.objects.create(email_hash=services.email_hash(reader.email), reason="erased")
    assert services.signup_email_send(email=reader.email) == SignupEmail.NONE
    assert mail.outbox == []
