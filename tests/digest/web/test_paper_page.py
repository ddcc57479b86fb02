"""A paper's public page in the web archive, /digests/<day>/<arXiv id>/: what it shows, how the
day's archive and home link to it, and 404s (never a 500) for anything that is not a listed,
visible paper of that day."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from digest.models import PaperEvent
from tests.support.factories import PaperFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)


def page_url(paper) -> str:
    return f"/digests/{paper.listed_on.isoformat()}/{paper.arxiv_id}/"


@pytest.fixture
def paper():
    return PaperFactory(
        arxiv_id="2409.10594",
        listed_on=DAY,
        title="Kolmogorov-Arnold Transformer",
        abstract="Transformers stand as the cornerstone of modern deep learning. <b>Bold</b>?",
        authors=["Xingyi Yang", "Xinchao Wang"],
        upvotes=42,
        comments=3,
        github_repo="https://github.com/Adamdad/kat",
        github_stars=321,
        project_page="https://example.org/kat",
        ai_summary="KAT swaps the MLP layers of transformers for rational KAN layers.",
        sources="arxiv,hf",
    )


def event(paper, kind, detail, *, hidden=False, days_ago=0):
    seen = timezone.now() - timedelta(days=days_ago)
    return PaperEvent.objects.create(
        paper=paper, kind=kind, detail=detail, seen_at=seen, seen_on=seen.date(), hidden=hidden
    )


def test_the_page_shows_the_paper_its_links_and_its_public_events(client, paper):
    event(paper, "code", "https://github.com/Adamdad/kat (321 stars)", days_ago=2)
    event(paper, "version", "v2: camera ready", days_ago=1)
    event(paper, "trending", "on Hugging Face Daily Papers")
    event(paper, "code", "https://github.com/wrong/repo", hidden=True)
    response = client.get(page_url(paper))
    assert response.status_code == 200
    body = response.content.decode()
    text = html.unescape(body)
    assert "<h1" in body and "Kolmogorov-Arnold Transformer</h1>" in body
    assert "Xingyi Yang, Xinchao Wang" in text
    # The whole abstract, escaped (paper text is untrusted).
    assert "cornerstone of modern deep learning. &lt;b&gt;Bold&lt;/b&gt;?" in body
    assert "KAT swaps the MLP layers" in text
    assert re.search(r'class="votes-count">42<', body)
    links = set(re.findall(r'href="([^"]+)"', body))
    assert {
        "https://arxiv.org/abs/2409.10594",
        "https://arxiv.org/pdf/2409.10594",
        "https://huggingface.co/papers/2409.10594",
        "https://github.com/Adamdad/kat",
        "https://example.org/kat",
        f"/digests/{DAY.isoformat()}/",
    } <= links
    # The events editors did not hide, newest first.
    assert text.index("Trending") < text.index("New version on arXiv") < text.index("Code released")
    assert "v2: camera ready" in text and "https://arxiv.org/abs/2409.10594v2" in links
    assert "github.com/wrong/repo" not in body
    # Each event's own words are its link, as in the email (no separate "Open" link).
    repo = "https://github.com/Adamdad/kat"
    assert f'<a href="{repo}">{repo} (321 stars)</a>' in body
    assert ">Open<" not in body
    # The Follow form: an address field, a CSRF token, one button.
    assert 'type="email"' in body and 'name="email"' in body and "csrfmiddlewaretoken" in body
    assert re.findall(r"<button[^>]*>([^<]*)</button>", body) == ["Follow"]


def test_links_it_does_not_know_are_left_out(client):
    bare = PaperFactory(listed_on=DAY, sources="arxiv", github_repo="", project_page="")
    body = client.get(page_url(bare)).content.decode()
    assert "https://arxiv.org/pdf/" in body
    assert "huggingface.co/papers" not in body and ">Code<" not in body
    assert "Project page" not in body and "Since it was listed" not in body


def test_the_day_archive_and_home_link_each_paper_to_its_page(client, paper):
    others = [PaperFactory(listed_on=DAY, upvotes=n) for n in range(3)]
    archive = client.get(reverse("digest:archive", args=[DAY.isoformat()])).content.decode()
    for each in (paper, *others):
        assert f'href="{page_url(each)}"' in archive
        assert client.get(page_url(each)).status_code == 200
    home = client.get("/").content.decode()
    assert f'href="{page_url(paper)}"' in home
    assert reverse("digest:paper", args=[DAY.isoformat(), paper.arxiv_id]) == page_url(paper)


def test_an_old_style_arxiv_id_has_a_page(client):
    old = PaperFactory(arxiv_id="hep-th/9901001", listed_on=DAY, title="An old-style id")
    response = client.get(f"/digests/{DAY.isoformat()}/hep-th/9901001/")
    assert response.status_code == 200 and "An old-style id" in response.content.decode()
    assert reverse("digest:paper", args=[DAY.isoformat(), old.arxiv_id]) == page_url(old)


@pytest.mark.parametrize(
    "path",
    [
        "/digests/2026-11-24/2409.99999/",  # unknown id
        "/digests/2026-11-25/2409.10594/",  # a real paper, another day
        "/digests/2001-01-01/2409.10594/",
        "/digests/2026-13-45/2409.10594/",  # not a date
        "/digests/not-a-date/2409.10594/",
        "/digests/2026-11-24/2409.10594v2/",  # ids are bare (no version)
        "/digests/2026-11-24/2409.1059/",
        "/digests/2026-11-24/not-an-id/",
        "/digests/2026-11-24/..%2F..%2Fetc%2Fpasswd/",
        "/digests/2026-11-24/2409.10594%00/",
        "/digests/2026-11-24/%F0%9F%92%A5/",
        "/digests/2026-11-24/2409.10594/extra/",
        "/digests/2026-11-24/2409.99999/check-your-inbox/",
        "/digests/2026-11-25/2409.10594/check-your-inbox/",
        "/digests/" + "9" * 300 + "/2409.10594/",
    ],
)
def test_anything_but_a_listed_paper_of_that_day_is_404(client, paper, path):
    assert client.get(path).status_code == 404
    # The form's POST too (the answer page takes GET only: 405 there).
    assert client.post(path, {"email": "ada@example.org"}).status_code in (404, 405)


def test_hidden_and_withdrawn_papers_have_no_page(client, paper):
    paper.hidden = True
    paper.save()
    assert client.get(page_url(paper)).status_code == 404
    paper.hidden, paper.withdrawn_at = False, timezone.now()
    paper.save()
    assert client.get(page_url(paper)).status_code == 404


def test_other_methods_are_refused(client, paper):
    assert client.put(page_url(paper)).status_code == 405
    assert client.post(page_url(paper) + "check-your-inbox/").status_code == 405
