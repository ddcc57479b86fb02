"""Reads for the admin dashboard: the last weeks in figures, and what did not happen today.

Every figure is a handful of grouped queries (one per table and date column, grouped by day),
never a query per day, so the page costs the same whatever the window.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from digest.models import Delivery, DeliveryEvent, FetchRun, Paper
from digest.papers.freshness import stale_note, stale_sources
from subscriptions.models import Subscriber

WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: list[float]


@dataclass(frozen=True, slots=True)
class DailyFigures:
    days: list[dt.date]
    series: list[Series]

    @property
    def total(self) -> float:
        return sum(sum(s.values) for s in self.series)


@dataclass(frozen=True, slots=True)
class Rates:
    sent: int
    bounced: int
    complained: int

    @property
    def bounce_rate(self) -> float | None:
        return self.bounced / self.sent if self.sent else None

    @property
    def complaint_rate(self) -> float | None:
        return self.complained / self.sent if self.sent else None

    @staticmethod
    def as_percent(rate: float | None) -> str:
        return "—" if rate is None else f"{rate:.2%}"

    @property
    def bounce_percent(self) -> str:
        return self.as_percent(self.bounce_rate)

    @property
    def complaint_percent(self) -> str:
        return self.as_percent(self.complaint_rate)


@dataclass(frozen=True, slots=True)
class HealthWarning:
    title: str
    detail: str
    links: dict[str, str] = field(default_factory=dict)


def window(*, today: dt.date, days: int = WINDOW_DAYS) -> list[dt.date]:
    return [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _per_day(field_name: str, start: dt.datetime, end: dt.datetime) -> dict[dt.date, int]:
    rows = (
        Subscriber.objects.filter(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
        .annotate(day=TruncDate(field_name))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return dict(rows)


def subscribers_over_time(*, today: dt.date, days: int = WINDOW_DAYS) -> DailyFigures:
    """Subscribers by status at the end of each day, rebuilt from three timestamps.

    A subscriber counts as pending from created_at until confirmed_at, as subscribed from
    confirmed_at until unsubscribed_at, and as unsubscribed after that. No other status change
    leaves a date behind (pause, bounce, complaint), so those stay "subscribed" here; addresses
    purged or erased are gone from every day. See CAPTION below, which the page shows.
    """
    dates = window(today=today, days=days)
    start, end = _start_of(dates[0]), _start_of(today + dt.timedelta(days=1))
    before = Subscriber.objects.aggregate(
        created=Count("id", filter=Q(created_at__lt=start)),
        confirmed=Count("id", filter=Q(confirmed_at__lt=start)),
        left=Count("id", filter=Q(unsubscribed_at__lt=start)),
    )
    created_per_day = _per_day("created_at", start, end)
    confirmed_per_day = _per_day("confirmed_at", start, end)
    left_per_day = _per_day("unsubscribed_at", start, end)
    created, confirmed, left = before["created"], before["confirmed"], before["left"]
    pending, subscribed, gone = [], [], []
    for day in dates:
        created += created_per_day.get(day, 0)
        confirmed += confirmed_per_day.get(day, 0)
        left += left_per_day.get(day, 0)
        subscribed.append(max(confirmed - left, 0))
        pending.append(max(created - confirmed, 0))
        gone.append(left)
    return DailyFigures(
        days=dates,
        series=[
            Series("subscribed", subscribed),
            Series("pending", pending),
            Series("unsubscribed", gone),
        ],
    )


SUBSCRIBERS_CAPTION = (
    "Rebuilt from each subscriber's signup, confirmation and unsubscribe times: pending = signed "
    "up, not yet confirmed; subscribed = confirmed, not unsubscribed; unsubscribed = running "
    "total. Pauses, bounces and complaints leave no date, so those people still count as "
    "subscribed here (today's real split is in the counts beside); purged and erased addresses "
    "are gone from every day."
)

DELIVERY_GROUPS = {
    "sent": (Delivery.Status.SENT,),
    "failed": (Delivery.Status.FAILED, Delivery.Status.REJECTED),
    "suppressed": (Delivery.Status.SUPPRESSED,),
    "other": (Delivery.Status.QUEUED, Delivery.Status.SENDING, Delivery.Status.UNKNOWN),
}


def deliveries_per_day(*, today: dt.date, days: int = WINDOW_DAYS) -> DailyFigures:
    """Digests per digest day and outcome (failed includes rejected; other is still in flight
    or unknown)."""
    dates = window(today=today, days=days)
    counts: dict[tuple[dt.date, str], int] = defaultdict(int)
    rows = (
        Delivery.objects.filter(digest_date__gte=dates[0], digest_date__lte=today)
        .values("digest_date", "status")
        .annotate(n=Count("id"))
        .values_list("digest_date", "status", "n")
    )
    group_of: dict[str, str] = {
        status: group for group, statuses in DELIVERY_GROUPS.items() for status in statuses
    }
    for day, status, n in rows:
        counts[(day, group_of.get(status, "other"))] += n
    return DailyFigures(
        days=dates,
        series=[Series(g, [counts[(d, g)] for d in dates]) for g in DELIVERY_GROUPS],
    )


def delivery_rates(*, today: dt.date, days: int = WINDOW_DAYS) -> Rates:
    """Hard bounces and complaints reported by the provider in the window, over digests sent."""
    start = today - dt.timedelta(days=days - 1)
    sent = Delivery.objects.filter(
        status=Delivery.Status.SENT, digest_date__gte=start, digest_date__lte=today
    ).count()
    events = dict(
        DeliveryEvent.objects.filter(
            received_at__gte=_start_of(start), event_type__in=["bounced", "complained"]
        )
        .values("event_type")
        .annotate(n=Count("id"))
        .values_list("event_type", "n")
    )
    return Rates(
        sent=sent, bounced=events.get("bounced", 0), complained=events.get("complained", 0)
    )


def papers_per_day(*, today: dt.date, days: int = WINDOW_DAYS) -> DailyFigures:
    """Papers first listed each day, by source. A paper listed by two sources counts under both;
    upvote refreshes through the day do not count again (listed_on never moves, except for the
    bundled demo snapshot, which counts on the day it was last loaded)."""
    dates = window(today=today, days=days)
    counts: dict[tuple[dt.date, str], int] = defaultdict(int)
    rows = (
        Paper.objects.filter(listed_on__gte=dates[0], listed_on__lte=today)
        .values("listed_on", "sources")
        .annotate(n=Count("id"))
        .values_list("listed_on", "sources", "n")
    )
    for day, sources, n in rows:
        for source in (sources or "unknown").split(","):
            counts[(day, source)] += n
    names = [value for value, _ in Paper.Source.choices]
    names += sorted({source for _, source in counts} - set(names))
    return DailyFigures(
        days=dates, series=[Series(name, [counts[(d, name)] for d in dates]) for name in names]
    )


def subscriber_counts() -> dict[str, int]:
    """Subscribers per status now, every status present (zero when none)."""
    found = dict(
        Subscriber.objects.values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return {status: found.get(status, 0) for status in Subscriber.Status.values}


def _send_is_due(now: dt.datetime) -> bool:
    """Has some active subscriber's delivery hour already come today, in their own time zone?
    One row per distinct schedule, not per subscriber."""
    schedules = (
        Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
        .values_list("timezone", "delivery_hour", "cadence", "weekday")
        .distinct()
    )
    today = now.date()
    for tz_name, hour, cadence, weekday in schedules:
        try:
            local = now.astimezone(ZoneInfo(tz_name))
        except (ZoneInfoNotFoundError, ValueError):
            local = now
        if cadence == Subscriber.Cadence.WEEKLY and local.weekday() != weekday:
            continue
        if local.date() > today or (local.date() == today and local.hour >= hour):
            return True
    return False


def todays_warnings(*, now: dt.datetime | None = None) -> list[HealthWarning]:
    """What should have happened by now today (UTC) and did not.

    - fetch: once the fetch hour has passed, some source must have a successful run for today
      (an empty run counts when it was expected: weekends and holidays have no listing);
    - send: when today has a listing and some active subscriber's hour has come, there must be
      deliveries for today. Days without a listing send nothing, by design.
    """
    now = timezone.now() if now is None else now
    now = now.astimezone(dt.UTC)
    today = now.date()
    warnings: list[HealthWarning] = []
    runs = FetchRun.objects.filter(for_date=today)
    fetched = runs.filter(
        Q(status=FetchRun.Status.OK) | Q(status=FetchRun.Status.EMPTY, empty_expected=True)
    ).exists()
    if not fetched and now.hour >= settings.FETCH_HOUR_UTC:
        last = runs.order_by("-started_at").first()
        detail = (
            f"The last attempt ({last.source}, started {last.started_at:%H:%M} UTC) is "
            f"{last.status}{': ' + last.error[:200] if last.error else ''}."
            if last
            else f"No fetch has run for {today:%Y-%m-%d} "
            f"(scheduled at {settings.FETCH_HOUR_UTC}:00 UTC)."
        )
        warnings.append(HealthWarning("Today's fetch did not happen", detail))
    for source, stale in stale_sources(day=today):
        warnings.append(
            HealthWarning(
                "Today's listing brought nothing new",
                f"{stale_note(source=source, stale=stale)} on {today:%Y-%m-%d}. Readers' digests "
                "say so in their first line; a list served again is usually fixed upstream "
                "within the day (refetch with fetch_papers --source "
                f"{source} once it changes).",
            )
        )
    if (
        Paper.objects.filter(listed_on=today).exists()
        and not Delivery.objects.filter(digest_date=today).exists()
        and _send_is_due(now)
    ):
        warnings.append(
            HealthWarning(
                "Today's send did not happen",
                f"Active subscribers are due, and no digest exists for {today:%Y-%m-%d}. "
                "Check the beat schedule and the workers, or run send_digests.",
            )
        )
    return warnings
