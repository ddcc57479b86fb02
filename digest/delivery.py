"""Plan a day's deliveries, then claim and send them, each row exactly once.

A delivery row moves `queued -> sending -> sent | failed | rejected | suppressed`. A row is
claimed by a conditional UPDATE (only a `queued` row can be claimed, and only by one worker),
sent, and marked at once, so a crash leaves at most the one in-flight row undecided: it stays
`sending`, and `deliveries_expire_sending` later marks it `unknown`, never resent.
"""

from __future__ import annotations

import logging
import smtplib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import get_connection
from django.db.models import F, Max, Prefetch
from django.utils import timezone

from digest.build import DayBuilder, digest_message
from digest.models import Delivery, Paper
from digest.selection import TOPIC_WINDOW_DAYS, sent_papers_by_subscriber
from subscriptions.models import Subscriber, Topic

logger = logging.getLogger(__name__)

Status = Delivery.Status


@dataclass(slots=True)
class SendReport:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, other: SendReport) -> None:
        self.counts.update(other.counts)

    def summary(self) -> str:
        order = ["sent", "suppressed", "empty", "rejected", "failed", "skipped"]
        return (
            ", ".join(f"{self.counts[k]} {k}" for k in order if self.counts[k]) or "nothing to do"
        )


def deliveries_plan(*, day: date, subscribers: Iterable[Subscriber] | None = None) -> list[int]:
    """Create a queued row for `day` for each active subscriber (all active by default) that has
    none yet, and return the ids of the day's rows still queued. Safe to run twice or at once:
    the unique constraint makes the second insert a no-op."""
    if subscribers is None:
        subscribers = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).only("pk")
    Delivery.objects.bulk_create(
        (Delivery(subscriber_id=s.pk, digest_date=day) for s in subscribers),
        batch_size=1000,
        ignore_conflicts=True,
    )
    return list(
        Delivery.objects.filter(digest_date=day, status=Status.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def deliveries_expire_sending(*, now: datetime | None = None) -> int:
    """Rows left `sending` past the timeout belong to a worker that died mid-send: the provider
    may have accepted the message, so they become `unknown` and are never resent."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.DELIVERY_SENDING_TIMEOUT)
    return Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff).update(
        status=Status.UNKNOWN,
        finished_at=timezone.now(),
        error="worker stopped while sending; not resent (may or may not have been delivered)",
    )


_builders: dict[date, tuple[tuple[object, ...], DayBuilder]] = {}


def day_builder(day: date) -> DayBuilder:
    """The day's shared work, reused across batches while no paper of the week has changed."""
    stamp = tuple(
        Paper.objects.filter(
            listed_on__gt=day - timedelta(days=TOPIC_WINDOW_DAYS), listed_on__lte=day
        )
        .aggregate(changed=Max("updated_at"), count=Max("pk"))
        .values()
    )
    cached = _builders.get(day)
    if cached is None or cached[0] != stamp:
        _builders.clear()  # one day at a time is enough; keeps a long-lived worker's memory flat
        _builders[day] = (stamp, DayBuilder(day))
    return _builders[day][1]


def deliveries_send(*, delivery_ids: Sequence[int]) -> SendReport:
    """Send a batch over one connection. Each row is claimed just before its message is sent."""
    report = SendReport()
    rows = list(
        Delivery.objects.filter(pk__in=delivery_ids, status=Status.QUEUED)
        .select_related("subscriber")
        .prefetch_related(Prefetch("subscriber__topics", queryset=Topic.objects.order_by("pk")))
        .order_by("pk")
    )
    report.counts["skipped"] += len(set(delivery_ids)) - len(rows)
    by_day: dict[date, list[Delivery]] = {}
    for row in rows:
        by_day.setdefault(row.digest_date, []).append(row)
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    try:
        for day, day_rows in by_day.items():
            _send_day(day, day_rows, connection, report)
    finally:
        connection.close()
    return report


def _send_day(day: date, rows: list[Delivery], connection: object, report: SendReport) -> None:
    builder = day_builder(day)
    history = sent_papers_by_subscriber(subscriber_ids=[r.subscriber_id for r in rows], day=day)
    for row in rows:
        if not _claim(row):
            report.counts["skipped"] += 1
            continue
        # The subscriber was loaded with the batch; re-read the status now, at send time.
        status = Subscriber.objects.filter(pk=row.subscriber_id).values_list("status", flat=True)
        if status.first() != Subscriber.Status.ACTIVE:
            _finish(row, Status.SUPPRESSED, error="subscriber is no longer active")
            report.counts["suppressed"] += 1
            continue
        subscriber = row.subscriber
        content = builder.select(subscriber, history=history.get(subscriber.pk, (set(), None)))
        if content.is_empty and not subscriber.quiet_day_note:
            _finish(row, Status.SUPPRESSED, error="nothing new to send")
            report.counts["empty"] += 1
            continue
        email = builder.render(content, delivery_id=row.pk)
        message = digest_message(subscriber=subscriber, email=email, delivery_id=row.pk, day=day)
        try:
            connection.send_messages([message])  # type: ignore[attr-defined]
        except (AnymailRecipientsRefused, smtplib.SMTPRecipientsRefused) as exc:
            _finish(row, Status.REJECTED, error=str(exc)[:500])
            report.counts["rejected"] += 1
            continue
        except (AnymailError, smtplib.SMTPException, OSError) as exc:
            _finish(row, Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:500])
            report.counts["failed"] += 1
            logger.warning("delivery %s failed: %s", row.pk, exc)
            continue
        _finish(
            row,
            Status.SENT,
            message_id=_provider_message_id(message),
            subject=email.subject,
            papers=content.as_json(),
        )
        report.counts["sent"] += 1


def _claim(row: Delivery) -> bool:
    """Only one worker wins a queued row: the UPDATE matches it only while it is `queued`."""
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=row.pk, status=Status.QUEUED).update(
        status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    return claimed == 1


def _finish(row: Delivery, status: str, **fields: object) -> None:
    Delivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=status, finished_at=timezone.now(), **fields
    )


def _provider_message_id(message: object) -> str:
    status = getattr(message, "anymail_status", None)
    if status is not None and status.message_id:
        return str(status.message_id)
    return str(message.extra_headers.get("Message-ID", ""))  # type: ignore[attr-defined]
