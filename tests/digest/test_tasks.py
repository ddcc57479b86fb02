"""The beat schedule and the small periodic tasks (in-process, as without a broker)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from digest.celery import app
from digest.models import FetchRun
from digest.tasks import refresh_trending
from subscriptions.models import Subscriber
from subscriptions.tasks import purge_unconfirmed
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} == {
        "digest.fetch_day",
        "digest.plan_deliveries",
        "digest.refresh_trending",
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


def test_purge_unconfirmed_task():
    SubscriberFactory(
        status=Subscriber.Status.PENDING,
        confirmed_at=None,
        requested_at=timezone.now() - timedelta(days=30),
    )
    assert purge_unconfirmed.delay().get() == 1
    assert not Subscriber.objects.exists()
