"""fetch_papers against a local HTTP server serving recorded-format listings: stored rows,
counts and the fetch-run record, for good days and for every way a fetch goes wrong."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.models import FetchRun, Paper
from digest.papers.fetching import trending_refresh
from tests.digest.sources.conftest import fixture_bytes, fixture_json

pytestmark = pytest.mark.django_db

HF_DAY = date(2024, 9, 17)
ARXIV_DAY = date(2024, 9, 16)
HF_PATH = "/api/daily_papers"
ARXIV_PATH = "/api/query"


@pytest.fixture(autouse=True)
def sources(settings, httpserver: HTTPServer):
    settings.HF_PAPERS_URL = httpserver.url_for(HF_PATH)
    settings.ARXIV_API_URL = httpserver.url_for(ARXIV_PATH)
    settings.ARXIV_REQUEST_INTERVAL = 0
    settings.HTTP_BACKOFF = 0.01
    settings.HTTP_RETRIES = 2
    settings.HTTP_TIMEOUT = 2
    return httpserver


@pytest.fixture
def hf_items():
    return fixture_json("hf_daily_papers_2024-09-17.json")


def serve_hf_day(httpserver: HTTPServer, items, day: date = HF_DAY) -> None:
    for page, start in enumerate(range(0, len(items) + 1, 100)):
        httpserver.expect_request(
            HF_PATH, query_string={"date": day.isoformat(), "limit": "100", "p": str(page)}
        ).respond_with_json(items[start : start + 100])


def serve_arxiv_day(httpserver: HTTPServer) -> None:
    pages = {0: 0, 3: 1, 6: 2}

    def handler(request: Request) -> Response:
        page = pages[int(request.args["start"])]
        body = fixture_bytes(f"arxiv_2024-09-16_page{page}.atom")
        return Response(body, content_type="application/atom+xml")

    httpserver.expect_request(ARXIV_PATH).respond_with_handler(handler)


def fetch(source: str, day: date, capsys) -> str:
    call_command("fetch_papers", source=source, day=day.isoformat())
    return capsys.readouterr().out


def last_run() -> FetchRun:
    return FetchRun.objects.order_by("-pk")[0]


def test_hf_day_over_several_pages(sources, hf_items, capsys):
    serve_hf_day(sources, hf_items)
    out = fetch("hf", HF_DAY, capsys)
    assert "hf 2024-09-17: 125 new, 0 updated, 0 unchanged, 0 skipped" in out
    assert Paper.objects.count() == 125
    kat = Paper.objects.get(arxiv_id="2409.10594")
    assert (kat.upvotes, kat.comments, kat.github_stars) == (5, 2, 812)
    assert kat.listed_on == HF_DAY and kat.sources == "hf"
    assert "transformer" in kat.keywords
    run = last_run()
    assert (run.source, run.status, run.new, run.skipped) == ("hf", "ok", 125, 0)
    assert run.finished_at is not None
    # The withdrawn item is stored as withdrawn, so it is never sent.
    assert Paper.objects.filter(withdrawn_at__isnull=False).count() == 1


def test_second_fetch_changes_only_upvotes(sources, hf_items, capsys):
    serve_hf_day(sources, hf_items)
    fetch("hf", HF_DAY, capsys)
    before = {p.arxiv_id: (p.title, p.abstract, p.listed_on) for p in Paper.objects.all()}
    sources.clear()
    hf_items[0]["paper"]["upvotes"] = 99
    serve_hf_day(sources, hf_items)
    out = fetch("hf", HF_DAY, capsys)
    assert "0 new, 1 updated, 124 unchanged" in out
    assert Paper.objects.get(arxiv_id="2409.10594").upvotes == 99
    after = {p.arxiv_id: (p.title, p.abstract, p.listed_on) for p in Paper.objects.all()}
    assert after == before


def test_arxiv_pages_and_the_same_paper_from_both_sources(sources, hf_items, capsys):
    serve_hf_day(sources, hf_items)
    fetch("hf", HF_DAY, capsys)
    serve_arxiv_day(sources)
    out = fetch("arxiv", ARXIV_DAY, capsys)
    # 7 entries: 6 already known from Hugging Face (merged), 1 new.
    assert "arxiv 2024-09-16: 1 new, 6 updated, 0 unchanged, 0 skipped" in out
    assert Paper.objects.count() == 126
    both = Paper.objects.get(arxiv_id="2304.12400")
    assert both.sources == "arxiv,hf"
    assert both.categories and both.primary_category
    assert both.listed_on == HF_DAY  # keeps its first listing day
    assert both.upvotes == hf_items[3]["paper"]["upvotes"]  # arXiv has none; kept
    requests = [r.args.to_dict() for r, _ in sources.log if r.path == ARXIV_PATH]
    assert [r["start"] for r in requests] == ["0", "3", "6"]
    assert "submittedDate:[202409160000 TO 202409162359]" in requests[0]["search_query"]


def test_malformed_items_are_skipped_counted_and_the_rest_kept(sources, capsys):
    items = fixture_json("hf_malformed.json")
    serve_hf_day(sources, items)
    out = fetch("hf", HF_DAY, capsys)
    run = last_run()
    good = Paper.objects.count()
    assert good >= 1
    assert run.skipped == len(items) - good and run.new == good
    assert len(run.skipped_items) == run.skipped
    assert all(item["reason"] for item in run.skipped_items)
    assert f"{run.skipped} skipped" in out
    assert "skipped item" in out


@pytest.mark.parametrize(
    ("respond", "message"),
    [
        (
            lambda s: s.respond_with_data("<html>Bad gateway</html>", content_type="text/html"),
            "not JSON",
        ),
        (lambda s: s.respond_with_data("oops", status=500), "HTTP 500"),
        (lambda s: s.respond_with_data("no", status=404), "HTTP 404"),
    ],
)
def test_a_failed_fetch_changes_nothing_and_exits_non_zero(
    sources, hf_items, respond, message, capsys
):
    serve_hf_day(sources, hf_items)
    fetch("hf", HF_DAY, capsys)
    stored = list(Paper.objects.values_list("arxiv_id", "upvotes", "updated_at"))
    sources.clear()
    respond(sources.expect_request(HF_PATH))
    with pytest.raises(CommandError, match=message):
        call_command("fetch_papers", source="hf", day=HF_DAY.isoformat())
    assert list(Paper.objects.values_list("arxiv_id", "upvotes", "updated_at")) == stored
    run = last_run()
    assert run.status == "failed" and message in run.error


def test_timeout_then_gives_up_cleanly(sources, settings):
    settings.HTTP_TIMEOUT = 0.2
    settings.HTTP_RETRIES = 1

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        return Response("[]", content_type="application/json")

    sources.expect_request(HF_PATH).respond_with_handler(slow)
    with pytest.raises(CommandError, match="could not be read"):
        call_command("fetch_papers", source="hf", day=HF_DAY.isoformat())
    assert last_run().status == "failed" and "Timeout" in last_run().error
    assert not Paper.objects.exists()


def test_429_with_retry_after_then_503_then_success(sources, hf_items, capsys):
    sources.expect_ordered_request(HF_PATH).respond_with_data(
        "slow down", status=429, headers={"Retry-After": "0"}
    )
    sources.expect_ordered_request(HF_PATH).respond_with_data("busy", status=503)
    sources.expect_ordered_request(HF_PATH).respond_with_json(hf_items[:10])
    out = fetch("hf", HF_DAY, capsys)
    assert "10 new" in out
    assert [response.status_code for _, response in sources.log][-3:] == [429, 503, 200]


def test_empty_weekday_is_a_warning_and_a_weekend_is_expected(sources, caplog, capsys):
    sources.expect_request(HF_PATH).respond_with_json([])
    out = fetch("hf", date(2024, 9, 17), capsys)  # a Tuesday
    assert "WARNING: empty weekday" in out
    assert last_run().status == "empty" and not last_run().empty_expected
    assert any(r.levelname == "WARNING" and "empty listing" in r.message for r in caplog.records)
    out = fetch("hf", date(2024, 9, 21), capsys)  # a Saturday
    assert "expected: weekend" in out
    assert last_run().empty_expected


def test_bad_arguments_are_explained():
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("fetch_papers", source="hf", day="17/09/2024")
    with pytest.raises(CommandError, match="--file is only for"):
        call_command("fetch_papers", source="hf", file="x.json")


def test_trending_refresh_rereads_recent_days(sources, hf_items):
    for offset, day in enumerate([date(2024, 9, 17), date(2024, 9, 16), date(2024, 9, 15)]):
        items = [dict(item) for item in hf_items[:5]] if offset == 0 else []
        sources.expect_request(
            HF_PATH, query_string={"date": day.isoformat(), "limit": "100", "p": "0"}
        ).respond_with_json(items)
    runs = trending_refresh(today=date(2024, 9, 17))
    assert [r.for_date for r in runs] == [date(2024, 9, 17), date(2024, 9, 16), date(2024, 9, 15)]
    assert Paper.objects.count() == 5


def test_snapshot_file_option(tmp_path, capsys):
    path = tmp_path / "day.json"
    path.write_text(json.dumps(fixture_json("hf_daily_papers_2024-09-17.json")[:3]))
    call_command("fetch_papers", source="snapshot", day="2026-11-24", file=str(path))
    assert "3 new" in capsys.readouterr().out
    assert set(Paper.objects.values_list("sources", flat=True)) == {"snapshot"}
