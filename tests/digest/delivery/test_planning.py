"""The hourly planner: who is due, by time zone, across daylight-saving changes, weekly cadence."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from digest.delivery.batch import deliveries_plan
from digest.delivery.planning import deliveries_plan_due, subscribers_due
from digest.models import Delivery
from digest.tasks import plan_deliveries
from subscriptions.models import Subscriber
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def listings(first: date, days: int) -> None:
    for n in range(days):
        PaperFactory(listed_on=first + timedelta(days=n))


def run_hourly(start: datetime, hours: int) -> None:
    """The beat schedule: the planner at five past every hour, the clock really moving."""
    for hour in range(hours):
        with time_machine.travel(start + timedelta(hours=hour, minutes=5), tick=False):
            deliveries_plan_due()


@pytest.mark.parametrize(
    ("tz", "switch"),
    [
        ("Europe/Paris", date(2026, 3, 29)),  # 02:00 -> 03:00
        ("Europe/Paris", date(2026, 10, 25)),  # 03:00 -> 02:00, 02:xx happens twice
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
    ],
)
@pytest.mark.parametrize("hour", [0, 2, 7, 23])
def test_daylight_saving_neither_skips_nor_doubles_a_day(tz, switch, hour):
    listings(switch - timedelta(days=1), 3)
    subscriber = SubscriberFactory(timezone=tz, delivery_hour=hour)
    start = datetime.combine(switch - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    run_hourly(start, hours=24 * 3 + 12)
    days = Counter(
        Delivery.objects.filter(subscriber=subscriber).values_list("digest_date", flat=True)
    )
    # One row per listing day, exactly once, none skipped.
    assert all(count == 1 for count in days.values())
    assert set(days) == {switch - timedelta(days=1), switch, switch + timedelta(days=1)}


def test_not_due_before_the_local_hour():
    listings(date(2026, 11, 24), 1)
    SubscriberFactory(timezone="Asia/Tokyo", delivery_hour=9)  # 00:00 UTC
    assert not subscribers_due(now=datetime(2026, 11, 23, 23, 30, tzinfo=UTC))
    due = subscribers_due(now=datetime(2026, 11, 24, 0, 5, tzinfo=UTC))
    assert list(due) == [date(2026, 11, 24)]


def test_latest_listing_day_before_the_local_date():
    listings(date(2026, 11, 24), 1)  # nothing for the 25th yet
    SubscriberFactory(delivery_hour=7)
    due = subscribers_due(now=datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    assert list(due) == [date(2026, 11, 24)]


def test_weekly_on_its_weekday_only_and_once_even_when_a_late_listing_arrives():
    listings(date(2026, 11, 16), 7)  # Monday 16th .. Sunday 22nd
    weekly = SubscriberFactory(cadence=Subscriber.Cadence.WEEKLY, weekday=0, delivery_hour=7)
    start = datetime(2026, 11, 17, 0, 0, tzinfo=UTC)  # Tuesday to Sunday: not due
    run_hourly(start, hours=24 * 6)
    assert not Delivery.objects.filter(subscriber=weekly).exists()
    with time_machine.travel(datetime(2026, 11, 23, 7, 5, tzinfo=UTC), tick=False):
        deliveries_plan_due()  # Monday 07:05, Monday's listing not fetched yet: Sunday's
    PaperFactory(listed_on=date(2026, 11, 23))  # the late fetch
    run_hourly(datetime(2026, 11, 23, 8, 0, tzinfo=UTC), hours=16)
    rows = list(Delivery.objects.filter(subscriber=weekly).values_list("digest_date", flat=True))
    assert rows == [date(2026, 11, 22)]
    # And the next Monday it is due again.
    listings(date(2026, 11, 24), 7)
    run_hourly(datetime(2026, 11, 30, 0, 0, tzinfo=UTC), hours=24)
    assert Delivery.objects.filter(subscriber=weekly).count() == 2


def test_only_active_subscribers_and_twice_creates_nothing():
    listings(date(2026, 11, 24), 1)
    SubscriberFactory.create_batch(3)
    SubscriberFactory(status=Subscriber.Status.PAUSED)
    SubscriberFactory(status=Subscriber.Status.PENDING)
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    deliveries_plan_due(now=now)
    deliveries_plan_due(now=now)
    assert Delivery.objects.count() == 3


def test_plan_task_in_process_plans_and_sends(
    settings, snapshot_day, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    SubscriberFactory.create_batch(2)
    with time_machine.travel(datetime(2026, 11, 24, 9, 5, tzinfo=UTC), tick=False):
        # Batches go to the broker (here: run in-process) only once the rows are committed.
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            assert plan_deliveries() == 1
        assert len(callbacks) == 1
        with django_capture_on_commit_callbacks(execute=True):
            assert plan_deliveries() == 0
    assert len(mail.outbox) == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}
    assert all(Delivery.objects.values_list("enqueued_at", flat=True))


def test_planned_rows_are_queued_with_the_models_defaults_and_old_rows_are_kept():
    day = date(2026, 11, 24)
    kept = SubscriberFactory()
    Delivery.objects.create(subscriber=kept, digest_date=day, status=Delivery.Status.SENT)
    new = SubscriberFactory()
    SubscriberFactory(status=Subscriber.Status.UNSUBSCRIBED)
    before = datetime.now(UTC)

    ids = deliveries_plan(day=day)

    row = Delivery.objects.get(subscriber=new)
    assert ids == [row.pk]  # the sent row is not queued, the unsubscribed reader has none
    assert (row.digest_date, row.status, row.attempts, row.papers) == (day, "queued", 0, [])
    assert (row.message_id, row.subject, row.error, row.claimed_at) == ("", "", "", None)
    assert row.created_at >= before - timedelta(seconds=1)
    assert Delivery.objects.get(subscriber=kept).status == Delivery.Status.SENT
    assert deliveries_plan(day=day) == ids


def test_a_list_of_subscribers_longer_than_a_statement_takes_is_planned_whole():
    now = datetime.now(UTC)
    readers = Subscriber.objects.bulk_create(
        Subscriber(email=f"r{n}@example.org", status="active", requested_at=now, confirmed_at=now)
        for n in range(5003)
    )
    ids = deliveries_plan(day=date(2026, 11, 24), subscribers=readers[1:])
    assert len(ids) == 5002
    assert not Delivery.objects.filter(subscriber=readers[0]).exists()
