"""The live-preview endpoint: what a topic would have brought in the last 7 days of listings."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tests.support.factories import PaperFactory

pytestmark = pytest.mark.django_db
URL = reverse("subscriptions:preview")


@pytest.fixture
def listing():
    day = dt.date(2025, 11, 20)
    PaperFactory(
        arxiv_id="2511.00001",
        title="Diffusion transformers for <b>protein</b> design",
        abstract="We scale diffusion models with transformers.",
        listed_on=day,
        upvotes=40,
    )
    PaperFactory(
        arxiv_id="2511.00002",
        title="A survey of diffusion",
        abstract="Everything about diffusion.",
        listed_on=day - dt.timedelta(days=3),
        upvotes=5,
    )
    PaperFactory(
        arxiv_id="2511.00003",
        title="Old diffusion paper",
        listed_on=day - dt.timedelta(days=8),
    )
    PaperFactory(arxiv_id="2511.00004", title="Graph networks", listed_on=day)
    return day


def test_matches_in_the_last_seven_days_with_highlights(client, listing):
    response = client.get(URL, {"q": "diffusion"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "2511.00001" in html and "2511.00002" in html
    assert "2511.00003" not in html  # listed more than 7 days before the latest day
    assert "2511.00004" not in html
    assert "<mark>Diffusion</mark>" in html
    assert "&lt;b&gt;protein&lt;/b&gt;" in html  # paper text is escaped
    assert html.index("2511.00001") < html.index("2511.00002")
    assert response["Cache-Control"] == "no-store"


def test_exclusion_and_phrase(client, listing):
    html = client.get(URL, {"q": '"diffusion transformers" -survey'}).content.decode()
    assert "2511.00001" in html and "2511.00002" not in html


def test_bad_query_gets_a_readable_error(client, listing):
    response = client.get(URL, {"q": "(unclosed"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "preview-error" in html and "(unclosed" in html


def test_empty_query_gets_a_hint(client, listing):
    response = client.get(URL, {"q": "  "})
    assert response.status_code == 200
    assert "Type a topic" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "hint"),
    [
        ("quantum", "Nothing matched this week. Try fewer words, or OR between alternatives."),
        ('author:"Yann LeCun"', "No paper by this author in the last week."),
        ("cat:cs.CL", "No paper in this category in the last week."),
        ("cat:cs.CL diffusion", "No paper in this category in the last week."),
    ],
)
def test_no_match_says_what_to_make_of_it(client, listing, query, hint):
    html = client.get(URL, {"q": query}).content.decode()
    assert "<strong>0</strong> papers" in html and hint in html
    if query.startswith("author:"):
        assert "fewer words" not in html  # not advice for a name


def test_rate_limited(client, listing, settings):
    settings.PREVIEW_RATE_PER_IP = "3/m"
    for _ in range(3):
        assert client.get(URL, {"q": "diffusion"}).status_code == 200
    response = client.get(URL, {"q": "diffusion"})
    assert response.status_code == 429
    assert "Too many" in response.content.decode()


def test_index_follows_listing_changes(client, listing):
    assert "2511.00009" not in client.get(URL, {"q": "diffusion"}).content.decode()
    PaperFactory(arxiv_id="2511.00009", title="Fresh diffusion", listed_on=listing)
    assert "2511.00009" in client.get(URL, {"q": "diffusion"}).content.decode()
