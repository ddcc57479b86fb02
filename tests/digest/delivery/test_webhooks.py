"""Delivery webhooks through anymail, with Postmark's payloads posted by the Django test client.

Payload shapes from https://postmarkapp.com/developer/webhooks/bounce-webhook (and the spam
complaint and subscription change pages).
"""

from __future__ import annotations

import base64
import json

import pytest

from digest.models import DeliveryEvent
from subscriptions.models import Subscriber, Suppression
from subscriptions.readers.services import email_hash
from tests.support.factories import DeliveryFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

URL = "/anymail/postmark/tracking/"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    # Postmark configured, as the issue found it (its backend is never called here).
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.WEBHOOK_ESP = "postmark"
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:s3cret", "POSTMARK_SERVER_TOKEN": "token"}


def auth(credentials: str = "hook:s3cret") -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def bounce(
    email: str,
    *,
    type_: str = "HardBounce",
    event_id: int = 4323372036854775807,
    delivery_id: int | None = None,
) -> dict[str, object]:
    return {
        "RecordType": "Bounce",
        "ID": event_id,
        "Type": type_,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "digest",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {"delivery_id": str(delivery_id)} if delivery_id else {},
        "ServerID": 23,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message (unknown user).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "digest@digest.example.org",
        "BouncedAt": "2026-11-24T07:33:54.9070259Z",
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Your digest",
    }


def complaint(email: str, *, event_id: int = 42) -> dict[str, object]:
    payload = bounce(email, type_="SpamComplaint", event_id=event_id)
    payload["RecordType"] = "SpamComplaint"
    return payload


def subscription_change(email: str) -> dict[str, object]:
    return {
        "RecordType": "SubscriptionChange",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "ServerID": 23,
        "MessageStream": "outbound",
        "ChangedAt": "2026-11-24T10:53:34.416071Z",
        "Recipient": email,
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "digest",
        "Metadata": {},
    }


def post(client, payload: dict[str, object], **headers: str):
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **headers)


def test_good_credentials_200(client):
    assert post(client, bounce("nobody@example.org"), **auth()).status_code == 200


@pytest.mark.parametrize("headers", [{}, auth("hook:wrong"), auth("other:s3cret")])
def test_bad_or_missing_credentials_400_and_nothing_changes(client, headers):
    subscriber = SubscriberFactory(email="r@example.org")
    assert post(client, bounce("r@example.org"), **headers).status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert not DeliveryEvent.objects.exists()


def test_a_rotated_secret_accepts_the_old_and_the_new_pair(client, settings):
    """ANYMAIL_WEBHOOK_SECRET=old,new while the provider is switched over: both are accepted,
    anything else still refused, and the old one alone is refused once it is dropped."""
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:s3cret, hook:n3w-secret"}
    SubscriberFactory(email="gone@example.com")
    for credentials in ("hook:s3cret", "hook:n3w-secret"):
        response = client.post(
            URL, json.dumps(bounce("gone@example.com")), "application/json", **auth(credentials)
        )
        assert response.status_code == 200, credentials
    for credentials in ("hook:other", "hook:s3cret, hook:n3w-secret", "hook:s3cret,"):
        response = client.post(
            URL, json.dumps(bounce("gone@example.com")), "application/json", **auth(credentials)
        )
        assert response.status_code == 400, credentials

    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "hook:n3w-secret"}
    response = client.post(
        URL, json.dumps(bounce("gone@example.com")), "application/json", **auth("hook:s3cret")
    )
    assert response.status_code == 400


def test_hard_bounce_suppresses_and_links_the_delivery(client):
    delivery = DeliveryFactory(subscriber=SubscriberFactory(email="r@example.org"))
    post(client, bounce("r@example.org", delivery_id=delivery.pk), **auth())
    subscriber = Subscriber.objects.get(email="r@example.org")
    assert subscriber.status == Subscriber.Status.BOUNCED
    assert Suppression.objects.filter(email_hash=email_hash("r@example.org"), reason="bounced")
    event = DeliveryEvent.objects.get()
    assert event.delivery == delivery
    assert event.event_type == "bounced" and event.esp_name == "Postmark"


def test_complaint_suppresses(client):
    SubscriberFactory(email="r@example.org")
    post(client, complaint("r@example.org"), **auth())
    assert Subscriber.objects.get().status == Subscriber.Status.COMPLAINED
    assert Suppression.objects.get().reason == "complained"


def test_unsubscribe_event_unsubscribes(client):
    SubscriberFactory(email="r@example.org")
    post(client, subscription_change("r@example.org"), **auth())
    subscriber = Subscriber.objects.get()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert subscriber.unsubscribed_at is not None
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("type_", ["Transient", "SoftBounce", "DnsError"])
def test_deferred_and_soft_bounces_do_not_suppress(client, type_):
    SubscriberFactory(email="r@example.org")
    assert post(client, bounce("r@example.org", type_=type_), **auth()).status_code == 200
    assert Subscriber.objects.get().status == Subscriber.Status.ACTIVE
    assert not Suppression.objects.exists()
    assert DeliveryEvent.objects.count() == 1


def test_duplicate_event_is_processed_once(client):
    subscriber = SubscriberFactory(email="r@example.org")
    post(client, subscription_change("r@example.org"), **auth())
    # The reader comes back; a late duplicate of the old event must not unsubscribe them again.
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.ACTIVE)
    assert post(client, subscription_change("r@example.org"), **auth()).status_code == 200
    assert Subscriber.objects.get().status == Subscriber.Status.ACTIVE
    assert DeliveryEvent.objects.count() == 1


def test_duplicate_bounce_by_event_id(client):
    SubscriberFactory(email="r@example.org")
    post(client, bounce("r@example.org", event_id=7), **auth())
    post(client, bounce("r@example.org", event_id=7), **auth())
    post(client, bounce("r@example.org", event_id=8), **auth())
    assert DeliveryEvent.objects.count() == 2


def test_unknown_recipient_is_recorded_only(client):
    assert post(client, bounce("stranger@example.org"), **auth()).status_code == 200
    assert DeliveryEvent.objects.get().recipient == "stranger@example.org"
    assert not Subscriber.objects.exists()


# --- Faults (issue 15): only our provider's URL; a malformed body is 400, never 500 ------------


@pytest.mark.parametrize(
    "url",
    [
        "/anymail/mailgun/tracking/",
        "/anymail/amazon_ses/tracking/",
        "/anymail/sendgrid/tracking/",
        "/anymail/postmark/inbound/",
        "/anymail/mandrill/",
        "/anymail/nonsense/tracking/",
    ],
)
@pytest.mark.parametrize("headers", [{}, auth()])
def test_other_providers_urls_do_not_exist(client, url, headers):
    assert (
        client.post(url, data=b"{}", content_type="application/json", **headers).status_code == 404
    )
    assert client.get(url, **headers).status_code == 404


def test_no_webhook_without_a_provider(client, settings):
    settings.WEBHOOK_ESP = ""
    assert post(client, bounce("nobody@example.org"), **auth()).status_code == 404


def test_webhook_esp_follows_an_anymail_email_backend(monkeypatch):
    import importlib

    import config.settings

    monkeypatch.setenv("EMAIL_BACKEND", "anymail.backends.amazon_ses.EmailBackend")
    monkeypatch.delenv("WEBHOOK_ESP", raising=False)
    try:
        assert importlib.reload(config.settings).WEBHOOK_ESP == "amazon_ses"
        monkeypatch.setenv("EMAIL_BACKEND", "digest.mail_backends.SMTPBackend")
        assert importlib.reload(config.settings).WEBHOOK_ESP == ""
        monkeypatch.setenv("WEBHOOK_ESP", "postmark")
        assert importlib.reload(config.settings).WEBHOOK_ESP == "postmark"
    finally:
        monkeypatch.undo()
        importlib.reload(config.settings)


MALFORMED = [
    b"",
    b"{",
    b"not json",
    b"[]",
    b"null",
    b"0",
    b'"a string"',
    b"\xff\xfe\x00binary",
    b'{"RecordType": "Bounce", "BouncedAt": 12}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "BouncedAt": "2026-13-45T99:00:00Z"}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "Metadata": "x"}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "Metadata": []}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": 5}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": ["r@example.org"]}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "Email": "r\\u0000@example.org"}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "ID": "1\\u0000"}',
    b'{"RecordType": "Bounce", "Type": "HardBounce", "Description": {"a": 1}}',
    b'{"FromFull": {"Email": "a@example.org"}}',
    b'{"RecordType": ["Bounce"]}',
]


@pytest.mark.parametrize("body", MALFORMED)
def test_malformed_body_from_an_authenticated_caller_is_400(client, body):
    subscriber = SubscriberFactory(email="r@example.org")
    response = client.post(URL, data=body, content_type="application/json", **auth())
    assert response.status_code == 400, body
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert not DeliveryEvent.objects.exists()


@pytest.mark.parametrize("delivery_id", ["99999999999999999999999", "-1", "0", "x", "1e3"])
def test_a_forged_delivery_id_still_finds_the_reader_by_address(client, delivery_id):
    SubscriberFactory(email="r@example.org")
    payload = bounce("r@example.org")
    payload["Metadata"] = {"delivery_id": delivery_id}
    assert post(client, payload, **auth()).status_code == 200
    assert Subscriber.objects.get().status == Subscriber.Status.BOUNCED
    assert DeliveryEvent.objects.get().delivery is None


def test_refusals_do_not_mail_the_operators(client, settings, mailoutbox):
    """A 500 (and Django's ERROR log of a SuspiciousOperation) reaches ADMINS by mail."""
    settings.DEBUG = False
    settings.ADMINS = [("Operators", "ops@example.org")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert post(client, bounce("r@example.org"), **auth("hook:wrong")).status_code == 400
    assert (
        client.post(URL, data=b"[]", content_type="application/json", **auth()).status_code == 400
    )
    assert (
        client.post("/anymail/mailgun/tracking/", data=b"", content_type="text/plain").status_code
        == 404
    )
    assert mailoutbox == []


def test_misconfigured_provider_is_a_startup_error(settings):
    from digest.web.webhooks import check_webhook_configuration

    assert check_webhook_configuration() == []
    settings.WEBHOOK_ESP = "mailgun"  # no ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY
    (error,) = check_webhook_configuration()
    assert error.id == "subscriptions.E002" and "WEBHOOK_SIGNING_KEY" in error.msg
    settings.WEBHOOK_ESP = "postmrak"
    assert [e.id for e in check_webhook_configuration()] == ["subscriptions.E001"]
    settings.WEBHOOK_ESP = "postmark"
    settings.ANYMAIL = {}
    assert [e.id for e in check_webhook_configuration()] == ["subscriptions.W001"]
