"""The daily job end to end on the embedded defaults: send_digests, the outbox, exactly once."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from digest.composing import build
from digest.models import Delivery
from subscriptions.models import Subscriber
from subscriptions.readers.tokens import Purpose
from tests.support.factories import DeliveryFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def outbox_messages(settings) -> dict[str, email.message.EmailMessage]:
    folder = Path(settings.EMAIL_FILE_PATH)
    messages = {}
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert path.with_suffix(".html").exists()
        messages[str(message["To"])] = message
    return messages


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_one_email_per_active_subscriber_differing_by_topic(
    settings, file_outbox, snapshot_day, capsys
):
    SubscriberFactory(email="diffusion@example.org", topics=["diffusion"])
    SubscriberFactory(email="rl@example.org", topics=['"reinforcement learning"'])
    SubscriberFactory(email="pending@example.org", status=Subscriber.Status.PENDING)
    SubscriberFactory(email="gone@example.org", status=Subscriber.Status.UNSUBSCRIBED)

    call_command("send_digests", day=snapshot_day.isoformat())

    messages = outbox_messages(settings)
    assert sorted(messages) == ["diffusion@example.org", "rl@example.org"]
    diffusion, rl = messages["diffusion@example.org"], messages["rl@example.org"]
    assert "on diffusion" in diffusion["Subject"]
    assert "reinforcement learning" in rl["Subject"]
    assert "Masked Completion via Structured Diffusion" in html_of(diffusion)
    assert "Masked Completion via Structured Diffusion" not in html_of(rl)
    # Every paper links to its abstract page, in both parts.
    assert "https://arxiv.org/abs/2409.10594" in html_of(diffusion)  # trending: KAT
    assert "https://arxiv.org/abs/2409.10594" in text_of(diffusion)
    assert len(html_of(diffusion).encode()) < 100_000
    out = capsys.readouterr().out
    assert "2 sent" in out


def test_second_run_sends_nothing(settings, file_outbox, snapshot_day, capsys):
    SubscriberFactory.create_batch(3, topics=["transformer"])
    call_command("send_digests", day=snapshot_day.isoformat())
    assert len(outbox_messages(settings)) == 3

    call_command("send_digests", day=snapshot_day.isoformat())
    assert len(list(Path(settings.EMAIL_FILE_PATH).glob("*.eml"))) == 3
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 3
    assert "0 deliveries to send" in capsys.readouterr().out


def test_one_delivery_row_per_subscriber_and_day():
    delivery = DeliveryFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(subscriber=delivery.subscriber, digest_date=delivery.digest_date)


def test_list_headers_and_bare_to(settings, file_outbox, snapshot_day):
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@digest.example.org"
    first = SubscriberFactory(email="First.Reader@example.org".lower())
    second = SubscriberFactory()
    call_command("send_digests", day=snapshot_day.isoformat())
    messages = outbox_messages(settings)
    urls = []
    for subscriber in (first, second):
        message = messages[subscriber.email]
        assert message["To"] == subscriber.email
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Id"].endswith("<digest.digest.example.org>")
        assert message["Message-ID"].endswith("@digest.example.org>")
        uris = [u.strip().strip("<>") for u in str(message["List-Unsubscribe"]).split(",")]
        https = [u for u in uris if u.startswith("https://")]
        assert len(https) == 1 and https[0].startswith("https://digest.example.org/unsubscribe/")
        assert any(u.startswith("mailto:unsubscribe@digest.example.org?subject=") for u in uris)
        assert subscriber.email not in https[0]
        assert https[0] in html_of(message) and https[0] in text_of(message)
        urls.append(https[0])
    assert urls[0] != urls[1]


def test_a_weekly_digest_says_week_where_a_daily_one_says_today(
    settings, file_outbox, snapshot_day
):
    SubscriberFactory(email="daily@example.org", topics=["diffusion"])
    SubscriberFactory(
        email="weekly@example.org",
        topics=["diffusion"],
        cadence=Subscriber.Cadence.WEEKLY,
        weekday=snapshot_day.weekday(),
    )
    call_command("send_digests", day=snapshot_day.isoformat())
    messages = outbox_messages(settings)
    daily, weekly = messages["daily@example.org"], messages["weekly@example.org"]
    for message, when, trending in (
        (daily, "Today:", "Trending today"),
        (weekly, "This week:", "Trending this week"),
    ):
        assert when in text_of(message) and when in html_of(message)
        assert f"== {trending} ==" in text_of(message) and trending in html_of(message)
    assert "week" not in text_of(daily).split("== For your topics ==")[0]
    assert "today" not in text_of(weekly).lower().split("== for your topics ==")[0]
    assert daily["List-Id"] == "Paper Digest daily digest <digest.digest.example.org>"
    assert weekly["List-Id"] == "Paper Digest weekly digest <digest.digest.example.org>"


def test_no_mailto_unless_inbound_is_wired(settings, file_outbox, snapshot_day):
    settings.UNSUBSCRIBE_MAILTO = ""
    SubscriberFactory(email="r@example.org")
    call_command("send_digests", day=snapshot_day.isoformat())
    assert "mailto:" not in str(outbox_messages(settings)["r@example.org"]["List-Unsubscribe"])


def test_unsubscribed_after_planning_is_suppressed(settings, file_outbox, snapshot_day):
    from digest.delivery.batch import deliveries_plan, deliveries_send

    subscriber = SubscriberFactory()
    ids = deliveries_plan(day=snapshot_day)
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.UNSUBSCRIBED)
    report = deliveries_send(delivery_ids=ids)
    assert report.counts["suppressed"] == 1
    assert Delivery.objects.get().status == Delivery.Status.SUPPRESSED
    assert not list(Path(settings.EMAIL_FILE_PATH).glob("*.eml"))


def test_a_row_already_sending_is_never_sent_again(settings, file_outbox, snapshot_day):
    from digest.delivery.batch import deliveries_expire_sending, deliveries_send

    delivery = DeliveryFactory(digest_date=snapshot_day, status=Delivery.Status.SENDING)
    assert deliveries_send(delivery_ids=[delivery.pk]).counts["skipped"] == 1
    settings.DELIVERY_SENDING_TIMEOUT = 0
    Delivery.objects.filter(pk=delivery.pk).update(claimed_at="2026-11-24T06:00:00Z")
    assert deliveries_expire_sending() == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.UNKNOWN
    call_command("send_digests", day=snapshot_day.isoformat())
    assert not list(Path(settings.EMAIL_FILE_PATH).glob("*.eml"))


@pytest.mark.django_db(transaction=True)  # on_commit fires, as with a real database commit
def test_wait_follows_the_workers_until_every_row_settles(
    settings, file_outbox, snapshot_day, capsys
):
    # A broker is configured (tasks still run eagerly here); a row a dead worker left
    # `sending` long ago must not keep --wait waiting forever.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.DELIVERY_SENDING_TIMEOUT = 60
    SubscriberFactory.create_batch(2)
    stuck = DeliveryFactory(digest_date=snapshot_day, status=Delivery.Status.SENDING)
    Delivery.objects.filter(pk=stuck.pk).update(claimed_at="2026-11-24T00:00:00Z")
    call_command("send_digests", day=snapshot_day.isoformat(), wait=True, timeout=60)
    out = capsys.readouterr().out
    assert "every delivery settled (2 sent, 1 unknown)" in out
    assert len(list(file_outbox.glob("*.eml"))) == 2


def test_each_digest_signs_its_links_once(file_outbox, snapshot_day, monkeypatch):
    # View, manage, unsubscribe, one feedback token for every card's vote links and one follow
    # token for every card's Follow link; the List-Unsubscribe header reuses the body's link.
    signed: Counter[Purpose] = Counter()
    make_token = build.make_token

    def counting(subscriber, purpose, **kwargs):
        signed[purpose] += 1
        return make_token(subscriber, purpose, **kwargs)

    monkeypatch.setattr(build, "make_token", counting)
    SubscriberFactory.create_batch(2)
    call_command("send_digests", day=snapshot_day.isoformat())
    assert signed == {
        Purpose.VIEW: 2,
        Purpose.MANAGE: 2,
        Purpose.UNSUBSCRIBE: 2,
        Purpose.FEEDBACK: 2,
        Purpose.FOLLOW: 2,
    }
