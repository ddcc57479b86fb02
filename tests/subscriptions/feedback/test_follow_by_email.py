"""Follow by email on a paper's archive page: the visitor types an address; the answer is the
same whatever it is; only a confirmed reader is mailed, with their signed /follow/ link, whose
GET changes nothing and whose POST follows; at most once per address and paper a day."""

from __future__ import annotations

import re
import smtplib
from datetime import date, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from subscriptions.feedback.follow_links import FollowLink, follow_link_send
from subscriptions.models import Follow, Suppression
from subscriptions.readers.services import email_hash
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)


@pytest.fixture
def paper():
    return PaperFactory(
        arxiv_id="2305.12972",
        listed_on=DAY,
        title="VanillaNet: the Power of Minimalism in Deep Learning",
        authors=["Hanting Chen", "Yunhe Wang", "Jianyuan Guo", "Dacheng Tao"],
        author_count=4,
    )


def page(paper) -> str:
    return reverse("digest:paper", args=[paper.listed_on.isoformat(), paper.arxiv_id])


def ask(client, paper, email, capture, ip="203.0.113.9"):
    with capture(execute=True):
        return client.post(page(paper), {"email": email}, REMOTE_ADDR=ip)


def follow_link(message) -> str:
    url = re.search(r"https://digest\.example\.org(/follow/[^\s]+/)", str(message.body))
    assert url, message.body
    return url.group(1)


def test_a_subscriber_gets_their_follow_link_and_it_follows_on_post_only(
    client, paper, django_capture_on_commit_callbacks
):
    reader = SubscriberFactory(email="ada@example.org")
    response = ask(client, paper, " Ada@Example.org ", django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == page(paper) + "check-your-inbox/"
    answer = client.get(response["Location"]).content.decode()
    assert "Check your inbox" in answer and paper.title in answer
    assert reverse("subscriptions:subscribe") in answer

    (message,) = mail.outbox
    assert message.to == ["ada@example.org"]
    assert message.subject == f"Follow “{paper.title}”"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    link = follow_link(message)
    assert link.endswith(f"/{paper.arxiv_id}/")
    assert f'href="https://digest.example.org{link}"' in html
    assert paper.title in message.body and paper.title in html
    # The authors as the digest's cards write them.
    assert "Hanting Chen, Yunhe Wang and 2 others" in message.body
    assert "Hanting Chen, Yunhe Wang and 2 others" in html
    assert "/unsubscribe/" in message.body and "/unsubscribe/" in html
    assert not Follow.objects.exists()  # asking changes nothing

    # The link opens the card's one-button page: a GET (a link scanner) changes nothing.
    opened = client.get(link).content.decode()
    assert "Follow this paper?" in opened and paper.title in opened
    assert not Follow.objects.exists()
    client.post(link, {"action": "follow"})
    assert Follow.objects.get().subscriber == reader
    assert Follow.objects.get().paper == paper


@pytest.mark.parametrize(
    "status", ["new", "pending", "unsubscribed", "bounced", "complained", "suppressed"]
)
def test_same_answer_for_every_address_and_mail_only_to_a_subscriber(
    client, paper, django_capture_on_commit_callbacks, mask_csrf, status
):
    SubscriberFactory(email="ada@example.org")
    if status == "suppressed":
        SubscriberFactory(email="other@example.org")
        Suppression.objects.create(email_hash=email_hash("other@example.org"), reason="bounced")
    elif status != "new":
        SubscriberFactory(email="other@example.org", status=status)
    known = ask(client, paper, "ada@example.org", django_capture_on_commit_callbacks)
    other = ask(client, paper, "other@example.org", django_capture_on_commit_callbacks)
    assert (known.status_code, known.headers) == (other.status_code, other.headers)
    assert known.content == other.content
    assert mask_csrf(client.get(known["Location"]).content) == mask_csrf(
        client.get(other["Location"]).content
    )
    assert [m.to for m in mail.outbox] == [["ada@example.org"]]


def test_a_paused_reader_gets_the_link_too(client, paper, django_capture_on_commit_callbacks):
    SubscriberFactory(email="paused@example.org", status="paused")
    ask(client, paper, "paused@example.org", django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [["paused@example.org"]]


def test_the_email_task_is_queued_for_every_valid_address(
    client, paper, django_capture_on_commit_callbacks, monkeypatch
):
    queued: list[tuple[str, str]] = []
    monkeypatch.setattr(
        "subscriptions.feedback.tasks.send_follow_link.delay", lambda *args: queued.append(args)
    )
    SubscriberFactory(email="ada@example.org")
    for email in ("ada@example.org", "nobody@example.org"):
        ask(client, paper, email, django_capture_on_commit_callbacks)
    assert queued == [("ada@example.org", paper.arxiv_id), ("nobody@example.org", paper.arxiv_id)]


@pytest.mark.parametrize(
    ("email", "error"),
    [
        ("", "This field is required."),
        ("not-an-address", "Enter a valid email address."),
        ("ada@", "Enter a valid email address."),
        ("a" * 250 + "@example.org", "Ensure this value has at most 254 characters"),
    ],
)
def test_a_bad_address_is_explained_next_to_the_field(
    client, paper, django_capture_on_commit_callbacks, email, error
):
    SubscriberFactory(email="ada@example.org")
    response = ask(client, paper, email, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    body = response.content.decode()
    field = re.search(
        r'<ul class="errorlist"[^>]*>(.*?)</ul>\s*<input[^>]*name="email"', body, re.S
    )
    assert field and error in field.group(1)
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*name="email"', body) or re.search(
        r'<input[^>]*name="email"[^>]*aria-invalid="true"', body
    )
    assert paper.title in body  # still the paper's page
    assert mail.outbox == []


def test_repeated_posts_send_one_link_per_paper_and_day(
    client, paper, django_capture_on_commit_callbacks
):
    SubscriberFactory(email="ada@example.org")
    other = PaperFactory(listed_on=DAY, title="Transformer in Transformer")
    for n in range(4):  # from several addresses, so the per-IP limit is not what stops them
        response = ask(
            client, paper, "ada@example.org", django_capture_on_commit_callbacks, f"1{n}.0.0.1"
        )
        assert response.status_code == 302
    assert len(mail.outbox) == 1
    ask(client, other, "ADA@example.org", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2 and other.title in mail.outbox[1].subject
    # A day later the paper's link may be asked for again.
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        ask(client, paper, "ada@example.org", django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 3


def test_at_most_so_many_follow_links_to_one_address_a_day(
    client, settings, django_capture_on_commit_callbacks
):
    settings.FOLLOW_LINKS_PER_ADDRESS_DAILY = 2
    SubscriberFactory(email="ada@example.org")
    papers = [PaperFactory(listed_on=DAY) for _ in range(4)]
    for n, each in enumerate(papers):
        ask(client, each, "ada@example.org", django_capture_on_commit_callbacks, f"1{n}.0.0.1")
    assert [m.subject for m in mail.outbox] == [f"Follow “{p.title}”" for p in papers[:2]]


def test_too_many_posts_from_one_ip_answer_429(
    client, paper, settings, django_capture_on_commit_callbacks
):
    settings.FOLLOW_REQUEST_RATE_PER_IP = "2/m"
    for n in range(2):
        response = ask(client, paper, f"x{n}@example.org", django_capture_on_commit_callbacks)
        assert response.status_code == 302
    response = ask(client, paper, "ada@example.org", django_capture_on_commit_callbacks)
    assert response.status_code == 429 and response["Retry-After"]
    assert "follow requests" in response.content.decode()


def test_the_form_needs_its_csrf_token(paper):
    SubscriberFactory(email="ada@example.org")
    response = Client(enforce_csrf_checks=True).post(page(paper), {"email": "ada@example.org"})
    assert response.status_code == 403
    assert mail.outbox == []


def test_a_paper_title_cannot_inject_a_header(client, django_capture_on_commit_callbacks):
    hostile = PaperFactory(listed_on=DAY, title="Evil\r\nBcc: victim@example.org\n<b>bold</b>")
    SubscriberFactory(email="ada@example.org")
    ask(client, hostile, "ada@example.org", django_capture_on_commit_callbacks)
    (message,) = mail.outbox
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.recipients() == ["ada@example.org"]
    assert "&lt;b&gt;bold&lt;/b&gt;" in message.alternatives[0][0]
    assert "<b>bold</b>" in message.body  # the text part keeps it literal


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def test_a_link_that_failed_to_go_out_can_be_sent_again(settings, paper):
    SubscriberFactory(email="ada@example.org")
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    with pytest.raises(smtplib.SMTPServerDisconnected):  # the task retries with backoff
        follow_link_send(email="ada@example.org", arxiv_id=paper.arxiv_id)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert follow_link_send(email="ada@example.org", arxiv_id=paper.arxiv_id) == FollowLink.SENT
    assert follow_link_send(email="ada@example.org", arxiv_id=paper.arxiv_id) == (
        FollowLink.ALREADY_SENT
    )
    assert len(mail.outbox) == 1
