"""/confirm/<token>/: GET shows a button, POST confirms; bad links get a friendly 4xx page."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from subscriptions.models import Subscriber
from subscriptions.readers.tokens import Purpose, make_token
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending():
    return SubscriberFactory(email="p@example.org", status="pending", confirmed_at=None)


def url(subscriber, purpose=Purpose.CONFIRM):
    return reverse("subscriptions:confirm", args=[make_token(subscriber, purpose)])


def test_get_shows_a_button_and_changes_nothing(client, pending):
    response = client.get(url(pending))
    assert response.status_code == 200
    assert '<form method="post">' in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == "pending" and pending.confirmed_at is None


def test_post_activates(client, pending):
    response = client.post(url(pending))
    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.status == "active" and pending.confirmed_at is not None
    assert "You're subscribed" in response.content.decode().replace("&#x27;", "'")
    assert "/manage/" in response.content.decode()


def test_confirming_twice_is_harmless(client, pending):
    link = url(pending)
    client.post(link)
    first = Subscriber.objects.get(pk=pending.pk).confirmed_at
    assert client.post(link).status_code == 200
    assert Subscriber.objects.get(pk=pending.pk).confirmed_at == first


def test_a_used_link_says_the_address_is_confirmed_and_offers_no_button(client, pending):
    link = url(pending)
    client.post(link)
    first = Subscriber.objects.get(pk=pending.pk).confirmed_at
    html = client.get(link).content.decode().replace("&#x27;", "'")
    assert "You're subscribed" in html and "already confirmed" in html
    assert "Yes, send me the digest" not in html and "/manage/" in html
    assert Subscriber.objects.get(pk=pending.pk).confirmed_at == first


def test_the_schedule_is_said_in_the_email_and_on_both_pages(
    client, django_capture_on_commit_callbacks
):
    from tests.subscriptions.conftest import signup_data

    data = signup_data("week@example.org", cadence="weekly", weekday="2", delivery_hour="18")
    data["timezone"] = "America/New_York"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("subscriptions:subscribe"), data)
    schedule = "every Wednesday at 18:00 (America/New_York)"
    (message,) = mail.outbox
    assert schedule in " ".join(message.body.split()) and schedule in message.alternatives[0][0]
    link = next(w for w in message.body.split() if "/confirm/" in w)
    path = link.removeprefix("https://digest.example.org")
    assert schedule in client.get(path).content.decode()
    assert schedule in client.post(path).content.decode()


def test_link_expires(client, pending, settings):
    settings.CONFIRM_MAX_AGE_DAYS = 7
    link = url(pending)
    with time_machine.travel(timezone.now() + dt.timedelta(days=8)):
        response = client.post(link)
        assert client.get(link).status_code == 410
    assert response.status_code == 410
    html = response.content.decode()
    assert "expired" in html and reverse("subscriptions:resend") in html
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_link_still_works_before_expiry(client, pending):
    link = url(pending)
    with time_machine.travel(timezone.now() + dt.timedelta(days=6)):
        assert client.post(link).status_code == 200


@pytest.mark.parametrize("purpose", [Purpose.MANAGE, Purpose.UNSUBSCRIBE, Purpose.VIEW])
def test_other_purposes_are_refused(client, pending, purpose):
    response = client.post(url(pending, purpose))
    assert response.status_code == 400
    pending.refresh_from_db()
    assert pending.status == "pending"


@pytest.mark.parametrize("token", ["garbage", "x" * 300, "1:2:3"])
def test_tampered_link_is_a_friendly_400(client, pending, token):
    response = client.post(reverse("subscriptions:confirm", args=[token]))
    assert response.status_code == 400
    assert "Send me a new link" in response.content.decode()


def test_token_version_bump_revokes(client, pending):
    link = url(pending)
    Subscriber.objects.filter(pk=pending.pk).update(token_version=2)
    assert client.post(link).status_code == 400
    assert Subscriber.objects.get(pk=pending.pk).status == "pending"


def test_unsubscribed_reader_cannot_be_confirmed_by_an_old_link(client):
    subscriber = SubscriberFactory(status="unsubscribed")
    response = client.post(url(subscriber))
    assert response.status_code == 409
    assert Subscriber.objects.get(pk=subscriber.pk).status == "unsubscribed"


def test_resend_answers_like_signup_and_sends_the_right_email(
    client, pending, django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("subscriptions:resend"), {"email": "p@example.org"})
        unknown = client.post(reverse("subscriptions:resend"), {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("subscriptions:check_inbox")
    assert [m.to for m in mail.outbox] == [["p@example.org"]]
    assert "/confirm/" in mail.outbox[0].body


def test_a_reader_who_asks_for_a_new_link_is_not_told_someone_tried_to_subscribe(
    client, django_capture_on_commit_callbacks
):
    SubscriberFactory(email="a@example.org", status="active")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("subscriptions:resend"), {"email": "a@example.org"})
    (message,) = mail.outbox
    html = message.alternatives[0][0]
    assert "asked for a new link to the" in message.body and "/manage/" in message.body
    assert "tried to subscribe" not in message.body + html
    assert "Your new link" in html


def test_confirmation_email_link_confirms(client, django_capture_on_commit_callbacks):
    from tests.subscriptions.conftest import signup_data

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("subscriptions:subscribe"), signup_data("flow@example.org"))
    link = next(w for w in mail.outbox[0].body.split() if "/confirm/" in w)
    path = link.removeprefix("https://digest.example.org")
    assert client.post(path).status_code == 200
    assert Subscriber.objects.get(email="flow@example.org").status == "active"
