"""/manage/<token>/: preferences, pause and resume, recent digests, unsubscribe button."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from subscriptions.models import Subscriber
from subscriptions.readers.tokens import Purpose, make_token
from tests.support.factories import DeliveryFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader():
    return SubscriberFactory(email="m@example.org", status="active", topics=["diffusion"])


def url(subscriber, purpose=Purpose.MANAGE):
    return reverse("subscriptions:manage", args=[make_token(subscriber, purpose)])


def prefs(**overrides):
    data = {
        "action": "save",
        "topics": 'cat:cs.CV\nauthor:"Ada Lovelace"',
        "cadence": "weekly",
        "weekday": "4",
        "delivery_hour": "18",
        "timezone": "America/New_York",
        "max_papers": "5",
        "min_upvotes": "3",
        "quiet_day_note": "on",
    }
    data.update(overrides)
    return data


def test_page_shows_current_settings_and_an_unsubscribe_button(client, reader):
    response = client.get(url(reader))
    assert response.status_code == 200
    html = response.content.decode()
    assert "m@example.org" in html and "diffusion</textarea>" in html
    assert reverse("subscriptions:unsubscribe", args=["X"]).removesuffix("X/") in html
    assert 'name="min_upvotes"' in html and 'name="quiet_day_note"' in html


def test_get_changes_nothing(client, reader):
    before = Subscriber.objects.filter(pk=reader.pk).values().get()
    client.get(url(reader))
    assert Subscriber.objects.filter(pk=reader.pk).values().get() == before


def test_save_preferences(client, reader):
    link = url(reader)
    response = client.post(link, prefs())
    assert response.status_code == 302 and response["Location"] == link
    reader.refresh_from_db()
    assert (reader.cadence, reader.weekday, reader.delivery_hour) == ("weekly", 4, 18)
    assert reader.timezone == "America/New_York"
    assert (reader.max_papers, reader.min_upvotes, reader.quiet_day_note) == (5, 3, True)
    assert [t.query for t in reader.topics.all()] == ["cat:cs.CV", 'author:"Ada Lovelace"']
    assert "Saved" in client.get(link).content.decode()


@pytest.mark.parametrize(
    ("status", "said"),
    [
        ("active", "Saved. Your next digest uses these settings."),
        ("paused", "Saved. Your digest is paused; it uses these settings when you resume."),
        ("unsubscribed", "Saved. You&#x27;re unsubscribed, so no digest is sent;"),
        ("pending", "Saved. Confirm your address with the link we emailed you"),
    ],
)
def test_saving_says_when_the_settings_take_effect(client, status, said):
    subscriber = SubscriberFactory(status=status)
    link = url(subscriber)
    client.post(link, prefs())
    assert said in client.get(link).content.decode()


def test_bad_topic_is_explained_and_nothing_saved(client, reader):
    response = client.post(url(reader), prefs(topics="ok topic\n-only"))
    assert response.status_code == 400
    assert "Line 2" in response.content.decode()
    reader.refresh_from_db()
    assert reader.cadence == "daily"
    assert [t.query for t in reader.topics.all()] == ["diffusion"]


def test_pause_and_resume(client, reader):
    link = url(reader)
    client.post(link, {"action": "pause"})
    assert Subscriber.objects.get(pk=reader.pk).status == "paused"
    assert "Resume" in client.get(link).content.decode()
    client.post(link, {"action": "resume"})
    assert Subscriber.objects.get(pk=reader.pk).status == "active"


def test_recent_digests_newest_first_sent_only(client, reader):
    today = timezone.localdate()
    DeliveryFactory(
        subscriber=reader,
        digest_date=today - dt.timedelta(days=2),
        status="sent",
        subject="Older digest",
    )
    DeliveryFactory(
        subscriber=reader,
        digest_date=today - dt.timedelta(days=1),
        status="sent",
        subject="Newer digest",
    )
    DeliveryFactory(subscriber=reader, digest_date=today, status="failed", subject="Failed one")
    html = client.get(url(reader)).content.decode()
    assert html.index("Newer digest") < html.index("Older digest")
    assert "Failed one" not in html


def test_csrf_required(reader):
    response = Client(enforce_csrf_checks=True).post(url(reader), {"action": "pause"})
    assert response.status_code == 403
    assert Subscriber.objects.get(pk=reader.pk).status == "active"


def test_link_expires_and_is_revoked_by_a_version_bump(client, reader, settings):
    link = url(reader)
    with time_machine.travel(timezone.now() + dt.timedelta(days=settings.MANAGE_MAX_AGE_DAYS + 1)):
        assert client.get(link).status_code == 410
    Subscriber.objects.filter(pk=reader.pk).update(token_version=9)
    assert client.get(link).status_code == 400


@pytest.mark.parametrize("purpose", [Purpose.CONFIRM, Purpose.UNSUBSCRIBE])
def test_other_purposes_refused(client, reader, purpose):
    assert client.post(url(reader, purpose), {"action": "pause"}).status_code == 400
    assert Subscriber.objects.get(pk=reader.pk).status == "active"


def test_unsubscribed_reader_sees_a_resubscribe_button(client):
    gone = SubscriberFactory(status="unsubscribed")
    html = client.get(url(gone)).content.decode()
    assert "/resubscribe/" in html


def test_votes_are_listed_newest_first_and_can_be_removed_one_or_all(client, reader):
    from subscriptions.feedback.votes import vote_record
    from subscriptions.models import Vote
    from tests.support.factories import PaperFactory

    papers = [PaperFactory(title=f"Voted paper {n}") for n in range(3)]
    other = SubscriberFactory(email="other@example.org")
    with time_machine.travel(timezone.now() - dt.timedelta(days=2), tick=False):
        vote_record(subscriber=reader, paper=papers[0], value="like")
    with time_machine.travel(timezone.now() - dt.timedelta(days=1), tick=False):
        vote_record(subscriber=reader, paper=papers[1], value="dislike")
    vote_record(subscriber=reader, paper=papers[2], value="like")
    vote_record(subscriber=other, paper=papers[0], value="like")

    link = url(reader)
    html = client.get(link).content.decode()
    positions = [html.index(f"Voted paper {n}") for n in (2, 1, 0)]
    assert positions == sorted(positions)  # newest first
    assert html.count(">Less like this<") == 1 and "Remove all 3 votes…</summary>" in html
    # Removing all takes a second, deliberate click: the button is inside a closed <details>.
    details = html[html.index('<details class="votes-clear">') : html.index("</details>")]
    assert "Yes, remove all 3 votes</button>" in details and "<details open" not in html

    target = Vote.objects.get(subscriber=reader, paper=papers[1])
    response = client.post(link, {"action": "vote_remove", "vote": str(target.pk)})
    assert response.status_code == 302
    assert "Removed your vote on “Voted paper 1”" in client.get(link).content.decode()
    assert set(reader.votes.values_list("paper__title", flat=True)) == {
        "Voted paper 0",
        "Voted paper 2",
    }
    # Another reader's vote id changes nothing, and nonsense is ignored.
    theirs = Vote.objects.get(subscriber=other)
    client.post(link, {"action": "vote_remove", "vote": str(theirs.pk)})
    client.post(link, {"action": "vote_remove", "vote": "x' OR 1=1"})
    assert Vote.objects.filter(subscriber=other).exists() and reader.votes.count() == 2

    client.post(link, {"action": "votes_clear"})
    assert not reader.votes.exists() and Vote.objects.filter(subscriber=other).exists()
    assert "No votes yet" in client.get(link).content.decode()


def test_removing_a_vote_on_a_long_title_says_it_in_whole_words(client, reader):
    from subscriptions.feedback.votes import vote_record
    from tests.support.factories import PaperFactory

    title = "Multimodal Data Integration for Oncology in the Era of Deep Neural Networks: A Review"
    vote = vote_record(subscriber=reader, paper=PaperFactory(title=title), value="like")
    link = url(reader)
    client.post(link, {"action": "vote_remove", "vote": str(vote.pk)})
    html = client.get(link).content.decode()
    said = "Removed your vote on “Multimodal Data Integration for Oncology in the Era of Deep "
    assert said + "Neural Networks: A…”" in html  # not cut inside "Networks"


def test_a_single_vote_has_its_remove_button_and_no_remove_all(client, reader):
    from subscriptions.feedback.votes import vote_record
    from tests.support.factories import PaperFactory

    vote_record(subscriber=reader, paper=PaperFactory(title="The one voted paper"), value="like")
    html = client.get(url(reader)).content.decode()
    assert "The one voted paper" in html and ">Remove<" in html
    assert "Remove all" not in html  # not "Remove all 1 vote"


def test_recommendations_switch_off_and_on(client, reader):
    link = url(reader)
    assert "Turn recommendations off" in client.get(link).content.decode()
    client.post(link, {"action": "recommendations_off"})
    reader.refresh_from_db()
    assert reader.recommendations_enabled is False
    html = client.get(link).content.decode()
    assert "Recommendations are off" in html and "Turn recommendations on" in html
    client.post(link, {"action": "recommendations_on"})
    reader.refresh_from_db()
    assert reader.recommendations_enabled is True


def test_vote_actions_need_csrf(reader):
    from subscriptions.feedback.votes import vote_record
    from tests.support.factories import PaperFactory

    vote_record(subscriber=reader, paper=PaperFactory(), value="like")
    response = Client(enforce_csrf_checks=True).post(url(reader), {"action": "votes_clear"})
    assert response.status_code == 403 and reader.votes.count() == 1
