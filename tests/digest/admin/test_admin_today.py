"""Today's digest: the trending section in the order it goes out, candidates, hidden papers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from digest.models import CurationChange, Paper
from tests.support.factories import PaperFactory

pytestmark = pytest.mark.django_db

TODAY = reverse("admin:digest_paper_today")
DAY = dt.date(2026, 3, 10)


def order_in(html: str, section: str) -> list[str]:
    """arXiv ids in the order the page lists them inside one section (by its element id)."""
    block = re.search(rf'id="{section}"(.*?)</[ou]l>', html, re.S)
    assert block, section
    return re.findall(r'data-arxiv-id="([^"]+)"', block.group(1))


@pytest.fixture
def day_listing(settings):
    settings.DIGEST_TRENDING_COUNT = 3
    PaperFactory(arxiv_id="old", listed_on=DAY - dt.timedelta(days=1), upvotes=999)
    return {
        name: PaperFactory(arxiv_id=name, listed_on=DAY, **fields)
        for name, fields in {
            "top": {"upvotes": 90},
            "second": {"upvotes": 80},
            "third": {"upvotes": 70},
            "fourth": {"upvotes": 60},
            "fifth": {"upvotes": 5},
            "noted": {"upvotes": 1, "pinned": True, "pin_order": 1, "editor_note": "Must read."},
            "gone": {"upvotes": 500, "hidden": True},
        }.items()
    }


def test_shows_the_trending_order_candidates_and_hidden(admin_client, day_listing):
    response = admin_client.get(TODAY)
    html = response.content.decode()
    assert response.status_code == 200
    # Pinned first, then by upvotes; the day before is not part of it; hidden is left out.
    assert order_in(html, "ax-trending") == ["noted", "top", "second"]
    assert order_in(html, "ax-candidates") == ["third", "fourth", "fifth"]
    assert order_in(html, "ax-hidden") == ["gone"]
    assert "Must read." in html
    gone = day_listing["gone"]
    assert reverse("admin:digest_paper_curate", args=[gone.pk, "unhide"]) in html


def test_the_page_follows_the_selector_the_digest_uses(admin_client, day_listing):
    from digest.papers.selectors import trending_papers

    html = admin_client.get(TODAY).content.decode()
    assert order_in(html, "ax-trending") == [p.arxiv_id for p in trending_papers(day=DAY, limit=3)]


def test_promote_a_candidate_and_hide_a_trending_paper(admin_client, day_listing):
    fifth, top = day_listing["fifth"], day_listing["top"]
    admin_client.post(
        reverse("admin:digest_paper_curate", args=[fifth.pk, "pin"]),
        {f"order-{fifth.pk}": "0", "next": TODAY},
    )
    response = admin_client.post(
        reverse("admin:digest_paper_curate", args=[top.pk, "hide"]), {"next": TODAY}
    )
    assert response["Location"] == TODAY
    html = admin_client.get(TODAY).content.decode()
    assert order_in(html, "ax-trending") == ["fifth", "noted", "second"]
    assert order_in(html, "ax-hidden") == ["gone", "top"]
    assert list(CurationChange.objects.values_list("paper__arxiv_id", "action")) == [
        ("top", "hide"),
        ("fifth", "pin"),
    ]


def test_linked_from_the_index_and_the_paper_list(admin_client):
    assert TODAY in admin_client.get(reverse("admin:index")).content.decode()
    assert TODAY in admin_client.get(reverse("admin:digest_paper_changelist")).content.decode()


def test_empty_database(admin_client):
    response = admin_client.get(TODAY)
    assert response.status_code == 200
    assert "No listing has been fetched yet" in response.content.decode()
    assert Paper.objects.count() == 0
