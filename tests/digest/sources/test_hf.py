"""Hugging Face Daily Papers: recorded-format pages served by a local HTTP server."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from digest.sources.hf import fetch_hf_day, fetch_hf_day_from_settings, parse_hf_items
from digest.sources.http import FetchError, HttpFetcher
from digest.sources.records import Listing, PaperRecord, SkippedItem, normalize_arxiv_id

from .conftest import SITE_URL, fixture_bytes, fixture_json

DAY = date(2024, 9, 17)
PATH = "/api/daily_papers"


@pytest.fixture
def day_items() -> list[dict[str, Any]]:
    return fixture_json("hf_daily_papers_2024-09-17.json")


def _ids(items: list[dict[str, Any]]) -> list[str]:
    return [normalize_arxiv_id(item["paper"]["id"]) or "" for item in items]


def _query(page: int, limit: int = 100) -> dict[str, str]:
    return {"date": "2024-09-17", "limit": str(limit), "p": str(page)}


def _requested(httpserver: HTTPServer) -> list[dict[str, str]]:
    return [request.args.to_dict() for request, _ in httpserver.log]


KAT = PaperRecord(
    arxiv_id="2409.10594",
    title="Kolmogorov-Arnold Transformer",
    abstract=fixture_json("hf_daily_papers_2024-09-17.json")[0]["paper"]["summary"],
    authors=("Xingyi Yang", "Xinchao Wang"),
    author_count=2,
    keywords=("Kolmogorov-Arnold Networks", "transformer", "rational functions", "group-KAN"),
    ai_summary="A transformer variant that replaces MLP layers with Kolmogorov-Arnold Network "
    "layers using rational functions and group-wise parameter sharing.",
    published_at=datetime(2024, 9, 16, 17, 54, 51, tzinfo=UTC),
    listed_on=DAY,
    upvotes=5,
    comments=2,
    github_repo="https://github.com/Adamdad/kat",
    github_stars=812,
    thumbnail="https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2409.10594.png",
    source="hf",
)


def test_day_over_two_pages_by_p(httpserver: HTTPServer, fetcher: HttpFetcher, day_items):
    assert len(day_items) == 125
    httpserver.expect_ordered_request(
        PATH,
        query_string=_query(0),
        headers={"User-Agent": f"paper-digest/0.1 (+{SITE_URL})"},
    ).respond_with_json(day_items[:100])
    httpserver.expect_ordered_request(PATH, query_string=_query(1)).respond_with_json(
        day_items[100:]
    )

    listing = fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher)

    assert [record.arxiv_id for record in listing.records] == _ids(day_items)
    assert len(set(_ids(day_items))) == 125
    assert listing.skipped == []
    assert listing.records[0] == KAT
    assert {record.source for record in listing.records} == {"hf"}
    assert {record.listed_on for record in listing.records} == {DAY}
    assert len(httpserver.log) == 2  # the short second page ends the walk
    httpserver.check_assertions()


def test_full_last_page_is_followed_by_an_empty_one(
    httpserver: HTTPServer, fetcher: HttpFetcher, day_items
):
    for page in range(5):
        httpserver.expect_ordered_request(PATH, query_string=_query(page, 25)).respond_with_json(
            day_items[page * 25 : (page + 1) * 25]
        )
    httpserver.expect_ordered_request(PATH, query_string=_query(5, 25)).respond_with_json([])

    listing = fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher, limit=25)

    assert [record.arxiv_id for record in listing.records] == _ids(day_items)
    assert len(httpserver.log) == 6
    httpserver.check_assertions()


def test_day_over_three_pages_by_link_header(
    httpserver: HTTPServer, fetcher: HttpFetcher, day_items
):
    # Pages shorter than `limit` would end a `p` walk: only the Link header can carry it on.
    second = "/api/daily_papers?date=2024-09-17&cursor=b2Zmc2V0OjUw"
    third = httpserver.url_for("/api/daily_papers") + "?date=2024-09-17&cursor=b2Zmc2V0OjEwMA"
    httpserver.expect_ordered_request(PATH, query_string=_query(0)).respond_with_json(
        day_items[:50], headers={"Link": f'<{second}>; rel="next"'}
    )
    httpserver.expect_ordered_request(
        PATH, query_string={"date": "2024-09-17", "cursor": "b2Zmc2V0OjUw"}
    ).respond_with_json(day_items[50:100], headers={"Link": f'<{third}>; rel="next"'})
    httpserver.expect_ordered_request(
        PATH, query_string={"date": "2024-09-17", "cursor": "b2Zmc2V0OjEwMA"}
    ).respond_with_json(day_items[100:])

    listing = fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher)

    assert [record.arxiv_id for record in listing.records] == _ids(day_items)
    assert listing.skipped == []
    httpserver.check_assertions()


def test_server_that_ignores_p_does_not_loop(
    httpserver: HTTPServer, fetcher: HttpFetcher, day_items
):
    httpserver.expect_request(PATH).respond_with_json(day_items[:100])

    listing = fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher)

    assert [record.arxiv_id for record in listing.records] == _ids(day_items[:100])
    assert _requested(httpserver) == [_query(0), _query(1)]


def test_link_header_pointing_back_does_not_loop(
    httpserver: HTTPServer, fetcher: HttpFetcher, day_items
):
    httpserver.expect_request(PATH).respond_with_json(
        day_items[:10], headers={"Link": f'<{PATH}?date=2024-09-17&limit=100&p=0>; rel="next"'}
    )

    listing = fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher)

    assert len(listing.records) == 10
    assert len(httpserver.log) == 1


def test_max_pages_caps_the_walk(httpserver: HTTPServer, fetcher: HttpFetcher, day_items):
    for page in range(5):
        httpserver.expect_request(PATH, query_string=_query(page, 25)).respond_with_json(
            day_items[page * 25 : (page + 1) * 25]
        )

    listing = fetch_hf_day(
        DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher, limit=25, max_pages=3
    )

    assert [record.arxiv_id for record in listing.records] == _ids(day_items[:75])
    assert _requested(httpserver) == [_query(0, 25), _query(1, 25), _query(2, 25)]


def test_awkward_but_valid_items(day_items):
    listing = parse_hf_items(day_items[:9], listed_on=DAY)

    assert listing.skipped == []
    latex, withdrawn, extra, null_repo, bare, versioned = listing.records[3:9]
    # White space folded, LaTeX and HTML kept verbatim (escaping is the renderer's job).
    assert latex.title == r"Attention with $\mathcal{O}(n\log n)$ Cost: <i>Linear</i> Transformers"
    assert withdrawn.withdrawn is True
    assert [r.arxiv_id for r in listing.records if r.withdrawn] == [withdrawn.arxiv_id]
    assert extra.arxiv_id == "2306.07303" and extra.title.startswith("A Comprehensive Survey")
    assert null_repo.github_repo == ""
    assert (bare.keywords, bare.ai_summary, bare.github_stars, bare.project_page) == (
        (),
        "",
        None,
        "",
    )
    assert bare.thumbnail == ""
    assert bare.published_at is not None and bare.upvotes is not None
    assert (versioned.arxiv_id, versioned.version) == ("2409.12001", 2)
    assert all("\n" not in r.abstract and "  " not in r.abstract for r in listing.records)


def test_ai_summary_is_read_folded_and_a_wrong_type_skips_the_item(day_items):
    item = json.loads(json.dumps(day_items[0]))
    item["paper"]["ai_summary"] = "  One sentence\n about   KAT. "
    odd = json.loads(json.dumps(day_items[1]))
    odd["paper"]["ai_summary"] = {"text": "not a string"}
    listing = parse_hf_items([item, odd], listed_on=DAY)
    assert [r.ai_summary for r in listing.records] == ["One sentence about KAT."]
    assert listing.skipped == [
        SkippedItem(
            "paper.ai_summary is not a string: {'text': 'not a string'}",
            1,
            odd["paper"]["id"],
        )
    ]


def test_malformed_items_are_skipped_and_counted(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_request(PATH).respond_with_data(
        fixture_bytes("hf_malformed.json"), content_type="application/json"
    )

    listing = fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher)

    assert listing.records == [
        PaperRecord(
            arxiv_id="2409.10594",
            title="Kolmogorov-Arnold Transformer",
            abstract="Transformers stand as the cornerstone of mordern deep learning.",
            authors=("Xingyi Yang", "Xinchao Wang"),  # hidden authors are still authors
            author_count=2,
            published_at=datetime(2024, 9, 16, 17, 54, 51, tzinfo=UTC),
            listed_on=DAY,
            upvotes=5,
            comments=2,
            source="hf",
        ),
        PaperRecord(
            arxiv_id="2409.19999",
            title="Fallback Title From Paper",
            abstract="Item title is empty; the paper title is used.",
            authors=("Priya Patel",),
            author_count=1,
            published_at=datetime(2024, 9, 16, 10, 0, tzinfo=UTC),
            listed_on=DAY,
            upvotes=0,
            comments=0,
            version=3,
            source="hf",
        ),
    ]
    assert listing.skipped == [
        SkippedItem("missing paper.id", 1, ""),
        SkippedItem("missing title", 2, "2409.11111"),
        SkippedItem("paper.upvotes is not an integer: 'many'", 3, "2409.12222"),
        SkippedItem("paper.authors is not a list: 'Wei Zhang, Lucas Meyer'", 4, "2409.13333"),
        SkippedItem("paper.id is not an arXiv id: 'hf-internal-8f3a2c'", 5, "hf-internal-8f3a2c"),
        SkippedItem("item is not an object (got string)", 6, ""),
        SkippedItem("item is not an object (got null)", 7, ""),
        SkippedItem("missing paper", 8, ""),
        SkippedItem("paper.id is not a string: 2409.15555", 9, "2409.15555"),
        SkippedItem("paper.publishedAt is not an ISO 8601 date: 'yesterday'", 10, "2409.16666"),
        SkippedItem("paper.githubStars is not an integer: '1.2k'", 11, "2409.17777"),
        SkippedItem("paper.upvotes is not an integer: True", 12, "2409.18888"),
    ]


def test_empty_day_is_an_empty_listing(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_request(PATH, query_string=_query(0)).respond_with_json([])

    listing = fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher)

    assert listing == Listing()
    assert len(httpserver.log) == 1


def test_body_that_is_not_json_raises(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_request(PATH).respond_with_data(
        fixture_bytes("hf_not_json.html"), content_type="text/html"
    )

    with pytest.raises(FetchError, match="body is not JSON"):
        fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher)


def test_json_that_is_not_a_list_raises(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_request(PATH).respond_with_json({"error": "Invalid date"})

    with pytest.raises(FetchError, match="expected a JSON array, got dict"):
        fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher)


def test_failure_on_a_later_page_fails_the_whole_fetch(
    httpserver: HTTPServer, fetcher: HttpFetcher, day_items, sleeps: list[float]
):
    # A half day would look like papers vanished; the caller must see an error and keep its data.
    httpserver.expect_request(PATH, query_string=_query(0)).respond_with_json(day_items[:100])
    httpserver.expect_request(PATH, query_string=_query(1)).respond_with_data("", status=502)

    with pytest.raises(FetchError, match=r"p=1 failed after 4 attempt\(s\): HTTP 502"):
        fetch_hf_day(DAY, base_url=httpserver.url_for(PATH), fetcher=fetcher)
    assert sleeps == [0.5, 1.0, 2.0]


def test_fetch_from_settings(settings, httpserver: HTTPServer, day_items):
    settings.HF_PAPERS_URL = httpserver.url_for(PATH)
    httpserver.expect_request(
        PATH,
        query_string=_query(0),
        headers={"User-Agent": "paper-digest/0.1 (+https://digest.example.org)"},
    ).respond_with_json(day_items[:3])

    listing = fetch_hf_day_from_settings(DAY)

    assert [record.arxiv_id for record in listing.records] == _ids(day_items[:3])
    httpserver.check_assertions()
