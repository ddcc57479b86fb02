"""The largest digest a reader can ask for stays under Gmail's 100 KB clipping limit, vote
links, TL;DRs and all (Gmail hides a clipped message's footer, with its unsubscribe link)."""

from __future__ import annotations

from datetime import date

import pytest

from digest.composing.build import DayBuilder
from tests.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    "cap",
    [
        10,  # the default
        25,
        pytest.param(
            50,
            marks=pytest.mark.xfail(
                strict=True,
                reason="over 100 KB before the vote links too (139.7 KB on the same papers); "
                "the most a reader may ask for needs a slimmer card or a lower cap",
            ),
        ),
    ],
)
def test_a_full_digest_stays_under_100_kb(settings, cap):
    settings.DIGEST_TRENDING_COUNT = 5
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
    reader = SubscriberFactory(
        email="a-long-address-for-the-biggest-digest@example.org",
        max_papers=cap,
        topics=["diffusion", "models", '"diffusion models"'],
    )
    builder = DayBuilder(DAY)
    content = builder.select(reader)
    assert len(content.trending) + len(content.topics) == cap  # the cap counts every card
    email = builder.render(content, delivery_id=123456789)
    assert email.html.count(">More like this</a>") == cap
    size = len(email.html.encode())
    assert size < 100_000
