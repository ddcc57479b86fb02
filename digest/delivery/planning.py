"""Who is due a digest now: their local delivery hour has come and their digest day is unsent.

A subscriber's digest day is the latest day with a listing on or before their local date, so a
daylight-saving change neither skips nor doubles a day, and a late fetch is picked up by the next
hourly run. Work is per time zone in use (a few hundred at most), never per subscriber in Python.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Exists, OuterRef
from django.utils import timezone

from digest.delivery.batch import deliveries_plan
from digest.models import Delivery
from digest.papers.selectors import latest_listing_day
from subscriptions.models import Subscriber

# A weekly digest whose day is within this many days of an earlier one is the same week's.
WEEK_GAP = 6


def subscribers_due(*, now: datetime | None = None) -> dict[date, list[Subscriber]]:
    """Active subscribers due now, grouped by their digest day."""
    now = now or timezone.now()
    active = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
    due: dict[date, list[Subscriber]] = {}
    for tz_name in active.values_list("timezone", flat=True).distinct().order_by():
        try:
            local = now.astimezone(ZoneInfo(tz_name))
        except (ZoneInfoNotFoundError, ValueError):
            local = now.astimezone(ZoneInfo("UTC"))
        day = latest_listing_day(on_or_before=local.date())
        if day is None:
            continue
        # The local wall-clock hour, whatever the UTC offset today: on the spring-forward day
        # the skipped hour is simply reached later (hour >= delivery_hour), and on the fall-back
        # day the repeated hour finds the row already there.
        in_zone = active.filter(timezone=tz_name, delivery_hour__lte=local.hour)
        daily = in_zone.filter(cadence=Subscriber.Cadence.DAILY).exclude(
            Exists(Delivery.objects.filter(subscriber=OuterRef("pk"), digest_date=day))
        )
        # Weekly: on the chosen weekday, and not if this week's digest already went out for an
        # earlier listing day (the morning's run used Friday's listing; Monday's arrives later).
        weekly = in_zone.filter(cadence=Subscriber.Cadence.WEEKLY, weekday=local.weekday()).exclude(
            Exists(
                Delivery.objects.filter(
                    subscriber=OuterRef("pk"), digest_date__gt=day - timedelta(days=WEEK_GAP)
                )
            )
        )
        candidates = [*daily.only("pk"), *weekly.only("pk")]
        if candidates:
            due.setdefault(day, []).extend(candidates)
    return due


def deliveries_plan_due(*, now: datetime | None = None) -> dict[date, list[int]]:
    """Create the rows of everyone due now; return each day's queued ids (old ones included)."""
    return {
        day: deliveries_plan(day=day, subscribers=subscribers)
        for day, subscribers in subscribers_due(now=now).items()
    }
