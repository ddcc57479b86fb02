"""Upstream freshness: a list served again the next day, or arXiv announcing no mailing, is
flagged on the fetch run, shown in the admin banner and /metrics, and told in readers' digests."""

from __future__ import annotations

import datetime as dt
import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pytest_httpserver import HTTPServer

from digest.models import FetchRun, Paper
from digest.monitoring.dashboard import todays_warnings
from digest.monitoring.gauges import pipeline_figures
from tests.digest.conftest import DAY
from tests.digest.sources.conftest import fixture_bytes, fixture_json
from tests.support.factories import SubscriberFactory

pytestmark = pytest.mark.django_db

MONDAY, TUESDAY = date(2024, 9, 16), date(2024, 9, 17)
HF_PATH, ARXIV_PATH = "/api/daily_papers", "/api/query"


@pytest.fixture(autouse=True)
def sources(settings, httpserver: HTTPServer):
    settings.HF_PAPERS_URL = httpserver.url_for(HF_PATH)
    settings.ARXIV_API_URL = httpserver.url_for(ARXIV_PATH)
    settings.ARXIV_REQUEST_INTERVAL = 0
    settings.HTTP_RETRIES = 0
    return httpserver


def serve_hf(httpserver: HTTPServer, day: date, items: list[dict]) -> None:
    httpserver.expect_request(
        HF_PATH, query_string={"date": day.isoformat(), "limit": "100", "p": "0"}
    ).respond_with_json(items)


def fetch(source: str, day: date) -> str:
    out = StringIO()
    call_command("fetch_papers", source=source, day=day.isoformat(), stdout=out)
    return out.getvalue()


def at_noon(day: date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def test_a_list_served_again_the_next_day_is_flagged_everywhere(sources, admin_client):
    items = fixture_json("hf_daily_papers_2024-09-17.json")[:20]
    serve_hf(sources, MONDAY, items)
    assert "stale" not in fetch("hf", MONDAY)
    serve_hf(sources, TUESDAY, items)  # Hugging Face serves Monday's list as Tuesday's
    out = fetch("hf", TUESDAY)

    assert "WARNING: stale, same list as the day before" in out
    run = FetchRun.objects.get(source="hf", for_date=TUESDAY)
    assert run.status == "ok" and run.stale == "repeat"
    assert not Paper.objects.filter(listed_on=TUESDAY).exists()  # the day would just shrink

    warnings = todays_warnings(now=at_noon(TUESDAY))
    assert [w.title for w in warnings if "nothing new" in w.title] == [
        "Today's listing brought nothing new"
    ]
    assert "Hugging Face served the day before's list again" in warnings[-1].detail
    figures = pipeline_figures(now=at_noon(TUESDAY))
    assert figures.sources["hf"].stale == "repeat" and figures.sources["hf"].listing_in

    # A different list later in the day (the trending refresh) clears the flag.
    sources.clear_all_handlers()
    serve_hf(sources, TUESDAY, fixture_json("hf_daily_papers_2024-09-17.json")[20:30])
    call_command("fetch_papers", source="hf", day=TUESDAY.isoformat(), stdout=StringIO())
    assert not [w for w in todays_warnings(now=at_noon(TUESDAY)) if "nothing new" in w.title]
    assert pipeline_figures(now=at_noon(TUESDAY)).sources["hf"].stale == ""


def test_a_different_list_is_fresh(sources):
    items = fixture_json("hf_daily_papers_2024-09-17.json")
    serve_hf(sources, MONDAY, items[:10])
    serve_hf(sources, TUESDAY, items[5:15])  # overlapping, as trending lists do
    fetch("hf", MONDAY)
    fetch("hf", TUESDAY)
    assert FetchRun.objects.get(for_date=TUESDAY).stale == ""


def test_arxiv_announcing_no_mailing_on_a_weekday_is_flagged(sources):
    sources.expect_request(ARXIV_PATH).respond_with_data(
        fixture_bytes("arxiv_empty.atom"), content_type="application/atom+xml"
    )
    out = fetch("arxiv", TUESDAY)
    assert "WARNING: stale, no mailing announced" in out
    assert FetchRun.objects.get(for_date=TUESDAY).stale == "no_mailing"
    # A Saturday has no mailing by design: nothing to flag.
    fetch("arxiv", date(2024, 9, 21))
    assert FetchRun.objects.get(for_date=date(2024, 9, 21)).stale == ""


def test_the_readers_digest_says_why_the_day_is_short(snapshot_day, settings):
    SubscriberFactory(email="ada@example.org", topics=["diffusion"])
    FetchRun.objects.create(source="hf", for_date=DAY, status="ok")
    FetchRun.objects.create(source="arxiv", for_date=DAY, status="empty", stale="no_mailing")
    out = StringIO()
    call_command(
        "preview_digest", "ada@example.org", "--date", DAY.isoformat(), "--format", "text",
        stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "arXiv announced no new papers (a holiday, most likely) today." in text
    first_lines = text.split("arXiv announced", 1)[0]
    assert "Today:" in first_lines  # the intro line, before any paper
    out = StringIO()
    call_command(
        "preview_digest", "ada@example.org", "--date", DAY.isoformat(), "--format", "json",
        stdout=out,
    )  # fmt: skip
    assert json.loads(out.getvalue())["upstream_note"].startswith("arXiv announced no new")


def test_the_admin_banner_shows_it(admin_client):
    today = timezone.now().date()
    FetchRun.objects.create(source="hf", for_date=today, status="ok", stale="repeat")
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Today&#x27;s listing brought nothing new" in page or (
        "Today's listing brought nothing new" in page
    )
