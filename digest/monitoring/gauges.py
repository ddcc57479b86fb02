"""The pipeline's figures for /metrics, read with a fixed handful of queries per scrape.

Six queries whatever the number of readers or rows (tests/digest/monitoring/test_metrics.py
counts them), the two over large tables answered from an index alone: the last three digest
days' rows by status (with those sent in the last 24 hours); the open rows' ages and the week's
`unknown` rows; the provider's bounces and complaints of the last 24 hours; the sources' last
successes and today's runs (two); readers by status, time zone and hour (the readers' counts
and the last delivery hour). The jobs' last successes come from the
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
    """Rows of the last three digest days by status, and how many finished in the last 24
    hours: one index-only scan of (digest_date, status, finished_at). A message sent in the last
    24 hours belongs to today's or yesterday's digest, or the day before for a reader far west."""
    names = {today: "today", today - dt.timedelta(days=1): "yesterday"}
    since = figures.now - dt.timedelta(hours=24)
    rows = (
        Delivery.objects.filter(digest_date__gte=today - dt.timedelta(days=2))
        .values_list("digest_date", "status")
        .annotate(n=Count("*"), recent=Count("status", filter=Q(finished_at__gte=since)))
        .order_by()
    )
    figures.deliveries = {(name, s): 0 for name in names.values() for s in Delivery.Status.values}
    for day, status, n, recent in rows:
        if day in names:
            figures.deliveries[(names[day], status)] = n
        if status == Delivery.Status.SENT:
            figures.sent_24h += recent


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


def _provider_events(figures: PipelineFigures) -> None:
    since = figures.now - dt.timedelta(hours=24)
    events = dict(
        DeliveryEvent.objects.filter(received_at__gte=since, event_type__in=PROVIDER_EVENTS)
        .values_list("event_type")
        .annotate(n=Count("*"))
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
    """Readers by status, and the latest UTC hour of today at which some active reader's digest
    falls due: one index-only scan of (status, timezone, delivery_hour)."""
    rows = (
        Subscriber.objects.values_list("status", "timezone", "delivery_hour")
        .annotate(n=Count("*"))
        .order_by()
    )
    figures.readers = dict.fromkeys(Subscriber.Status.values, 0)
    today = figures.now.date()
    hours = []
    for status, tz_name, hour, n in rows:
        figures.readers[status] = figures.readers.get(status, 0) + n
        if status != Subscriber.Status.ACTIVE:
            continue
        try:
            zone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        # A reader whose hour falls on another UTC day is due at that hour of today, too.
        hours.append(dt.datetime.combine(today, dt.time(hour), tzinfo=zone).astimezone(dt.UTC).hour)
    figures.last_delivery_hour_utc = max(hours) if hours else None


def pipeline_figures(*, now: dt.datetime | None = None) -> PipelineFigures:
    now = (now or timezone.now()).astimezone(dt.UTC)
    figures = PipelineFigures(now=now)
    today = now.date()
    _deliveries(figures, today)
    _open_rows(figures, today)
    _provider_events(figures)
    _sources(figures, today)
    _readers(figures)
    figures.job_last_success = last_successes(JOBS)
    return figures
