"""POST /subscribe/: double opt-in, the same answer for every address, abuse controls."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from subscriptions.models import Subscriber, Suppression
from subscriptions.readers.services import email_hash
from subscriptions.readers.tokens import Purpose, make_token
from subscriptions.web.forms import consent_text
from tests.subscriptions.conftest import signup_data
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
URL = reverse("subscriptions:subscribe")


def post(client, data, capture):
    with capture(execute=True):
        return client.post(URL, data, REMOTE_ADDR="203.0.113.7")


def test_form_shows_fields_syntax_help_and_consent(client):
    response = client.get(URL + "?email=a%40example.org")
    html = response.content.decode()
    assert response.status_code == 200
    for name in (
        "email",
        "topics",
        "cadence",
        "weekday",
        "delivery_hour",
        "timezone",
        "max_papers",
    ):
        assert f'name="{name}"' in html
    assert 'value="a@example.org"' in html
    assert 'author:"Yann LeCun"' in html
    assert "cat:cs.CL" in html and "-survey" in html and " OR " in html
    assert consent_text() in unescape(html)
    assert 'data-prefill="browser"' in html
    assert reverse("subscriptions:preview") in html


def test_the_cap_says_recommended_papers_come_on_top(client, settings):
    html = unescape(client.get(URL).content.decode())
    assert "Papers per email (at most)" in html
    assert f"up to {settings.DIGEST_RECOMMENDED_COUNT} recommended papers come on top" in html


def test_new_address_becomes_pending_with_consent_and_gets_a_confirmation(
    client, django_capture_on_commit_callbacks
):
    response = post(client, signup_data("New@Example.org "), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == reverse("subscriptions:check_inbox")
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "new@example.org"
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.consent_ip == "203.0.113.7"
    assert subscriber.consent_source == "form"
    assert subscriber.consent_text == consent_text()
    assert subscriber.requested_at is not None and subscriber.confirmed_at is None
    assert subscriber.timezone == "Europe/Paris"
    assert [t.query for t in subscriber.topics.all()] == ["diffusion transformer", "cat:cs.CL"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new@example.org"]
    assert "Confirm" in message.subject
    assert "https://digest.example.org/confirm/" in message.body
    assert "/confirm/" in message.alternatives[0][0]


@pytest.mark.parametrize("status", ["pending", "active", "paused", "unsubscribed", "suppressed"])
def test_same_answer_for_every_kind_of_address(
    client, django_capture_on_commit_callbacks, mask_csrf, status
):
    baseline = post(client, signup_data("fresh@example.org"), django_capture_on_commit_callbacks)
    if status == "suppressed":
        Suppression.objects.create(email_hash=email_hash("known@example.org"), reason="erased")
    else:
        SubscriberFactory(email="known@example.org", status=status)
    known = post(client, signup_data("known@example.org"), django_capture_on_commit_callbacks)
    assert known.status_code == baseline.status_code
    assert known.content == baseline.content
    assert known.headers == baseline.headers
    page_new = client.get(baseline["Location"])
    page_known = client.get(known["Location"])
    assert mask_csrf(page_new.content) == mask_csrf(page_known.content)


def test_invalid_form_page_is_the_same_for_known_and_new_addresses(client, mask_csrf):
    SubscriberFactory(email="known@example.org", status="active")
    bad = {"topics": "(unclosed"}
    first = client.post(URL, signup_data("known@example.org", **bad))
    second = client.post(URL, signup_data("other@example.org", **bad))
    assert first.status_code == second.status_code == 200
    unmasked = [
        mask_csrf(r.content).replace(e, b"")
        for r, e in ((first, b"known@example.org"), (second, b"other@example.org"))
    ]
    assert unmasked[0] == unmasked[1]


@pytest.mark.parametrize(
    ("status", "confirmed", "subject_word", "new_status"),
    [
        ("pending", False, "Confirm", "pending"),
        ("active", True, "settings", "active"),
        ("paused", True, "settings", "paused"),
        ("unsubscribed", True, "settings", "unsubscribed"),
        ("unsubscribed", False, "Confirm", "pending"),
        ("bounced", True, "Confirm", "pending"),
    ],
)
def test_which_email_each_address_gets(
    client, django_capture_on_commit_callbacks, status, confirmed, subject_word, new_status
):
    SubscriberFactory(
        email="known@example.org",
        status=status,
        timezone="UTC",
        topics=["saved topic"],
        confirmed_at=timezone.now() if confirmed else None,
    )
    post(client, signup_data("known@example.org"), django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert subject_word in mail.outbox[0].subject
    subscriber = Subscriber.objects.get(email="known@example.org")
    assert subscriber.status == new_status
    if subject_word == "settings":
        # An anonymous form never rewrites the settings a reader once confirmed.
        assert subscriber.timezone == "UTC"
        assert [t.query for t in subscriber.topics.all()] == ["saved topic"]
        assert "/manage/" in mail.outbox[0].body
    else:
        assert subscriber.timezone == "Europe/Paris"


def test_a_strangers_signup_keeps_a_former_readers_topics_for_her_to_resubscribe(
    client, django_capture_on_commit_callbacks
):
    grace = SubscriberFactory(
        email="grace@example.org", status="active", topics=["self-supervised", "diffusion"]
    )
    client.post(reverse("subscriptions:unsubscribe", args=[make_token(grace, Purpose.UNSUBSCRIBE)]))
    grace.refresh_from_db()
    assert grace.status == "unsubscribed"

    post(
        client,
        signup_data("grace@example.org", topics="graph neural"),
        django_capture_on_commit_callbacks,
    )

    grace.refresh_from_db()
    assert grace.status == "unsubscribed"
    assert [t.query for t in grace.topics.all()] == ["self-supervised", "diffusion"]
    (message,) = mail.outbox
    assert "You unsubscribed earlier, so nothing changed" in message.body
    assert "The topics and settings in that form were not saved; yours are kept." in message.body
    assert "Resubscribe" in message.alternatives[0][0]
    # Her link opens her page with her topics, and one press brings her digest back.
    manage = next(w for w in message.body.split() if "/manage/" in w)
    path = manage.removeprefix("https://digest.example.org")
    page = client.get(path).content.decode()
    assert "self-supervised" in page and "graph neural" not in page
    token = path.rstrip("/").rsplit("/", 1)[1]
    client.post(reverse("subscriptions:resubscribe", args=[token]))
    grace.refresh_from_db()
    assert grace.status == "active"
    assert [t.query for t in grace.topics.all()] == ["self-supervised", "diffusion"]


def test_suppressed_address_gets_nothing_and_is_not_stored(
    client, django_capture_on_commit_callbacks
):
    Suppression.objects.create(email_hash=email_hash("gone@example.org"), reason="erased")
    response = post(client, signup_data("gone@example.org"), django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert mail.outbox == []
    assert not Subscriber.objects.exists()


def test_the_email_task_is_queued_for_every_address(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[str] = []
    monkeypatch.setattr(
        "subscriptions.readers.tasks.send_signup_email.delay",
        lambda email, asked: queued.append(email),
    )
    Suppression.objects.create(email_hash=email_hash("gone@example.org"), reason="erased")
    SubscriberFactory(email="active@example.org", status="active")
    for email in ("gone@example.org", "active@example.org", "new@example.org"):
        post(client, signup_data(email), django_capture_on_commit_callbacks)
    assert queued == ["gone@example.org", "active@example.org", "new@example.org"]


def test_honeypot_gets_the_same_answer_and_nothing_happens(
    client, django_capture_on_commit_callbacks
):
    human = post(client, signup_data("human@example.org"), django_capture_on_commit_callbacks)
    mail.outbox.clear()
    bot = post(
        client,
        signup_data("bot@example.org", website="http://spam.example"),
        django_capture_on_commit_callbacks,
    )
    assert (bot.status_code, bot["Location"]) == (human.status_code, human["Location"])
    assert not Subscriber.objects.filter(email="bot@example.org").exists()
    assert mail.outbox == []


def test_bad_topic_is_explained_next_to_the_field_naming_the_line(client):
    response = client.post(URL, signup_data(topics="diffusion\n\n(unclosed group"))
    assert response.status_code == 200
    html = response.content.decode()
    errors = response.context["form"].errors["topics"]
    assert len(errors) == 1 and errors[0].startswith("Line 3 (“(unclosed group”): ")
    # Rendered inside the topics group, before the textarea, and tied to it for screen readers.
    group = html[html.index('class="group group-topics"') : html.index('id="topics-syntax"')]
    assert "Line 3" in group and 'aria-invalid="true"' in group
    assert 'id="id_topics_error"' in group
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("name", ["Mars/Olympus", "Factory", "localtime"])
def test_bad_time_zone_is_refused(client, name):
    response = client.post(URL, signup_data(timezone=name))
    assert "Unknown time zone" in response.content.decode()
    assert not Subscriber.objects.exists()


def test_an_old_alias_a_browser_may_report_is_accepted(client, django_capture_on_commit_callbacks):
    post(client, signup_data(timezone="Asia/Calcutta"), django_capture_on_commit_callbacks)
    assert Subscriber.objects.get().timezone == "Asia/Calcutta"


def test_a_time_zone_typed_in_lower_case_is_understood(client, django_capture_on_commit_callbacks):
    post(client, signup_data(timezone=" europe/berlin "), django_capture_on_commit_callbacks)
    assert Subscriber.objects.get().timezone == "Europe/Berlin"


def test_the_time_zone_list_is_alphabetical_places(client):
    html = client.get(URL).content.decode()
    listed = re.findall(r'<option value="([^"]+)"></option>', html.split('id="tz-list"')[1])
    assert listed[0] == "UTC" and listed[1:] == sorted(listed[1:])
    assert {"Europe/Paris", "America/New_York", "Asia/Kolkata"} <= set(listed)
    assert not {"Factory", "localtime", "US/Eastern", "EST5EDT"} & set(listed)


def test_rate_limit_per_ip_answers_429(client, settings, django_capture_on_commit_callbacks):
    settings.SIGNUP_RATE_PER_IP = "2/10m"
    for n in range(2):
        assert (
            post(
                client, signup_data(f"r{n}@example.org"), django_capture_on_commit_callbacks
            ).status_code
            == 302
        )
    response = post(client, signup_data("r3@example.org"), django_capture_on_commit_callbacks)
    assert response.status_code == 429
    assert "Too many" in response.content.decode()
    assert not Subscriber.objects.filter(email="r3@example.org").exists()


def test_rate_limit_per_address_answers_429(client, settings, django_capture_on_commit_callbacks):
    settings.SIGNUP_RATE_PER_EMAIL = "2/h"
    for ip in ("198.51.100.1", "198.51.100.2"):
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(URL, signup_data("x@example.org"), REMOTE_ADDR=ip).status_code == 302
    response = client.post(URL, signup_data("X@example.org"), REMOTE_ADDR="198.51.100.3")
    assert response.status_code == 429
    assert len(mail.outbox) == 2


def test_csrf_is_enforced(client):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(URL, signup_data())
    assert response.status_code == 403
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize(
    "hops, forwarded, expected",
    [
        (0, "203.0.113.9", "10.0.0.2"),  # nothing trusted: the header is the client's to forge
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # a forged entry on the left is ignored
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
        (1, "2001:db8::7", "2001:db8::7"),
        (2, "203.0.113.9", "10.0.0.2"),  # shorter than the proxies in front: not trusted
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
    ],
)
def test_client_ip_behind_trusted_proxies(rf, settings, hops, forwarded, expected):
    from subscriptions.web.client_ip import client_ip

    settings.TRUSTED_PROXIES = hops
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_behind_the_proxy_each_visitor_has_their_own_signup_limit(
    client, settings, django_capture_on_commit_callbacks
):
    settings.TRUSTED_PROXIES = 1
    settings.SIGNUP_RATE_PER_IP = "2/10m"

    def sign_up(email: str, visitor: str):
        with django_capture_on_commit_callbacks(execute=True):
            # Every request comes from the proxy's address, as in the compose deployment.
            return client.post(
                URL, signup_data(email), REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR=visitor
            )

    for n in range(2):
        assert sign_up(f"a{n}@example.org", "203.0.113.1").status_code == 302
    assert sign_up("a2@example.org", "203.0.113.1").status_code == 429
    assert sign_up("b0@example.org", "203.0.113.2").status_code == 302  # someone else
    assert Subscriber.objects.get(email="b0@example.org").consent_ip == "203.0.113.2"
