"""/unsubscribe/<token>/: GET shows a button, POST (including RFC 8058 one-click) unsubscribes."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from django.urls import reverse
from django.utils import timezone

from subscriptions.models import Subscriber
from subscriptions.readers.tokens import Purpose, make_token
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def active():
    return SubscriberFactory(email="a@example.org", status="active")


def url(subscriber, purpose=Purpose.UNSUBSCRIBE):
    return reverse("subscriptions:unsubscribe", args=[make_token(subscriber, purpose)])


def test_get_shows_one_button_and_changes_nothing(client, active):
    response = client.get(url(active))
    assert response.status_code == 200
    assert response.content.decode().count("<button") == 1
    assert Subscriber.objects.get(pk=active.pk).status == "active"


def test_post_unsubscribes_and_offers_to_resubscribe(client, active):
    response = client.post(url(active))
    assert response.status_code == 200
    html = response.content.decode()
    assert "unsubscribed" in html and "/resubscribe/" in html
    active.refresh_from_db()
    assert active.status == "unsubscribed" and active.unsubscribed_at is not None


def test_one_click_urlencoded_without_cookies_or_csrf(active):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        url(active),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "Location" not in response
    assert Subscriber.objects.get(pk=active.pk).status == "unsubscribed"


def test_one_click_multipart_without_cookies_or_csrf(active):
    client = Client(enforce_csrf_checks=True)
    # The test client encodes a dict as multipart/form-data by default.
    response = client.post(url(active), {"List-Unsubscribe": "One-Click"})
    assert response.request["CONTENT_TYPE"].startswith(MULTIPART_CONTENT)
    assert response.status_code == 200
    assert "Location" not in response
    assert Subscriber.objects.get(pk=active.pk).status == "unsubscribed"


@pytest.mark.parametrize("purpose", [Purpose.CONFIRM, Purpose.MANAGE])
def test_other_purposes_are_refused(active, purpose):
    response = Client(enforce_csrf_checks=True).post(url(active, purpose))
    assert response.status_code == 400
    assert Subscriber.objects.get(pk=active.pk).status == "active"


def test_tampered_token_is_4xx_and_changes_nothing(active):
    token = make_token(active, Purpose.UNSUBSCRIBE)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = Client(enforce_csrf_checks=True).post(
        reverse("subscriptions:unsubscribe", args=[tampered]),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert 400 <= response.status_code < 500
    assert Subscriber.objects.get(pk=active.pk).status == "active"


def test_never_expires_and_survives_a_token_version_bump(client, active):
    link = url(active)
    Subscriber.objects.filter(pk=active.pk).update(token_version=5)
    with time_machine.travel(timezone.now() + dt.timedelta(days=400)):
        assert client.post(link).status_code == 200
    assert Subscriber.objects.get(pk=active.pk).status == "unsubscribed"


def test_already_unsubscribed_get_shows_the_unsubscribed_page(client):
    gone = SubscriberFactory(status="unsubscribed")
    response = client.get(url(gone))
    assert response.status_code == 200
    assert "/resubscribe/" in response.content.decode()


def test_resubscribe_reactivates_a_reader_who_had_confirmed(client, active):
    client.post(url(active))
    token = make_token(Subscriber.objects.get(pk=active.pk), Purpose.MANAGE)
    response = client.post(reverse("subscriptions:resubscribe", args=[token]))
    assert response.status_code == 200
    active.refresh_from_db()
    assert active.status == "active" and active.unsubscribed_at is None


def test_resubscribe_get_is_refused(client):
    gone = SubscriberFactory(status="unsubscribed")
    token = make_token(gone, Purpose.MANAGE)
    assert client.get(reverse("subscriptions:resubscribe", args=[token])).status_code == 405
    assert Subscriber.objects.get(pk=gone.pk).status == "unsubscribed"


def test_resubscribe_needs_csrf(active):
    gone = SubscriberFactory(status="unsubscribed")
    token = make_token(gone, Purpose.MANAGE)
    response = Client(enforce_csrf_checks=True).post(
        reverse("subscriptions:resubscribe", args=[token])
    )
    assert response.status_code == 403


def test_resubscribe_never_confirmed_goes_back_to_pending_with_an_email(
    client, django_capture_on_commit_callbacks, settings
):
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    gone = SubscriberFactory(status="unsubscribed", confirmed_at=None)
    token = make_token(gone, Purpose.MANAGE)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("subscriptions:resubscribe", args=[token]))
    assert response.status_code == 302
    assert Subscriber.objects.get(pk=gone.pk).status == "pending"
    assert "/confirm/" in mail.outbox[0].body
