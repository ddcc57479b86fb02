"""The beat schedule and the small periodic tasks (in-process, as without a broker)."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from config.celery import app
from digest.models import FetchRun
from digest.tasks import refresh_followed, refresh_trending
from subscriptions.feedback.follows import follow_start
from subscriptions.models import Subscriber
from subscriptions.readers.tasks import purge_unconfirmed
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == {
        "digest.fetch_day",
        "digest.plan_deliveries",
        "digest.refresh_trending",
        "digest.refresh_followed",
        "digest.check_health",
        "subscriptions.purge_unconfirmed",
    }
    assert all(entry["task"] in app.tasks for entry in schedule.values())


def test_refresh_trending_rereads_recent_hf_days(settings, httpserver):
    settings.HF_PAPERS_URL = httpserver.url_for("/api/daily_papers")
    settings.HTTP_RETRIES = 0
    httpserver.expect_request("/api/daily_papers").respond_with_json([])
    result = refresh_trending.delay().get()
    assert len(result) == 3
    assert FetchRun.objects.filter(source="hf").count() == 3


def test_refresh_followed_takes_the_hour_s_share_of_the_day(settings, httpserver):
    """At 00:20 a 24th of what is due (in whole arXiv batches of 100), at 23:20 all the rest."""
    settings.ARXIV_API_URL = httpserver.url_for("/api/query")
    settings.ARXIV_REQUEST_INTERVAL = 0
    httpserver.expect_request("/api/query").respond_with_data(
        '<feed xmlns="http://www.w3.org/2005/Atom"></feed>', content_type="application/atom+xml"
    )
    reader = SubscriberFactory()
    now = datetime(2026, 12, 1, 0, 20, tzinfo=UTC)
    for n in range(250):
        paper = PaperFactory(arxiv_id=f"2611.{n:05d}", listed_on=now.date())
        follow_start(subscriber=reader, paper=paper, now=now)
    with time_machine.travel(now, tick=False):
        assert refresh_followed.delay().get().startswith("100 of 250 followed papers")
    with time_machine.travel(now.replace(hour=23), tick=False):
        assert refresh_followed.delay().get().startswith("150 of 150 followed papers")
    assert len(httpserver.log) == 3  # arXiv only: these papers are on the recent lists


def test_purge_unconfirmed_task():
    SubscriberFactory(
        status=Subscriber.Status.PENDING,
        confirmed_at=None,
        requested_at=timezone.now() - timedelta(days=30),
    )
    assert purge_unconfirmed.delay().get() == 1
    assert not Subscriber.objects.exists()


def test_missing_fetch_and_send_are_logged_and_mailed_once(settings, mailoutbox, caplog):
    from datetime import UTC, datetime

    from django.core.cache import cache
    from django.core.cache.backends.base import CacheKeyWarning

    from digest.monitoring.health import daily_health_report
    from tests.support.factories import PaperFactory

    cache.clear()
    settings.ADMINS = [("Ops", "ops@example.org")]
    settings.FETCH_HOUR_UTC = 6
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    PaperFactory(listed_on=now.date())  # listed (say, by hand), but no fetch run and no send
    SubscriberFactory(delivery_hour=7, timezone="UTC")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)  # keys any cache backend takes
        titles = [w.title for w in daily_health_report(now=now)]
    assert titles == ["Today's fetch did not happen", "Today's send did not happen"]
    assert len(mailoutbox) == 2 and all(m.to == ["ops@example.org"] for m in mailoutbox)
    assert any(
        r.levelname == "ERROR" and "fetch did not happen" in r.message for r in caplog.records
    )
    daily_health_report(now=now)  # an hour later: logged again, not mailed again
    assert len(mailoutbox) == 2
