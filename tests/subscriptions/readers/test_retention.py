"""Erasure on request and the purge of signups never confirmed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from digest.models import Delivery
from subscriptions.models import Subscriber, Suppression, Topic
from subscriptions.readers.retention import subscribers_purge_unconfirmed
from subscriptions.readers.services import email_hash, is_suppressed
from subscriptions.readers.tokens import Purpose, make_token
from tests.support.factories import DeliveryFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def test_erase_from_the_manage_page_keeps_only_a_hash(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = SubscriberFactory(email="leaving@example.org", topics=["diffusion"])
    DeliveryFactory(subscriber=subscriber, status=Delivery.Status.SENT)
    url = reverse("subscriptions:erase", args=[make_token(subscriber, Purpose.MANAGE)])

    # Without the confirmation box nothing happens.
    assert client.post(url).status_code == 302
    assert Subscriber.objects.filter(pk=subscriber.pk).exists()
    assert client.get(url).status_code == 405  # GET never changes state

    response = client.post(url, {"confirm": "yes"})
    assert response.status_code == 200 and b"Your data is deleted" in response.content
    assert not Subscriber.objects.exists() and not Topic.objects.exists()
    assert not Delivery.objects.exists()
    assert Suppression.objects.get().email_hash == email_hash("leaving@example.org")
    assert is_suppressed("Leaving@Example.org")
    # Signing up again is answered as usual, but nothing is stored and nobody is emailed.
    form = {
        "email": "leaving@example.org",
        "topics": "diffusion",
        "cadence": "daily",
        "weekday": "0",
        "delivery_hour": "7",
        "timezone": "UTC",
        "max_papers": "10",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("subscriptions:subscribe"), form)
    assert response.status_code == 302  # the usual "check your inbox" answer
    assert mailoutbox == [] and not Subscriber.objects.exists()
    # ...while another address with the same form does get its confirmation.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("subscriptions:subscribe"), {**form, "email": "new@example.org"})
    assert [m.to for m in mailoutbox] == [["new@example.org"]]


def test_unconfirmed_signups_are_purged_after_a_week():
    now = timezone.now()
    old = SubscriberFactory(
        status=Subscriber.Status.PENDING, confirmed_at=None, requested_at=now - timedelta(days=8)
    )
    fresh = SubscriberFactory(
        status=Subscriber.Status.PENDING, confirmed_at=None, requested_at=now - timedelta(days=2)
    )
    confirmed_then_unsubscribed = SubscriberFactory(
        status=Subscriber.Status.UNSUBSCRIBED, requested_at=now - timedelta(days=30)
    )
    assert subscribers_purge_unconfirmed(now=now) >= 1
    remaining = set(Subscriber.objects.values_list("pk", flat=True))
    assert old.pk not in remaining
    assert {fresh.pk, confirmed_then_unsubscribed.pk} <= remaining
