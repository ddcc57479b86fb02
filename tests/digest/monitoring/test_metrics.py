"""/metrics: hidden without the token, parsed by prometheus-client's own parser, figures that
follow the rows, and a number of queries per scrape that does not grow with the readers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from digest.models import Delivery, DeliveryEvent, FetchRun
from subscriptions.models import Subscriber
from tests.support.factories import DeliveryFactory, SubscriberFactory

pytestmark = pytest.mark.django_db
TOKEN = "s3cret-metrics-token"


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client, token: str = TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_off_without_a_token_and_hidden_from_wrong_ones(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_the_figures_follow_the_rows(client, token):
    now = timezone.now()
    today = now.astimezone(dt.UTC).date()
    before = scrape(client)
    assert before[("digest_deliveries", (("day", "today"), ("status", "sent")))] == 0
    assert before[("digest_oldest_queued_age_seconds", ())] == 0

    readers = [SubscriberFactory() for _ in range(4)]
    SubscriberFactory(status=Subscriber.Status.BOUNCED)
    sent = [
        DeliveryFactory(subscriber=r, digest_date=today, status="sent", finished_at=now)
        for r in readers[:3]
    ]
    queued = DeliveryFactory(subscriber=readers[3], digest_date=today, status="queued")
    Delivery.objects.filter(pk=queued.pk).update(created_at=now - dt.timedelta(minutes=45))
    DeliveryFactory(
        subscriber=readers[0], digest_date=today - dt.timedelta(days=2), status="unknown"
    )
    DeliveryEvent.objects.create(event_id="c1", event_type="complained", delivery=sent[0])
    FetchRun.objects.create(source="hf", for_date=today, status="ok", finished_at=now)

    after = scrape(client)
    assert after[("digest_deliveries", (("day", "today"), ("status", "sent")))] == 3
    assert after[("digest_deliveries", (("day", "today"), ("status", "queued")))] == 1
    assert after[("digest_deliveries", (("day", "yesterday"), ("status", "sent")))] == 0
    assert 45 * 60 <= after[("digest_oldest_queued_age_seconds", ())] < 50 * 60
    assert after[("digest_unknown_deliveries", ())] == 1
    assert after[("digest_readers", (("status", "active"),))] == 4
    assert after[("digest_readers", (("status", "bounced"),))] == 1
    assert after[("digest_sent_24h", ())] == 3
    assert after[("digest_provider_events_24h", (("type", "complained"),))] == 1
    assert after[("digest_provider_event_ratio_24h", (("type", "complained"),))] == pytest.approx(
        1 / 3
    )
    assert after[("digest_source_listing_in", (("source", "hf"),))] == 1
    assert after[("digest_source_listing_in", (("source", "arxiv"),))] == 0
    assert after[
        ("digest_source_last_success_timestamp_seconds", (("source", "hf"),))
    ] == pytest.approx(now.timestamp())
    assert after[("digest_source_stale", (("reason", "repeat"), ("source", "hf")))] == 0
    assert after[("digest_last_delivery_hour_utc", ())] == 7  # the factory's 7:00 UTC

    # The row goes out: nothing is left waiting.
    Delivery.objects.filter(pk=queued.pk).update(status="sent", finished_at=now)
    again = scrape(client)
    assert again[("digest_oldest_queued_age_seconds", ())] == 0
    assert again[("digest_deliveries", (("day", "today"), ("status", "sent")))] == 4


def test_queries_per_scrape_do_not_grow_with_readers(client, token):
    today = timezone.now().astimezone(dt.UTC).date()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            scrape(client)
        return len(captured)

    SubscriberFactory()
    few = queries()
    for n in range(60):
        reader = SubscriberFactory(timezone="Europe/Berlin" if n % 2 else "UTC")
        DeliveryFactory(subscriber=reader, digest_date=today, status="sent")
    assert queries() == few
    # Six reads of the pipeline, plus the database cache's read of the jobs' last successes
    # (Redis in production); the request itself reads nothing (no session).
    assert few == 7


def test_the_jobs_last_successes_are_exposed(client, token):
    from digest.monitoring.heartbeats import job_succeeded

    at = timezone.now() - dt.timedelta(minutes=5)
    job_succeeded(job="plan", at=at)
    samples = scrape(client)
    assert samples[
        ("digest_job_last_success_timestamp_seconds", (("job", "plan"),))
    ] == pytest.approx(at.timestamp(), abs=1)
    assert samples[("digest_job_last_success_timestamp_seconds", (("job", "fetch"),))] == 0
