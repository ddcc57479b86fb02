"""Every paper card carries the reader's "More like this" / "Less like this" links (HTML and
text), made from one token signed per digest, and Hugging Face's AI summary as a TL;DR."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.test import Client

from digest.composing.build import DayBuilder, public_links
from subscriptions.models import Vote
from subscriptions.readers.tokens import Purpose, read_token
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)
SITE = "https://digest.example.org"
VOTE_LINK = re.compile(
    r'<a href="(https://digest\.example\.org/feedback/([^/"]+)/([^"]+)/\?v=(more|less))"[^>]*>'
    r"([^<]+)</a>"
)


@pytest.fixture
def day_papers(settings):
    settings.DIGEST_TRENDING_COUNT = 3
    return [
        PaperFactory(
            arxiv_id="2409.10594",
            listed_on=DAY,
            upvotes=9,
            title="Kolmogorov-Arnold Transformer",
            ai_summary="A transformer whose MLP layers are Kolmogorov-Arnold layers.",
        ),
        PaperFactory(arxiv_id="2103.00112", listed_on=DAY, upvotes=5, title="TNT"),
        PaperFactory(arxiv_id="hep-th/9901001", listed_on=DAY, upvotes=3, title="Old style"),
    ]


def build(subscriber, **render):
    builder = DayBuilder(DAY)
    return builder.render(builder.select(subscriber), **render)


def test_each_card_has_both_vote_links_signed_once_for_the_reader(day_papers):
    reader = SubscriberFactory(email="links@example.org")
    email = build(reader, delivery_id=None)
    links = VOTE_LINK.findall(email.html)
    ids = [p.arxiv_id for p in day_papers]
    assert [(arxiv_id, v, text) for _, _, arxiv_id, v, text in links] == [
        (arxiv_id, v, text)
        for arxiv_id in ids
        for v, text in (("more", "More like this"), ("less", "Less like this"))
    ]
    tokens = {token for _, token, _, _, _ in links}
    assert len(tokens) == 1  # one signature per digest, not per card
    subscriber, _ = read_token(tokens.pop(), Purpose.FEEDBACK)
    assert subscriber == reader
    assert "links@example.org" not in "".join(url for url, *_ in links)
    # The text part carries the same URLs, labelled the same way.
    for url, _, _, _, text in links:
        assert f"   {text}: {url}\n" in email.text


def test_readers_get_their_own_tokens_from_the_shared_cards(day_papers):
    first = build(SubscriberFactory(email="one@example.org"), delivery_id=None)
    second = build(SubscriberFactory(email="two@example.org"), delivery_id=None)
    one = {m[1] for m in VOTE_LINK.findall(first.html)}
    two = {m[1] for m in VOTE_LINK.findall(second.html)}
    assert len(one) == len(two) == 1 and one != two


def test_a_link_from_the_email_opens_the_vote_page_and_records_on_post(day_papers):
    reader = SubscriberFactory(email="clicker@example.org")
    url = VOTE_LINK.findall(build(reader, delivery_id=None).html)[4][0]  # old-style id, more
    path = url.removeprefix(SITE).replace("&amp;", "&")
    client = Client()
    page = client.get(path)
    assert page.status_code == 200 and "Old style" in page.content.decode()
    assert not Vote.objects.exists()
    client.post(path.split("?")[0], {"vote": "like"})
    assert Vote.objects.get().paper.arxiv_id == "hep-th/9901001"


def test_a_copy_for_someone_else_has_no_vote_links(day_papers):
    email = build(SubscriberFactory(), links=public_links(DAY))
    assert "/feedback/" not in email.html and "/feedback/" not in email.text
    assert "Kolmogorov-Arnold Transformer" in email.html


def test_paper_text_with_a_marker_still_gets_the_readers_links(day_papers):
    PaperFactory(
        arxiv_id="2501.00001",
        listed_on=DAY,
        upvotes=99,
        title="XPDMARKACTIONSX XPDMARKBASEFEEDBACKX in a title",
        abstract="XPDMARKSNIPPETX",
    )
    reader = SubscriberFactory(email="marker@example.org")
    email = build(reader, delivery_id=None)
    assert "XPDMARKACTIONSX XPDMARKBASEFEEDBACKX in a title" in email.html
    ids = [m[2] for m in VOTE_LINK.findall(email.html)]
    assert ids[:2] == ["2501.00001", "2501.00001"]


def test_ai_summary_is_a_labelled_tldr_above_the_snippet(day_papers):
    email = build(SubscriberFactory(), delivery_id=None)
    html_card = email.html.split('2409.10594" ', 1)[1].split("</td>")[0]
    label = "TL;DR (Hugging Face\u2019s AI summary):</span> A transformer whose MLP layers"
    assert label in html_card
    assert html_card.index("tldr") < html_card.index('class="snippet"')
    text_card = email.text.split("1. Kolmogorov-Arnold Transformer", 1)[1].split("\n2. ")[0]
    assert "   TL;DR (Hugging Face's AI summary): A transformer whose MLP layers" in text_card
    # Papers without one have no TL;DR line.
    assert email.html.count("TL;DR") == 1 and email.text.count("TL;DR") == 1
