"""The home page (the latest trending papers) and the health check."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.support.factories import PaperFactory

pytestmark = pytest.mark.django_db


def test_home_lists_the_latest_day_in_trending_order(client):
    day = dt.date(2025, 11, 20)
    PaperFactory(
        arxiv_id="2511.00001", title="Less upvoted", upvotes=3, listed_on=day, author_count=7
    )
    PaperFactory(
        arxiv_id="2511.00002",
        title="Most upvoted <i>x</i>",
        upvotes=99,
        listed_on=day,
        abstract="A long abstract. " * 40,
    )
    PaperFactory(arxiv_id="2511.00003", title="Yesterday's", listed_on=day - dt.timedelta(days=1))
    PaperFactory(arxiv_id="2511.00004", title="Hidden one", listed_on=day, hidden=True)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Get trending papers in your email inbox!" in html
    assert "Hugging Face's list, by AK and the research community" in html  # whose list
    assert html.index("Most upvoted") < html.index("Less upvoted")
    assert "Yesterday" not in html and "Hidden one" not in html
    assert 'href="https://arxiv.org/abs/2511.00002"' in html
    assert "Most upvoted &lt;i&gt;x&lt;/i&gt;" in html
    assert "7 authors" in html and ">99<" in html
    assert "<details" in html and "<summary>" in html
    assert '<html lang="en">' in html
    assert reverse("subscriptions:subscribe") in html


def test_a_screen_reader_hears_1_upvote_and_2_upvotes(client):
    day = dt.date(2025, 11, 20)
    PaperFactory(arxiv_id="2511.00001", upvotes=1, listed_on=day)
    PaperFactory(arxiv_id="2511.00002", upvotes=2, listed_on=day)
    html = client.get(reverse("home")).content.decode()
    heard = re.findall(r'votes-count">(\d+)</span><span class="visually-hidden"> (\w+)<', html)
    assert sorted(heard) == [("1", "upvote"), ("2", "upvotes")]


def test_home_without_papers(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "No papers yet" in response.content.decode()


def test_healthz_ok_without_broker(client, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "not configured"}


def test_healthz_names_a_failed_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    from config.celery import app

    app.conf.broker_url = settings.CELERY_BROKER_URL
    try:
        response = client.get(reverse("healthz"))
    finally:
        app.conf.broker_url = None
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "failed"}


def test_healthz_names_a_failed_database(client, monkeypatch):
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["database"] == "failed"


@pytest.mark.django_db
def test_home_list_follows_fetches_and_curation_at_once(client):
    from digest.papers.curation import paper_hide
    from tests.support.factories import PaperFactory

    first = PaperFactory(title="First listed paper", upvotes=5)
    assert "First listed paper" in client.get("/").content.decode()
    PaperFactory(title="A newly fetched paper", upvotes=9, listed_on=first.listed_on)
    assert "A newly fetched paper" in client.get("/").content.decode()
    paper_hide(paper=first, editor=None)
    assert "First listed paper" not in client.get("/").content.decode()


def test_every_page_names_the_site_icon_so_browsers_do_not_ask_for_favicon_ico(client):
    html = client.get(reverse("home")).content.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    assert icon is not None
    path = finders.find(icon.group(1).removeprefix(settings.STATIC_URL))
    assert path and "<svg" in Path(path).read_text()
