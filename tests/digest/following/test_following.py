"""Followed papers: events found by the upsert and by the daily refresh of both APIs (a local
HTTP server answering in the recorded formats), failures, withdrawals and expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_httpserver import HTTPServer

from digest.following.refresh import followed_due, followed_refresh, share_size
from digest.models import Paper, PaperEvent
from digest.papers.ingest import papers_upsert
from digest.sources.arxiv import fetch_arxiv_ids
from digest.sources.hf import fetch_hf_paper
from digest.sources.http import FetchError, HttpFetcher, RateLimiter
from digest.sources.records import PaperRecord
from subscriptions.feedback.follows import follow_start
from subscriptions.models import Follow
from tests.digest.sources.conftest import fixture_bytes
from tests.support.factories import PaperFactory, SubscriberFactory

DAY = date(2024, 9, 23)
NOW = datetime(2024, 9, 23, 6, 0, tzinfo=UTC)
LISTED = date(2024, 9, 17)
A, B, C = "2305.12972", "2103.00112", "2306.07303"
ARXIV_PATH = "/api/query"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def apis(settings, httpserver: HTTPServer) -> HTTPServer:
    settings.HF_PAPER_API_URL = httpserver.url_for("/api/papers/") + "{arxiv_id}"
    settings.ARXIV_API_URL = httpserver.url_for(ARXIV_PATH)
    settings.ARXIV_REQUEST_INTERVAL = 0
    settings.HTTP_BACKOFF = 0.01
    settings.HTTP_RETRIES = 1
    settings.HTTP_TIMEOUT = 2
    return httpserver


@pytest.fixture
def fetcher():
    with HttpFetcher(timeout=2.0, retries=1, backoff=0.0, sleep=lambda s: None) as http:
        yield http


def serve_all(httpserver: HTTPServer) -> None:
    httpserver.expect_request(ARXIV_PATH).respond_with_data(
        fixture_bytes("arxiv_id_list.atom"), content_type="application/atom+xml"
    )
    for arxiv_id in (A, B):
        httpserver.expect_request(f"/api/papers/{arxiv_id}").respond_with_data(
            fixture_bytes(f"hf_paper_{arxiv_id}.json"), content_type="application/json"
        )
    httpserver.expect_request(f"/api/papers/{C}").respond_with_data(
        fixture_bytes("hf_paper_not_found.json"), status=404, content_type="application/json"
    )


def hits(httpserver: HTTPServer, prefix: str) -> int:
    return sum(1 for request, _ in httpserver.log if request.path.startswith(prefix))


@pytest.fixture
def followed():
    """Three papers known from arXiv (v1, no code), all followed by one reader."""
    reader = SubscriberFactory()
    papers = {
        arxiv_id: PaperFactory(
            arxiv_id=arxiv_id, listed_on=LISTED, sources="arxiv", version=1, upvotes=5,
            refreshed_on=DAY - timedelta(days=1),
        )
        for arxiv_id in (A, B, C)
    }  # fmt: skip
    for paper in papers.values():
        follow_start(subscriber=reader, paper=paper, now=NOW - timedelta(days=3))
    return reader, papers


def events(arxiv_id: str) -> dict[str, PaperEvent]:
    return {e.kind: e for e in PaperEvent.objects.filter(paper__arxiv_id=arxiv_id)}


# --- the sources -------------------------------------------------------------------------------


def test_paper_endpoint_maps_the_paper_object(httpserver: HTTPServer, fetcher: HttpFetcher):
    serve_all(httpserver)
    template = httpserver.url_for("/api/papers/") + "{arxiv_id}"
    record = fetch_hf_paper(A, url_template=template, fetcher=fetcher, listed_on=DAY)
    assert record is not None
    assert (record.arxiv_id, record.upvotes, record.comments) == (A, 57, 3)
    assert record.github_repo == "https://github.com/yang-lab/vanillanet"
    assert (record.github_stars, record.project_page) == (412, "https://vanillanet.github.io/")
    assert record.source == "hf"  # submittedOnDailyAt: it was put on Daily Papers
    never_listed = fetch_hf_paper(B, url_template=template, fetcher=fetcher, listed_on=DAY)
    assert never_listed is not None and never_listed.source == "" and never_listed.upvotes == 2
    assert fetch_hf_paper(C, url_template=template, fetcher=fetcher, listed_on=DAY) is None


def test_paper_endpoint_answer_that_is_not_a_paper_is_an_error(
    httpserver: HTTPServer, fetcher: HttpFetcher
):
    httpserver.expect_request("/api/papers/2401.00001").respond_with_data("<html>busy</html>")
    httpserver.expect_request("/api/papers/2401.00002").respond_with_json([{"id": "x"}])
    template = httpserver.url_for("/api/papers/") + "{arxiv_id}"
    for arxiv_id, problem in (("2401.00001", "not JSON"), ("2401.00002", "expected a JSON")):
        with pytest.raises(FetchError, match=problem):
            fetch_hf_paper(arxiv_id, url_template=template, fetcher=fetcher, listed_on=DAY)


def test_arxiv_id_list_asks_for_at_most_100_ids_per_request(
    httpserver: HTTPServer, fetcher: HttpFetcher
):
    serve_all(httpserver)
    ids = [f"2409.{n:05d}" for n in range(250)]
    waits: list[float] = []
    limiter = RateLimiter(3.0, clock=lambda: 0.0, sleep=waits.append)
    batches = list(
        fetch_arxiv_ids(
            ids, base_url=httpserver.url_for(ARXIV_PATH), fetcher=fetcher, limiter=limiter,
            listed_on=DAY,
        )
    )  # fmt: skip
    asked = [request.args["id_list"].split(",") for request, _ in httpserver.log]
    assert [len(batch) for batch in asked] == [100, 100, 50]
    assert [arxiv_id for batch in asked for arxiv_id in batch] == ids
    assert [request.args["max_results"] for request, _ in httpserver.log] == ["100", "100", "50"]
    assert len(waits) == 2  # the 3-second etiquette between requests
    records = batches[0][1]
    assert not isinstance(records, FetchError)
    by_id = {r.arxiv_id: r for r in records.records}
    assert by_id[A].version == 2
    assert by_id[A].comment == "v2: fixed Table 3, added ImageNet-21k results"
    assert by_id[C].withdrawn and not by_id[A].withdrawn


# --- events found by the upsert ----------------------------------------------------------------


def hf(arxiv_id: str, **fields) -> PaperRecord:
    return PaperRecord(arxiv_id=arxiv_id, title="A paper", source="hf", **fields)


def test_a_paper_first_seen_with_its_code_has_no_event():
    papers_upsert(
        records=[
            hf(A, github_repo="https://github.com/a/b", upvotes=120, project_page="https://p")
        ],
        listed_on=DAY,
    )
    assert not PaperEvent.objects.exists()


def test_each_kind_of_change_becomes_one_event_when_before_and_after_are_known():
    arxiv = PaperRecord(arxiv_id=A, title="A paper", source="arxiv", version=1)
    papers_upsert(records=[arxiv], listed_on=LISTED)
    # Enters the Daily Papers list, with code: trending and code, but no upvote event (the
    # upvotes were not known before).
    papers_upsert(
        records=[hf(A, upvotes=12, github_repo="https://github.com/a/b", github_stars=40)],
        listed_on=DAY,
    )
    assert set(events(A)) == {"trending", "code"}
    assert events(A)["code"].detail == "https://github.com/a/b (\u2605 40)"
    assert events(A)["code"].seen_on == DAY
    # The same listing again: nothing new.
    papers_upsert(records=[hf(A, upvotes=12, github_repo="https://github.com/a/b")], listed_on=DAY)
    assert PaperEvent.objects.count() == 2
    # 12 -> 130 passes 50 and 100: one event, for the highest.
    later = DAY + timedelta(days=1)
    papers_upsert(records=[hf(A, upvotes=130, project_page="https://a.io")], listed_on=later)
    assert events(A)["upvotes"].detail == "passed 100 upvotes (130)"
    assert (events(A)["upvotes"].before, events(A)["upvotes"].after) == ("12", "130")
    assert events(A)["project_page"].after == "https://a.io"
    papers_upsert(
        records=[PaperRecord(arxiv_id=A, title="A paper", source="arxiv", version=2, comment="")],
        listed_on=later,
    )
    assert (events(A)["version"].before, events(A)["version"].detail) == ("v1", "v2")
    assert PaperEvent.objects.count() == 5


def test_upvote_thresholds_are_a_setting(settings):
    settings.FOLLOW_UPVOTE_THRESHOLDS = [3]
    papers_upsert(records=[hf(A, upvotes=1)], listed_on=LISTED)
    papers_upsert(records=[hf(A, upvotes=4)], listed_on=DAY)
    assert events(A)["upvotes"].detail == "passed 3 upvotes (4)"


# --- the daily refresh -------------------------------------------------------------------------


def test_refresh_finds_every_kind_and_ends_the_follows_of_a_withdrawn_paper(
    httpserver: HTTPServer, followed
):
    serve_all(httpserver)
    report = followed_refresh(day=DAY)
    assert (report.arxiv_requests, report.hf_requests, report.failed) == (1, 3, [])
    assert set(events(A)) == {"version", "code", "project_page", "trending", "upvotes"}
    assert events(A)["version"].detail == "v2: v2: fixed Table 3, added ImageNet-21k results"
    assert events(A)["upvotes"].detail == "passed 50 upvotes (57)"
    assert events(A)["code"].detail == "https://github.com/yang-lab/vanillanet (\u2605 412)"
    assert events(B) == {}
    paper_c = Paper.objects.get(arxiv_id=C)
    assert paper_c.withdrawn_at is not None
    assert Follow.objects.get(paper=paper_c).ended_at is not None
    assert report.follows_ended == 1
    # Refreshed once today: a second run asks nothing.
    again = followed_refresh(day=DAY)
    assert (again.arxiv_requests, again.hf_requests, again.due) == (0, 0, 0)
    assert hits(httpserver, "/api/papers/") == 3 and hits(httpserver, ARXIV_PATH) == 1
    # The withdrawn paper is not refreshed again.
    assert C not in [p.arxiv_id for p in followed_due(day=DAY + timedelta(days=1))]


def test_a_failed_refresh_changes_nothing_and_is_retried_the_next_day(
    httpserver: HTTPServer, followed
):
    httpserver.expect_request(ARXIV_PATH).respond_with_data(
        fixture_bytes("arxiv_id_list.atom"), content_type="application/atom+xml"
    )
    httpserver.expect_request(f"/api/papers/{A}").respond_with_data("busy", status=503)
    for arxiv_id in (B, C):
        httpserver.expect_request(f"/api/papers/{arxiv_id}").respond_with_data("{}", status=404)
    before = Paper.objects.get(arxiv_id=A)
    with pytest.raises(CommandError, match=r"1 followed papers could not be refreshed \(2305"):
        call_command("refresh_followed", "--date", DAY.isoformat())
    after = Paper.objects.get(arxiv_id=A)
    # Not even its arXiv version, which came back fine: the paper's refresh failed.
    assert (after.version, after.upvotes, after.github_repo) == (1, before.upvotes, "")
    assert events(A) == {}
    assert after.refreshed_on == DAY
    assert [p.arxiv_id for p in followed_due(day=DAY)] == []  # not again today
    httpserver.clear()
    serve_all(httpserver)
    followed_refresh(day=DAY + timedelta(days=1))
    assert set(events(A)) == {"version", "code", "project_page", "trending", "upvotes"}


def test_an_arxiv_batch_that_fails_changes_none_of_its_papers(httpserver: HTTPServer, followed):
    httpserver.expect_request(ARXIV_PATH).respond_with_data("down", status=503)
    serve_all(httpserver)
    report = followed_refresh(day=DAY)
    assert report.failed == sorted([A, B, C])
    assert not PaperEvent.objects.exists()
    assert Paper.objects.get(arxiv_id=A).upvotes == 5


def test_expired_follows_are_not_refreshed(settings):
    settings.FOLLOW_DAYS = 2
    reader, paper = SubscriberFactory(), PaperFactory(arxiv_id=A, listed_on=LISTED)
    follow = follow_start(subscriber=reader, paper=paper, now=NOW - timedelta(days=3))
    assert follow.expires_at == NOW - timedelta(days=1)
    assert followed_due(day=DAY) == []
    renewed = follow_start(subscriber=reader, paper=paper, now=NOW)  # following again renews
    assert renewed.expires_at == NOW + timedelta(days=2)
    assert [p.arxiv_id for p in followed_due(day=DAY)] == [A]


def test_papers_on_the_recent_lists_get_no_paper_endpoint_request(httpserver: HTTPServer, followed):
    serve_all(httpserver)
    Paper.objects.filter(arxiv_id=B).update(listed_on=DAY - timedelta(days=1))
    report = followed_refresh(day=DAY)
    assert report.hf_requests == 2 and hits(httpserver, f"/api/papers/{B}") == 0


def test_the_beat_share_spreads_the_day_in_whole_arxiv_batches():
    assert share_size(10_000, 1 / 24) == 500
    assert share_size(50, 1 / 24) == 50
    assert share_size(10_000, 1.0) == 10_000
    remaining, requests = 10_000, 0
    for hour in range(24):
        taken = share_size(remaining, 1 / (24 - hour))
        requests += -(-taken // 100)
        remaining -= taken
    assert remaining == 0 and requests == 100


def test_command_prints_a_summary(httpserver: HTTPServer, followed, capsys):
    serve_all(httpserver)
    call_command("refresh_followed", "--date", DAY.isoformat())
    out = capsys.readouterr().out
    assert "Refreshing followed papers for 2024-09-23" in out
    assert "3 of 3 followed papers refreshed for 2024-09-23" in out
    # Five about A, and the withdrawal's new version of C (never told: its follows ended).
    assert "6 events" in out and "1 follows ended" in out


def test_one_refresh_at_a_time(httpserver: HTTPServer, followed):
    from django.core.cache import cache

    from digest.following.refresh import LOCK_KEY

    serve_all(httpserver)
    cache.add(LOCK_KEY, "another run", timeout=60)  # beat's run, still going
    try:
        with pytest.raises(CommandError, match="Not started: another refresh"):
            call_command("refresh_followed", "--date", DAY.isoformat())
        assert len(httpserver.log) == 0
    finally:
        cache.delete(LOCK_KEY)
    call_command("refresh_followed", "--date", DAY.isoformat())
    assert hits(httpserver, ARXIV_PATH) == 1
    assert cache.get(LOCK_KEY) is None  # released
