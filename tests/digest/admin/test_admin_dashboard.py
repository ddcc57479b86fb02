"""The dashboard on the admin index: figures for the last 30 days and today's warnings."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from digest.admin.charts import bar_chart, nice_ceiling
from digest.models import Delivery, DeliveryEvent, FetchRun
from digest.monitoring import dashboard
from subscriptions.models import Subscriber
from tests.support.factories import DeliveryFactory, PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)  # a Tuesday, after the fetch hour
TODAY = NOW.date()


def days_ago(n: int) -> dt.datetime:
    return NOW - dt.timedelta(days=n)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_renders_with_an_empty_database(admin_client, frozen):
    response = admin_client.get(INDEX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<svg class="ax-chart"') == 3
    assert "No data in this period" in html
    assert "Rebuilt from each subscriber" in html  # the caption saying how it is computed


def test_subscribers_over_time_from_the_three_timestamps(frozen):
    old = SubscriberFactory(status=Subscriber.Status.ACTIVE)
    Subscriber.objects.filter(pk=old.pk).update(created_at=days_ago(60), confirmed_at=days_ago(59))
    left = SubscriberFactory(status=Subscriber.Status.UNSUBSCRIBED)
    Subscriber.objects.filter(pk=left.pk).update(
        created_at=days_ago(10), confirmed_at=days_ago(10), unsubscribed_at=days_ago(3)
    )
    pending = SubscriberFactory(status=Subscriber.Status.PENDING)
    Subscriber.objects.filter(pk=pending.pk).update(created_at=days_ago(1), confirmed_at=None)

    figures = dashboard.subscribers_over_time(today=TODAY)
    series = {s.name: s.values for s in figures.series}
    assert figures.days[0] == TODAY - dt.timedelta(days=29) and figures.days[-1] == TODAY
    assert series["subscribed"][0] == 1  # the old one, from before the window
    assert series["subscribed"][-11] == 2  # ten days ago: both confirmed
    assert series["subscribed"][-1] == 1  # one left three days ago
    assert series["unsubscribed"][-1] == 1 and series["unsubscribed"][-5] == 0
    assert series["pending"][-1] == 1 and series["pending"][-3] == 0


def test_deliveries_rates_and_papers(frozen, django_assert_max_num_queries):
    for status in ["sent", "sent", "sent", "sent", "failed", "rejected", "suppressed", "queued"]:
        DeliveryFactory(digest_date=TODAY - dt.timedelta(days=1), status=status)
    delivery = Delivery.objects.filter(status="sent").first()
    DeliveryEvent.objects.create(event_id="e1", event_type="bounced", delivery=delivery)
    DeliveryEvent.objects.create(event_id="e2", event_type="delivered", delivery=delivery)
    PaperFactory(listed_on=TODAY, sources="arxiv,hf")
    PaperFactory(listed_on=TODAY, sources="hf")
    PaperFactory(listed_on=TODAY - dt.timedelta(days=40), sources="hf")  # outside the window

    deliveries = dashboard.deliveries_per_day(today=TODAY)
    by_name = {s.name: s.values[-2] for s in deliveries.series}
    assert by_name == {"sent": 4, "failed": 2, "suppressed": 1, "other": 1}
    rates = dashboard.delivery_rates(today=TODAY)
    assert (rates.sent, rates.bounced, rates.complained) == (4, 1, 0)
    assert rates.bounce_percent == "25.00%" and rates.complaint_percent == "0.00%"
    papers = {s.name: s.values[-1] for s in dashboard.papers_per_day(today=TODAY).series}
    assert papers["hf"] == 2 and papers["arxiv"] == 1
    # The whole dashboard is a fixed, small number of queries whatever the data.
    with django_assert_max_num_queries(16):
        from digest.admin.site import dashboard_context

        dashboard_context()


def test_index_shows_the_figures(admin_client, frozen):
    SubscriberFactory.create_batch(3)
    DeliveryFactory(digest_date=TODAY, status="sent")
    FetchRun.objects.create(source="hf", for_date=TODAY, status="ok", new=5)
    html = admin_client.get(INDEX).content.decode()
    assert 'ax-active">active</span> <strong>4</strong>' in html  # 3 + the delivery's subscriber
    assert f"{TODAY:%Y-%m-%d} sent: 1</title>" in html
    assert "Digests per day by outcome (1 in 30 days)" in html
    assert "Today&#x27;s fetch did not happen" not in html


def test_banner_when_no_fetch_today(admin_client, frozen):
    FetchRun.objects.create(
        source="hf", for_date=TODAY, status="failed", error="HTTP 503 from huggingface.co"
    )
    html = admin_client.get(INDEX).content.decode()
    assert "Today&#x27;s fetch did not happen" in html
    assert "HTTP 503" in html
    assert (
        "Today&#x27;s fetch did not happen"
        in admin_client.get(reverse("admin:digest_paper_today")).content.decode()
    )


def test_no_fetch_banner_before_the_fetch_hour_or_on_an_expected_empty_day(settings):
    settings.FETCH_HOUR_UTC = 6
    early = NOW.replace(hour=5)
    assert dashboard.todays_warnings(now=early) == []
    FetchRun.objects.create(source="arxiv", for_date=TODAY, status="empty", empty_expected=True)
    assert dashboard.todays_warnings(now=NOW) == []


def test_send_banner_when_subscribers_are_due_and_nothing_went_out():
    FetchRun.objects.create(source="hf", for_date=TODAY, status="ok")
    PaperFactory(listed_on=TODAY)
    SubscriberFactory(delivery_hour=7, timezone="UTC")
    titles = [w.title for w in dashboard.todays_warnings(now=NOW)]
    assert titles == ["Today's send did not happen"]
    # Before their hour nothing is late yet.
    assert dashboard.todays_warnings(now=NOW.replace(hour=6)) == []
    DeliveryFactory(digest_date=TODAY)
    assert dashboard.todays_warnings(now=NOW) == []


def test_no_send_banner_without_a_listing_today():
    FetchRun.objects.create(source="hf", for_date=TODAY, status="empty", empty_expected=True)
    SubscriberFactory(delivery_hour=0)
    assert dashboard.todays_warnings(now=NOW) == []


def test_chart_helpers():
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 11, 240, 900)] == [4, 4, 4, 8, 20, 400, 1000]
    figures = dashboard.DailyFigures(days=[TODAY], series=[dashboard.Series("<b>", [2])])
    svg = bar_chart(figures, label='say "hi"')
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert 'aria-label="say &quot;hi&quot;"' in svg
