"""The private Atom feed of a reader's digest and the public trending feed: what a feed reader
sees (parsed by feedparser and checked against RFC 4287's required elements), conditional GET,
and what a bad or revoked address gets."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from digest.delivery.batch import deliveries_plan, deliveries_send
from digest.models import Delivery, Paper
from digest.web.feeds import MAX_AGE
from subscriptions.models import Subscriber
from subscriptions.readers.feeds import feed_address_renew, feed_token
from subscriptions.readers.retention import subscriber_erase
from subscriptions.readers.services import subscriber_suppress, subscriber_unsubscribe
from subscriptions.readers.tokens import Purpose, make_token
from tests.digest.conftest import DAY
from tests.support.factories import DeliveryFactory, PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # the morning after the snapshot's day


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def reader(snapshot_day):
    """A reader sent the snapshot day's digest by email."""
    subscriber = SubscriberFactory(email="ada@example.org", topics=["diffusion", "agents"])
    deliveries_send(delivery_ids=deliveries_plan(day=snapshot_day))
    mail.outbox = []
    return subscriber


def feed_url(subscriber: Subscriber) -> str:
    return reverse("feeds:reader", args=[feed_token(subscriber)])


def sent_ids(subscriber: Subscriber) -> list[str]:
    """The papers of the reader's `sent` rows, newest digest first, in each digest's order."""
    rows = Delivery.objects.filter(subscriber=subscriber, status=Delivery.Status.SENT)
    return [item["arxiv_id"] for row in rows.order_by("-digest_date") for item in row.papers]


def assert_atom_required_elements(body: bytes) -> None:
    """RFC 4287 4.1.1 and 4.1.2: a feed has exactly one id, title and updated, an author unless
    every entry has one, and a link; an entry has exactly one id, title and updated, and a link
    (it has no content element)."""
    root = ET.fromstring(body)  # noqa: S314 (our own response)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert root.findall(f"{ATOM}link[@rel='alternate']")
    entries = root.findall(f"{ATOM}entry")
    every_entry_has_author = all(e.findall(f"{ATOM}author") for e in entries)
    assert root.findall(f"{ATOM}author/{ATOM}name") or (entries and every_entry_has_author)
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert entry.findall(f"{ATOM}link[@rel='alternate']")


def test_feed_is_atom_with_one_entry_per_paper_sent(client, reader):
    # The snapshot names no authors: give the first paper some, one of them hostile.
    authors = ["Łukasz Kaiser", "Ada <b>Lovelace</b>", "Jürgen Müller"]
    Paper.objects.filter(arxiv_id=sent_ids(reader)[0]).update(authors=authors)
    response = client.get(feed_url(reader))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    assert_atom_required_elements(response.content)

    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title and parsed.feed.id and parsed.feed.updated
    ids = [entry.link.rsplit("/", 2)[-2] for entry in parsed.entries]
    assert ids and ids == sent_ids(reader)

    first = parsed.entries[0]
    paper = Paper.objects.get(arxiv_id=ids[0])
    assert first.title == " ".join(paper.title.split())
    assert first.link == f"https://digest.example.org/digests/{DAY}/{paper.arxiv_id}/"
    assert paper.abs_url in [link.href for link in first.links]
    assert [a.name for a in first.authors] == authors  # one Atom author each
    assert first.updated_parsed  # when it was sent
    summary = first.summary
    row = Delivery.objects.get(subscriber=reader)
    if row.papers[0]["section"] == "topics":
        assert "Matches your topic" in summary
    assert (paper.ai_summary or paper.abstract)[:40].replace("'", "&#x27;") in summary


def test_feed_shows_the_last_30_days_of_this_readers_sent_digests_newest_first(client, reader):
    today = sent_ids(reader)
    older = PaperFactory(arxiv_id="2511.00001", listed_on=DAY - timedelta(days=3))
    gone = PaperFactory(arxiv_id="2511.00002", listed_on=DAY - timedelta(days=40))
    failed = PaperFactory(arxiv_id="2511.00003", listed_on=DAY - timedelta(days=2))
    hidden = PaperFactory(arxiv_id="2511.00004", listed_on=DAY - timedelta(days=3), hidden=True)

    def told(*papers):
        return [{"arxiv_id": p.arxiv_id, "section": "trending", "reason": {}} for p in papers]

    sent = Delivery.Status.SENT
    DeliveryFactory(subscriber=reader, digest_date=older.listed_on, status=sent,
                    finished_at=NOW - timedelta(days=3), papers=told(older, hidden))  # fmt: skip
    DeliveryFactory(subscriber=reader, digest_date=gone.listed_on, status=sent,
                    finished_at=NOW - timedelta(days=40), papers=told(gone))  # fmt: skip
    DeliveryFactory(subscriber=reader, digest_date=failed.listed_on, status="failed",
                    papers=told(failed))  # fmt: skip
    other = SubscriberFactory()
    DeliveryFactory(subscriber=other, digest_date=DAY, status=sent, finished_at=NOW,
                    papers=told(PaperFactory(arxiv_id="2511.00005")))  # fmt: skip

    parsed = feedparser.parse(client.get(feed_url(reader)).content)
    ids = [entry.link.rsplit("/", 2)[-2] for entry in parsed.entries]
    # The newest digest first; older than 30 days, not sent, another reader's, hidden: left out.
    assert ids == [*today, older.arxiv_id]


def test_repeated_request_is_answered_304_until_a_new_digest(client, reader, settings):
    url = feed_url(reader)
    first = client.get(url)
    assert first["ETag"] and first["Last-Modified"]
    cache = first["Cache-Control"]
    assert "private" in cache and f"max-age={MAX_AGE}" in cache

    again = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again.content == b""
    since = client.get(url, headers={"If-Modified-Since": first["Last-Modified"]})
    assert since.status_code == 304

    # The next morning's digest changes the feed: the old validators no longer match.
    PaperFactory(arxiv_id="2511.00009", listed_on=DAY + timedelta(days=1), upvotes=500)
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        deliveries_send(delivery_ids=deliveries_plan(day=DAY + timedelta(days=1)))
        changed = client.get(url, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert b"2511.00009" in changed.content


def test_query_count_does_not_grow_with_the_entries(client, reader, django_assert_num_queries):
    url = feed_url(reader)
    with django_assert_num_queries(4):  # the reader, the stamp, the rows, their papers
        client.get(url)
    for days in range(1, 6):
        paper = PaperFactory(listed_on=DAY - timedelta(days=days))
        DeliveryFactory(subscriber=reader, digest_date=paper.listed_on, status="sent",
                        finished_at=NOW - timedelta(days=days),
                        papers=[{"arxiv_id": paper.arxiv_id, "section": "trending"}])  # fmt: skip
    with django_assert_num_queries(4):
        response = client.get(url)
    with django_assert_num_queries(2):  # the reader and the stamp
        client.get(url, headers={"If-None-Match": response["ETag"]})


def _no_hint(response, subscriber: Subscriber) -> None:
    assert response.status_code == 404
    assert subscriber.email.encode() not in response.content
    assert b"ada" not in response.content.lower()


@pytest.mark.parametrize(
    "spoil",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # tampered signature
        lambda token: token[: len(token) // 2],  # truncated
        lambda token: token.replace(token.split(":")[0], "WzEsIDFd"),  # another payload
    ],
    ids=["tampered", "truncated", "forged-payload"],
)
def test_a_bad_address_is_a_404_with_no_hint(client, reader, spoil):
    _no_hint(client.get(reverse("feeds:reader", args=[spoil(feed_token(reader))])), reader)


def test_another_links_token_is_not_a_feed_address(client, reader):
    for purpose in (Purpose.UNSUBSCRIBE, Purpose.FEEDBACK, Purpose.MANAGE):
        token = make_token(reader, purpose)
        _no_hint(client.get(reverse("feeds:reader", args=[token])), reader)


def test_a_readers_address_shows_only_their_feed(client, reader, snapshot_day):
    other = SubscriberFactory(topics=["robot"])
    ids = sent_ids(reader)
    parsed = feedparser.parse(client.get(feed_url(other)).content)
    assert parsed.entries == [] and not parsed.bozo
    assert all(i.encode() not in client.get(feed_url(other)).content for i in ids)


def test_new_feed_address_revokes_the_old_one_only(client, reader, settings):
    old = feed_url(reader)
    feed_address_renew(subscriber=reader)
    _no_hint(client.get(old), reader)
    assert client.get(feed_url(reader)).status_code == 200
    # Revoking the manage links (the token version) leaves the feed alone.
    Subscriber.objects.filter(pk=reader.pk).update(token_version=5)
    assert client.get(feed_url(reader)).status_code == 200


def test_address_survives_a_secret_key_rotation(client, reader, settings):
    url = feed_url(reader)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    "leave",
    [
        lambda s: subscriber_unsubscribe(subscriber=s),
        lambda s: subscriber_suppress(subscriber=s, reason=Subscriber.Status.BOUNCED),
        lambda s: subscriber_erase(subscriber=s),
    ],
    ids=["unsubscribed", "bounced", "erased"],
)
def test_a_reader_who_left_gets_410_gone_with_no_content(client, reader, leave):
    url = feed_url(reader)
    leave(reader)
    response = client.get(url)
    assert response.status_code == 410 and response.content == b""


def test_trending_feed_is_the_public_archive(client, snapshot_day, settings):
    settings.DIGEST_ARCHIVE_COUNT = 5
    response = client.get(reverse("feeds:trending"))
    assert response.status_code == 200
    assert_atom_required_elements(response.content)
    assert "public" in response["Cache-Control"]
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo
    archive = client.get(reverse("digest:archive", args=[DAY.isoformat()])).content.decode()
    ids = [entry.link.rsplit("/", 2)[-2] for entry in parsed.entries]
    assert len(ids) == 5
    assert all(f"/digests/{DAY}/{i}/" in archive for i in ids)
    assert client.get(reverse("feeds:trending"), headers={"If-None-Match": response["ETag"]}
                      ).status_code == 304  # fmt: skip
