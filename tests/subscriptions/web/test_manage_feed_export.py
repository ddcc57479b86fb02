"""The manage page's feed panel (the private address, a new one, Deliver by) and the export of
liked and followed papers as BibTeX and CSL-JSON."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import bibtexparser
import pytest
from django.urls import reverse
from django.utils import timezone

from subscriptions.feedback.follows import follow_start
from subscriptions.feedback.votes import vote_record
from subscriptions.models import Subscriber, Vote
from subscriptions.readers.feeds import feed_token
from subscriptions.readers.tokens import Purpose, make_token
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader():
    return SubscriberFactory(email="m@example.org", topics=["diffusion"])


def manage_url(subscriber):
    return reverse("subscriptions:manage", args=[make_token(subscriber, Purpose.MANAGE)])


def test_manage_page_shows_the_private_feed_address_and_says_it_is_secret(client, reader):
    page = client.get(manage_url(reader)).content.decode()
    address = "https://digest.example.org" + reverse("feeds:reader", args=[feed_token(reader)])
    assert f'value="{address}"' in page
    assert "Keep this address to yourself" in page and "show your topics" in page
    assert client.get(address.removeprefix("https://digest.example.org")).status_code == 200


def test_new_feed_address_replaces_the_old_one(client, reader):
    old = reverse("feeds:reader", args=[feed_token(reader)])
    response = client.post(manage_url(reader), {"action": "feed_new_address"}, follow=True)
    assert "the old one no longer works" in response.content.decode()
    reader.refresh_from_db()
    new = reverse("feeds:reader", args=[feed_token(reader)])
    assert new != old and new in response.content.decode()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


@pytest.mark.parametrize("choice", ["feed", "both", "email"])
def test_deliver_by_is_saved(client, reader, choice):
    response = client.post(
        manage_url(reader), {"action": "deliver_by", "deliver_by": choice}, follow=True
    )
    assert response.status_code == 200
    page = response.content.decode()
    reader.refresh_from_db()
    assert reader.deliver_by == choice
    checked = re.findall(r'<input type="radio" name="deliver_by" value="(\w+)"[^>]* checked', page)
    assert checked == [choice]


def test_bad_deliver_by_changes_nothing(client, reader):
    response = client.post(
        manage_url(reader), {"action": "deliver_by", "deliver_by": "pigeon"}, follow=True
    )
    assert "Choose email, feed reader, or both." in response.content.decode()
    reader.refresh_from_db()
    assert reader.deliver_by == Subscriber.DeliverBy.EMAIL


@pytest.fixture
def papers(reader):
    liked = PaperFactory(
        arxiv_id="2401.01234",
        title="On {BERT} at 100%",
        authors=["Łukasz Kaiser", "Jürgen van der Müller"],
    )
    disliked = PaperFactory(arxiv_id="2401.05678")
    followed = PaperFactory(arxiv_id="2402.00001", listed_on=timezone.localdate() - timedelta(1))
    vote_record(subscriber=reader, paper=liked, value=Vote.Value.LIKE)
    vote_record(subscriber=reader, paper=disliked, value=Vote.Value.DISLIKE)
    follow_start(subscriber=reader, paper=followed)
    SubscriberFactory()  # another reader's papers never show
    return liked, disliked, followed


def test_export_bibtex_has_liked_and_followed_papers(client, reader, papers):
    page = client.get(manage_url(reader)).content.decode()
    href = reverse("subscriptions:export_bibtex", args=[make_token(reader, Purpose.MANAGE)])
    assert href in page and "Export as BibTeX" in page
    response = client.get(href)
    assert response["Content-Type"].startswith("application/x-bibtex")
    assert "attachment" in response["Content-Disposition"]
    library = bibtexparser.parse_string(response.content.decode())
    eprints = [entry.fields_dict["eprint"].value for entry in library.entries]
    assert sorted(eprints) == ["2401.01234", "2402.00001"]  # not the "Less like this" one


def test_export_csl_json(client, reader, papers):
    href = reverse("subscriptions:export_csl", args=[make_token(reader, Purpose.MANAGE)])
    assert href in client.get(manage_url(reader)).content.decode()
    items = json.loads(client.get(href).content)
    by_doi = {item["DOI"]: item for item in items}
    assert set(by_doi) == {"10.48550/arXiv.2401.01234", "10.48550/arXiv.2402.00001"}
    assert by_doi["10.48550/arXiv.2401.01234"]["title"] == "On {BERT} at 100%"
    assert by_doi["10.48550/arXiv.2401.01234"]["author"][0] == {
        "given": "Łukasz",
        "family": "Kaiser",
    }


def test_export_needs_a_good_manage_link(client, reader, papers):
    bad = reverse("subscriptions:export_bibtex", args=["nope"])
    response = client.get(bad)
    assert response.status_code == 400 and b"@misc" not in response.content
    unsubscribe = make_token(reader, Purpose.UNSUBSCRIBE)
    assert client.get(reverse("subscriptions:export_csl", args=[unsubscribe])).status_code == 400


def test_the_export_includes_the_library_papers_with_an_arxiv_id(client, reader, papers):
    from subscriptions.models import LibraryPaper

    LibraryPaper.objects.create(
        subscriber=reader, arxiv_id="1706.03762", title="Attention Is All You Need",
        authors=["Ashish Vaswani"],
    )  # fmt: skip
    LibraryPaper.objects.create(subscriber=reader, arxiv_id="2401.01234", title="Liked too")
    LibraryPaper.objects.create(subscriber=reader, title="A book chapter with no arXiv id")
    href = reverse("subscriptions:export_bibtex", args=[make_token(reader, Purpose.MANAGE)])
    library = bibtexparser.parse_string(client.get(href).content.decode())
    eprints = [entry.fields_dict["eprint"].value for entry in library.entries]
    assert sorted(eprints) == ["1706.03762", "2401.01234", "2402.00001"]  # each once
