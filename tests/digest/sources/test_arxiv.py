"""arXiv export API: recorded-format Atom pages served by a local HTTP server."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pytest_httpserver import HTTPServer

from digest.sources.arxiv import (
    build_search_query,
    fetch_arxiv_day,
    fetch_arxiv_day_from_settings,
    parse_arxiv_feed,
)
from digest.sources.http import FetchError, HttpFetcher, RateLimiter
from digest.sources.records import Listing, PaperRecord, SkippedItem

from .conftest import FIXTURES, SITE_URL, fixture_bytes, fixture_json

DAY = date(2024, 9, 16)
PATH = "/api/query"
CATEGORIES = ["cs.LG", "cs.CL"]
QUERY = "(cat:cs.LG OR cat:cs.CL) AND submittedDate:[202409160000 TO 202409162359]"
PAGE_IDS = [
    ["2304.12400", "2305.13817", "2306.07303"],
    ["2212.13899", "2306.13474", "2510.14009"],
    ["2202.12954"],
]
ALL_IDS = [arxiv_id for page in PAGE_IDS for arxiv_id in page]


def _page(n: int) -> bytes:
    return fixture_bytes(f"arxiv_2024-09-16_page{n}.atom")


def _args(start: int, max_results: int) -> dict[str, str]:
    return {
        "search_query": QUERY,
        "sortBy": "submittedDate",
        "sortOrder": "descending",
        "start": str(start),
        "max_results": str(max_results),
    }


def _requested(httpserver: HTTPServer) -> list[dict[str, str]]:
    return [request.args.to_dict() for request, _ in httpserver.log]


class RecordingLimiter(RateLimiter):
    """A real RateLimiter on a clock that stands still, so every wait is the full interval."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        super().__init__(3.0, clock=lambda: 0.0, sleep=self.waits.append)


def _fetch(httpserver: HTTPServer, fetcher: HttpFetcher, **options) -> Listing:
    options.setdefault("limiter", RecordingLimiter())
    return fetch_arxiv_day(
        DAY, base_url=httpserver.url_for(PATH), categories=CATEGORIES, fetcher=fetcher, **options
    )


def test_search_query_covers_the_categories_and_the_utc_day():
    assert build_search_query(["cs.LG", "cs.CL"], DAY) == QUERY
    with pytest.raises(ValueError, match="category"):
        build_search_query([], DAY)


def test_day_over_three_pages_through_the_rate_limiter(
    httpserver: HTTPServer, fetcher: HttpFetcher
):
    for n, start in enumerate((0, 3, 6)):
        httpserver.expect_ordered_request(
            PATH,
            query_string=_args(start, 3),
            headers={"User-Agent": f"paper-digest/0.1 (+{SITE_URL})"},
        ).respond_with_data(_page(n), content_type="application/atom+xml")
    limiter = RecordingLimiter()

    listing = _fetch(httpserver, fetcher, page_size=3, limiter=limiter)

    assert [record.arxiv_id for record in listing.records] == ALL_IDS
    assert listing.skipped == []
    assert limiter.waits == [3.0, 3.0]  # every request after the first waited its turn
    httpserver.check_assertions()  # and the walk stopped at totalResults = 7


def test_entry_fields(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_request(PATH).respond_with_data(_page(0))

    listing = _fetch(httpserver, fetcher, page_size=3, max_results=3)

    hf_abstract = next(
        item["paper"]["summary"]
        for item in fixture_json("hf_daily_papers_2024-09-17.json")
        if item["paper"]["id"] == "2304.12400"
    )
    first, _, cross_list = listing.records
    assert first == PaperRecord(
        arxiv_id="2304.12400",
        title=(
            "Generative Discovery of Novel Chemical Designs using Diffusion Modeling and "
            "Transformer Deep Neural Networks with Application to Deep Eutectic Solvents"
        ),
        abstract=hf_abstract,  # the same real abstract, line-wrapped by arXiv, folded back
        authors=("Priya Chen", "Lea Kim", "Mateo Horváth"),
        categories=("cs.LG", "cs.IR"),
        primary_category="cs.LG",
        published_at=datetime(2024, 9, 16, 23, 16, 52, tzinfo=UTC),
        listed_on=DAY,
        version=1,
        comment="12 pages, 4 figures",  # arxiv:comment, which tells a new version's changes
        source="arxiv",
    )
    # A cross-list: our category is not the primary one; LaTeX and markup kept as text.
    assert (
        cross_list.title
        == r"Sharp $\mathcal{O}(n^2)$ Bounds for Attention: $\alpha$-Entmax & <Softmax>"
    )
    assert (cross_list.primary_category, cross_list.categories) == (
        "math.ST",
        ("math.ST", "cs.LG", "stat.ML"),
    )
    assert (cross_list.version, cross_list.upvotes) == (3, None)


def test_pages_advance_by_entries_returned_not_entries_asked(
    httpserver: HTTPServer, fetcher: HttpFetcher
):
    # Asked for 4 per page, arXiv answers 3: the next page starts at 3, not 4.
    for n, start in enumerate((0, 3, 6)):
        httpserver.expect_ordered_request(PATH, query_string=_args(start, 4)).respond_with_data(
            _page(n)
        )

    listing = _fetch(httpserver, fetcher, page_size=4)

    assert [record.arxiv_id for record in listing.records] == ALL_IDS
    httpserver.check_assertions()


def test_max_results_caps_the_walk(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_ordered_request(PATH, query_string=_args(0, 3)).respond_with_data(_page(0))
    httpserver.expect_ordered_request(PATH, query_string=_args(3, 2)).respond_with_data(_page(1))

    listing = _fetch(httpserver, fetcher, page_size=3, max_results=5)

    # The cap bounds what we ask for; what a page brings is kept.
    assert [record.arxiv_id for record in listing.records] == PAGE_IDS[0] + PAGE_IDS[1]
    assert len(httpserver.log) == 2
    httpserver.check_assertions()


def test_empty_page_before_total_ends_the_walk(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_ordered_request(PATH, query_string=_args(0, 3)).respond_with_data(_page(0))
    # arXiv sometimes answers a later page with no entries although totalResults says more.
    empty_but_total_7 = fixture_bytes("arxiv_empty.atom").replace(
        b">0</opensearch:totalResults>", b">7</opensearch:totalResults>"
    )
    httpserver.expect_ordered_request(PATH, query_string=_args(3, 3)).respond_with_data(
        empty_but_total_7
    )

    listing = _fetch(httpserver, fetcher, page_size=3)

    assert [record.arxiv_id for record in listing.records] == PAGE_IDS[0]
    assert len(httpserver.log) == 2


def test_malformed_entries_are_skipped_and_counted():
    listing, total = parse_arxiv_feed(fixture_bytes("arxiv_malformed.atom"), listed_on=DAY)

    assert total == 5
    assert listing.records == [
        PaperRecord(
            arxiv_id="hep-th/9711200",  # old-style id kept whole
            title="The Large N Limit of Superconformal Field Theories and Supergravity",
            abstract=(
                "We show that the large $N$ limit of certain conformal field theories in various "
                "dimensions include in their Hilbert space a sector describing supergravity on "
                "the product of Anti-deSitter spacetimes, spheres and other compact manifolds."
            ),
            authors=("Juan M. Maldacena",),
            categories=("hep-th",),
            primary_category="hep-th",
            published_at=datetime(1997, 11, 27, 19, 47, 22, tzinfo=UTC),
            listed_on=DAY,
            version=3,
            comment="20 pages, harvmac, v2: section on AdS_2 corrected, references added",
            source="arxiv",
        ),
        PaperRecord(
            arxiv_id="2409.18888",
            title="No Primary Category Given",
            abstract="Only plain categories; the first one stands in for the primary.",
            authors=("Wei Zhang", "Wei Zhang"),  # two people may share a name
            categories=("cs.CL", "cs.AI"),
            primary_category="cs.CL",
            published_at=datetime(2024, 9, 16, 10, 0, tzinfo=UTC),
            listed_on=DAY,
            version=1,
            source="arxiv",
        ),
    ]
    assert listing.skipped == [
        SkippedItem("missing id", 0, ""),
        SkippedItem("missing title", 2, "http://arxiv.org/abs/2409.17777v1"),
        SkippedItem(
            "id is not an arXiv id: 'https://example.org/not-an-arxiv-paper'",
            3,
            "https://example.org/not-an-arxiv-paper",
        ),
    ]


def test_positions_count_across_pages(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_ordered_request(PATH, query_string=_args(0, 3)).respond_with_data(_page(0))
    malformed = fixture_bytes("arxiv_malformed.atom").replace(
        b">5</opensearch:totalResults>", b">8</opensearch:totalResults>"
    )
    httpserver.expect_ordered_request(PATH, query_string=_args(3, 3)).respond_with_data(malformed)

    listing = _fetch(httpserver, fetcher, page_size=3)

    assert [record.arxiv_id for record in listing.records] == PAGE_IDS[0] + [
        "hep-th/9711200",
        "2409.18888",
    ]
    assert [(item.reason, item.position) for item in listing.skipped] == [
        ("missing id", 3),
        ("missing title", 5),
        ("id is not an arXiv id: 'https://example.org/not-an-arxiv-paper'", 6),
    ]


def test_api_error_entry_raises_with_its_message(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_request(PATH).respond_with_data(fixture_bytes("arxiv_error.atom"))

    with pytest.raises(
        FetchError, match=r": arXiv API error: max_results must be less than 30000$"
    ):
        _fetch(httpserver, fetcher)
    assert len(httpserver.log) == 1


@pytest.mark.parametrize(
    "body",
    [
        fixture_bytes("arxiv_not_atom.html"),
        b'{"error": "not a feed"}',
        b"",
        str(FIXTURES / "arxiv_2024-09-16_page0.atom").encode(),  # a path must not be opened
    ],
    ids=["html-error-page", "json", "empty-body", "local-file-path"],
)
def test_body_that_is_not_atom_raises(httpserver: HTTPServer, fetcher: HttpFetcher, body: bytes):
    httpserver.expect_request(PATH).respond_with_data(body, content_type="text/html")

    with pytest.raises(FetchError, match="not an Atom feed"):
        _fetch(httpserver, fetcher)


def test_empty_day(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_request(PATH, query_string=_args(0, 200)).respond_with_data(
        fixture_bytes("arxiv_empty.atom")
    )

    assert _fetch(httpserver, fetcher) == Listing()
    assert len(httpserver.log) == 1
    assert parse_arxiv_feed(fixture_bytes("arxiv_empty.atom"), listed_on=DAY) == (Listing(), 0)


def test_503_is_retried_through_the_limiter(
    httpserver: HTTPServer, fetcher: HttpFetcher, sleeps: list[float]
):
    httpserver.expect_ordered_request(PATH).respond_with_data("", status=503)
    httpserver.expect_ordered_request(PATH).respond_with_data(fixture_bytes("arxiv_empty.atom"))
    limiter = RecordingLimiter()

    assert _fetch(httpserver, fetcher, limiter=limiter) == Listing()
    assert sleeps == [0.5]  # the back-off
    assert limiter.waits == [3.0]  # and the retry still waited for its arXiv turn


def test_fetch_from_settings(settings, httpserver: HTTPServer):
    settings.ARXIV_API_URL = httpserver.url_for(PATH)
    settings.ARXIV_CATEGORIES = ["cs.LG", "cs.CL"]
    settings.ARXIV_REQUEST_INTERVAL = 0.0
    settings.HTTP_RETRIES = 0
    last_page_alone = _page(2).replace(
        b">7</opensearch:totalResults>", b">1</opensearch:totalResults>"
    )
    httpserver.expect_request(PATH, query_string=_args(0, 200)).respond_with_data(last_page_alone)

    listing = fetch_arxiv_day_from_settings(DAY)

    assert [record.arxiv_id for record in listing.records] == PAGE_IDS[2]
    httpserver.check_assertions()
