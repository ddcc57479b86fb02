"""The largest digest a reader can ask for stays under Gmail's 100 KB clipping limit, vote
links, TL;DRs and all (Gmail hides a clipped message's footer, with its unsubscribe link): the
later cards of a long digest are written compact (title, meta line, reason, links), every paper
still in it."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date

import pytest
from django.core.management import call_command

from digest.composing.build import DayBuilder
from digest.composing.cards import compact_from
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)


def _a_long_day() -> None:
    for n in range(60):
        PaperFactory(
            arxiv_id=f"2511.{n:05d}",
            listed_on=DAY,
            upvotes=100 - n,
            title=f"A long title about diffusion models for paper number {n} " * 2,
            abstract="We study diffusion models at length, with many words. " * 20,
            authors=[f"Author {k}" for k in range(12)],
            author_count=12,
            categories=["cs.CV", "cs.LG"],
            primary_category="cs.CV",
            github_repo=f"https://github.com/example-lab/diffusion-paper-{n}",
            github_stars=1234,
            project_page=f"https://example-lab.github.io/diffusion-paper-{n}/",
            thumbnail=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2511.{n:05d}.png",
            ai_summary="A diffusion model variant that does something well, in one sentence of "
            "about the length Hugging Face's summaries have, give or take a few words.",
        )


def _the_biggest_reader(cap: int):
    return SubscriberFactory(
        email="a-long-address-for-the-biggest-digest@example.org",
        max_papers=cap,
        topics=["diffusion", "models", '"diffusion models"'],
    )


@pytest.mark.parametrize("cap", [10, 25, 50])  # the default, and up to the most a reader may ask
def test_a_full_digest_stays_under_100_kb(settings, cap):
    settings.DIGEST_TRENDING_COUNT = 5
    _a_long_day()
    reader = _the_biggest_reader(cap)
    builder = DayBuilder(DAY)
    content = builder.select(reader)
    assert len(content.trending) + len(content.topics) == cap  # the cap counts every card
    email = builder.render(content, delivery_id=123456789)
    html = email.html
    assert len(html.encode()) < 100_000
    assert html.count(">More like this</a>") == cap
    picks = [*content.trending, *content.topics]
    for pick in picks:  # every paper, with its links, in its place
        assert f'href="https://arxiv.org/abs/{pick.paper.arxiv_id}"' in html
    assert "Unsubscribe" in html[-3000:]  # the footer is there, past every card
    full = html.count('class="snippet"')
    if cap <= 10:
        assert full == cap  # a usual digest is all full cards
        assert 'class="brief"' not in html
    else:
        # The first cards keep their snippet, TL;DR and figure; the rest are compact.
        assert 5 <= full < cap
        assert html.count('class="tldr"') == html.count('class="thumb"') == full
        positions = [html.index(f"/abs/{p.paper.arxiv_id}") for p in picks]
        assert positions == sorted(positions)
        last_snippet = html.rindex('class="snippet"')
        assert all(p < last_snippet for p in positions[:full])
        assert all(p > last_snippet for p in positions[full:])
        # One line, right before the first compact card, says why and links to the web version.
        assert html.count('class="brief"') == 1
        note = html.index('class="brief"')
        assert positions[full - 1] < note < positions[full]
        assert "/digests/view/" in html[note : html.index("</td>", note)]
    # The text part has no such limit: every card keeps its snippet there.
    assert email.text.count("TL;DR (Hugging Face's AI summary)") == cap


def test_cards_go_compact_from_the_first_that_would_not_leave_room_for_the_rest():
    # Budget 95,000: 20,000 fixed; full cards 10,000, compact 2,000.
    assert compact_from([10_000] * 3, [2_000] * 3, fixed=20_000) == [False] * 3
    assert compact_from([10_000] * 10, [2_000] * 10, fixed=20_000) == [False] * 6 + [True] * 4
    # A card too big to fit goes compact, and a later, smaller one may stay full.
    assert compact_from([80_000, 5_000], [2_000, 2_000], fixed=20_000) == [True, False]


def test_the_web_version_of_a_long_digest_has_every_card_in_full(client, settings, file_outbox):
    settings.DIGEST_TRENDING_COUNT = 5
    settings.DIGEST_VIEW_MORE_COUNT = 0
    _a_long_day()
    _the_biggest_reader(50)
    call_command("send_digests", day=DAY.isoformat())
    (path,) = file_outbox.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    emailed = message.get_body(preferencelist=("html",)).get_content()
    assert 5 <= emailed.count('class="snippet"') < 50

    note = emailed[emailed.index('class="brief"') :]
    view_url = re.search(r'href="https://digest\.example\.org(/digests/view/[^"]+)"', note)[1]
    page = client.get(view_url).content.decode()

    assert page.count('class="snippet"') == page.count('class="card-title"') == 50
    assert 'class="brief"' not in page
