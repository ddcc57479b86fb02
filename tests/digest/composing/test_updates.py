"""The "Updates on papers you follow" section: what goes in, each event once per reader, and
the emails (snapshots) and JSON preview that show it."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from digest.composing.build import DayBuilder
from digest.composing.selection import DayContext, updates_by_subscriber
from digest.models import Delivery, Paper, PaperEvent
from subscriptions.feedback.follows import follow_start
from tests.digest.composing.test_render import check_snapshot
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
FOLLOWED = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def event(paper: Paper, kind: str, detail: str, day: date = DAY, **fields) -> PaperEvent:
    seen_at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=5)
    return PaperEvent.objects.create(
        paper=paper, kind=kind, detail=detail, seen_on=day, seen_at=seen_at, **fields
    )


@pytest.fixture
def old_paper():
    return PaperFactory(
        arxiv_id="2305.12972",
        title="VanillaNet: the Power of Minimalism in Deep Learning",
        listed_on=date(2026, 11, 2),
        github_repo="https://github.com/yang-lab/vanillanet",
        project_page="https://vanillanet.github.io/",
        version=2,
    )


@pytest.fixture
def reader(old_paper):
    reader = SubscriberFactory(pk=4343, email="follower@example.org")
    follow_start(subscriber=reader, paper=old_paper, now=FOLLOWED)
    return reader


@pytest.fixture
def every_kind(old_paper):
    yesterday = DAY - timedelta(days=1)
    return [
        event(old_paper, "code", "https://github.com/yang-lab/vanillanet (\u2605 412)", yesterday),
        event(old_paper, "version", "v2: fixed Table 3, added ImageNet-21k results"),
        event(old_paper, "trending", "on Hugging Face Daily Papers"),
        event(old_paper, "upvotes", "passed 50 upvotes (57)"),
        event(old_paper, "project_page", "https://vanillanet.github.io/"),
    ]


def build(reader, day: date = DAY):
    with time_machine.travel(NOW + (day - DAY), tick=False):
        builder = DayBuilder(day)
        content = builder.select(reader)
        return content, (
            builder.render(content, delivery_id=None) if not content.is_empty else None
        )


def test_updates_only_digest_snapshot(reader, every_kind):
    """A day with only updates is a digest day: the section, one line per event, dated and
    linked, and no quiet-day note."""
    content, rendered = build(reader)
    assert [u.kind for u in content.updates] == [
        "code", "version", "trending", "upvotes", "project_page"
    ]  # fmt: skip
    assert rendered is not None
    assert rendered.subject == "5 updates on papers you follow"
    check_snapshot("updates.subject.txt", rendered.subject + "\n")
    check_snapshot("updates.txt", rendered.text)
    check_snapshot("updates.html", rendered.html)
    assert "Updates on papers you follow" in rendered.html
    assert "Quiet day" not in rendered.html + rendered.text
    for url in (
        "https://github.com/yang-lab/vanillanet",
        "https://arxiv.org/abs/2305.12972v2",
        "https://huggingface.co/papers/2305.12972",
        "https://vanillanet.github.io/",
    ):
        assert f'href="{url}"' in rendered.html and url in rendered.text
    assert "Nov 23" in rendered.text and "Nov 24" in rendered.html


def test_updates_come_before_the_day_s_papers(reader, every_kind, snapshot_day):
    content, rendered = build(reader)
    assert content.trending and content.updates
    html = rendered.html
    assert html.index("Updates on papers you follow") < html.index("Trending today")
    text = rendered.text
    assert text.index("== Updates on papers you follow ==") < text.index("== Trending today ==")
    assert rendered.text.index("5 updates on papers you follow") < text.index("trending")


def test_each_event_is_told_once_per_reader(settings, file_outbox, reader, every_kind, old_paper):
    other = SubscriberFactory(email="other@example.org")
    follow_start(subscriber=other, paper=old_paper, now=FOLLOWED)
    call_command("send_digests", day=DAY.isoformat())
    sent = Delivery.objects.filter(digest_date=DAY, status=Delivery.Status.SENT)
    assert sent.count() == 2
    told = {d.subscriber_id: [i["event_id"] for i in d.papers] for d in sent}
    ids = [e.pk for e in every_kind]
    assert told == {reader.pk: ids, other.pk: ids}
    # The next day: nothing new was seen, so nothing to tell; a new event is told alone.
    later = DAY + timedelta(days=1)
    content, _ = build(reader, later)
    assert content.updates == []
    fresh = event(old_paper, "upvotes", "passed 100 upvotes (131)", later)
    content, _ = build(reader, later)
    assert [u.event_id for u in content.updates] == [fresh.pk]


def test_the_batch_reads_updates_in_a_fixed_number_of_queries(
    reader, every_kind, old_paper, django_assert_num_queries
):
    readers = [SubscriberFactory() for _ in range(30)]
    for r in readers:
        follow_start(subscriber=r, paper=old_paper, now=FOLLOWED)
    context = DayContext(DAY)
    ids = [r.pk for r in readers] + [reader.pk]
    with django_assert_num_queries(3):  # events of the window, follows, what was told
        found = updates_by_subscriber(subscriber_ids=ids, context=context)
    assert len(found) == 31


def test_events_before_the_follow_hidden_events_and_expired_follows_are_not_told(
    settings, reader, old_paper
):
    event(old_paper, "code", "before", DAY - timedelta(days=20))  # outside the window
    early = event(old_paper, "trending", "seen before following", DAY)
    early.seen_at = FOLLOWED - timedelta(hours=1)
    early.save()
    event(old_paper, "upvotes", "hidden by an editor", hidden=True)
    shown = event(old_paper, "version", "v3")
    content, _ = build(reader)
    assert [u.event_id for u in content.updates] == [shown.pk]
    settings.FOLLOW_DAYS = 10  # a new follow now would run 10 days; this one has expired
    other = SubscriberFactory()
    follow_start(subscriber=other, paper=old_paper, now=NOW - timedelta(days=11))
    content, _ = build(other)
    assert content.updates == []


def test_a_withdrawn_paper_tells_nothing_more(reader, every_kind, old_paper):
    old_paper.withdrawn_at = NOW
    old_paper.save()
    content, _ = build(reader)
    assert content.updates == []


def test_preview_json_has_the_updates_section(reader, every_kind, capsys):
    call_command(
        "preview_digest", "follower@example.org", "--date", DAY.isoformat(), "--format", "json"
    )
    out = json.loads(capsys.readouterr().out)
    assert out["would_send"] is True
    updates = out["sections"]["updates"]
    assert [(u["arxiv_id"], u["kind"]) for u in updates] == [
        ("2305.12972", k) for k in ("code", "version", "trending", "upvotes", "project_page")
    ]
    assert updates[1]["detail"] == "v2: fixed Table 3, added ImageNet-21k results"


def test_view_in_browser_shows_the_updates_told(settings, file_outbox, reader, every_kind):
    call_command("send_digests", day=DAY.isoformat())
    folder = Path(settings.EMAIL_FILE_PATH)
    (path,) = folder.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    html = message.get_body(preferencelist=("html",)).get_content()
    view_url = re.search(r'href="([^"]*/digests/view/[^"]*)"', html)[1]
    assert "/digests/view/" in view_url
    from django.test import Client

    page = Client().get(view_url.removeprefix(settings.SITE_URL))
    assert page.status_code == 200
    assert "Updates on papers you follow" in page.content.decode()
    assert "passed 50 upvotes (57)" in page.content.decode()


def test_later_batches_of_the_day_see_events_added_or_hidden_since(
    file_outbox, reader, every_kind, old_paper
):
    from digest.delivery.batch import deliveries_plan, deliveries_send

    second = SubscriberFactory(email="second@example.org")
    follow_start(subscriber=second, paper=old_paper, now=FOLLOWED)
    rows = dict(
        Delivery.objects.filter(pk__in=deliveries_plan(day=DAY)).values_list("subscriber_id", "pk")
    )
    deliveries_send(delivery_ids=[rows[reader.pk]])
    # Meanwhile the hourly refresh finds a new event and an editor hides a wrong one.
    late = event(old_paper, "upvotes", "passed 100 upvotes (101)")
    PaperEvent.objects.filter(pk=every_kind[0].pk).update(hidden=True)
    deliveries_send(delivery_ids=[rows[second.pk]])
    told = {
        d.subscriber_id: {i["event_id"] for i in d.papers}
        for d in Delivery.objects.filter(digest_date=DAY)
    }
    assert told[reader.pk] == {e.pk for e in every_kind}
    assert told[second.pk] == {e.pk for e in every_kind[1:]} | {late.pk}
