"""The pipeline's figures for /metrics, read with a fixed handful of queries per scrape.

Eight queries whatever the number of readers or rows (tests/digest/monitoring/test_metrics.py
counts them): deliveries of today and yesterday by status; the open rows' ages and the week's
`unknown` rows; digests sent and provider events in the last 24 hours (two); the sources' last
successes and today's runs (two); readers by status; the active readers' delivery schedules
(distinct time zone and hour, a few hundred at most). The jobs' last successes come from the
cache (digest/monitoring/heartbeats.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from digest.models import Delivery, DeliveryEvent, FetchRun, Paper
from digest.monitoring.heartbeats import JOBS, last_successes
from subscriptions.models import Subscriber

OPEN = (Delivery.Status.QUEUED, Delivery.Status.SENDING)
PROVIDER_EVENTS = ("bounced", "complained")


@dataclass(frozen=True, slots=True)
class SourceFreshness:
    last_success: dt.datetime | None
    listing_in: bool  # today's listing fetched (or an empty day that was expected)
    stale: str  # today's run: "", "repeat" or "no_mailing"


@dataclass(slots=True)
class PipelineFigures:
    now: dt.datetime
    deliveries: dict[tuple[str, str], int] = field(default_factory=dict)  # (day, status)
    oldest_queued_seconds: float = 0.0
    oldest_sending_seconds: float = 0.0
    unknown_7d: int = 0
    sent_24h: int = 0
    provider_events_24h: dict[str, int] = field(default_factory=dict)
    sources: dict[str, SourceFreshness] = field(default_factory=dict)
    readers: dict[str, int] = field(default_factory=dict)
    last_delivery_hour_utc: int | None = None
    job_last_success: dict[str, dt.datetime | None] = field(default_factory=dict)

    def provider_event_rate(self, event_type: str) -> float:
        """Events over messages sent in the same 24 hours (0 when nothing was sent)."""
        return self.provider_events_24h.get(event_type, 0) / self.sent_24h if self.sent_24h else 0.0


def _age(now: dt.datetime, since: dt.datetime | None) -> float:
    return max((now - since).total_seconds(), 0.0) if since else 0.0


def _deliveries(figures: PipelineFigures, today: dt.date) -> None:
    names = {today: "today", today - dt.timedelta(days=1): "yesterday"}
    rows = (
        Delivery.objects.filter(digest_date__in=list(names))
        .values_list("digest_date", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    figures.deliveries = {(name, s): 0 for name in names.values() for s in Delivery.Status.values}
    for day, status, n in rows:
        figures.deliveries[(names[day], status)] = n


def _open_rows(figures: PipelineFigures, today: dt.date) -> None:
    # Only queued, sending and unknown rows are read (the status_day index): a handful.
    found = Delivery.objects.filter(
        Q(status__in=OPEN)
        | Q(status=Delivery.Status.UNKNOWN, digest_date__gt=today - dt.timedelta(days=7))
    ).aggregate(
        queued_since=Min("created_at", filter=Q(status=Delivery.Status.QUEUED)),
        sending_since=Min("claimed_at", filter=Q(status=Delivery.Status.SENDING)),
        unknown=Count("id", filter=Q(status=Delivery.Status.UNKNOWN)),
    )
    figures.oldest_queued_seconds = _age(figures.now, found["queued_since"])
    figures.oldest_sending_seconds = _age(figures.now, found["sending_since"])
    figures.unknown_7d = found["unknown"]


def _last_24h(figures: PipelineFigures, today: dt.date) -> None:
    since = figures.now - dt.timedelta(hours=24)
    # A message sent in the last 24 hours belongs to today's or yesterday's digest (or the day
    # before, for a reader far west of UTC): the digest_date bound keeps this on the index.
    figures.sent_24h = Delivery.objects.filter(
        status=Delivery.Status.SENT,
        digest_date__gte=today - dt.timedelta(days=2),
        finished_at__gte=since,
    ).count()
    events = dict(
        DeliveryEvent.objects.filter(received_at__gte=since, event_type__in=PROVIDER_EVENTS)
        .values_list("event_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    figures.provider_events_24h = {kind: events.get(kind, 0) for kind in PROVIDER_EVENTS}


def _sources(figures: PipelineFigures, today: dt.date) -> None:
    good = Q(status=FetchRun.Status.OK) | Q(status=FetchRun.Status.EMPTY, empty_expected=True)
    watched = [Paper.Source.HF, Paper.Source.ARXIV]
    last = dict(
        FetchRun.objects.filter(good, source__in=watched)
        .values_list("source")
        .annotate(last=Max("finished_at"))
        .order_by()
    )
    # Today's runs (a few): the latest good one says whether the listing is in and fresh.
    todays: dict[str, str] = {}
    runs = FetchRun.objects.filter(good, source__in=watched, for_date=today)
    for source, stale in runs.order_by("started_at").values_list("source", "stale"):
        todays[source] = stale
    for source in watched:
        figures.sources[source] = SourceFreshness(
            last.get(source), source in todays, todays.get(source, "")
        )


def _readers(figures: PipelineFigures) -> None:
    found = dict(Subscriber.objects.values_list("status").annotate(n=Count("id")).order_by())
    figures.readers = {status: found.get(status, 0) for status in Subscriber.Status.values}


def _last_delivery_hour(figures: PipelineFigures) -> None:
    """The latest UTC hour of today at which some active reader's digest falls due."""
    schedules = (
        Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
        .values_list("timezone", "delivery_hour")
        .distinct()
        .order_by()
    )
    today = figures.now.date()
    hours = []
    for tz_name, hour in schedules:
        try:
            zone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        local = dt.datetime.combine(today, dt.time(hour), tzinfo=zone).astimezone(dt.UTC)
        # A reader whose hour falls on another UTC day is due at that hour of today, too.
        hours.append(local.hour)
    figures.last_delivery_hour_utc = max(hours) if hours else None


def pipeline_figures(*, now: dt.datetime | None = None) -> PipelineFigures:
    now = (now or timezone.now()).astimezone(dt.UTC)
    figures = PipelineFigures(now=now)
    today = now.date()
    _deliveries(figures, today)
    _open_rows(figures, today)
    _last_24h(figures, today)
    _sources(figures, today)
    _readers(figures)
    _last_delivery_hour(figures)
    figures.job_last_success = last_successes(JOBS)
    return figures
