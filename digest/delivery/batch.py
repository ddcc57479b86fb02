"""Plan a day's deliveries, then claim and send them, each row exactly once.

A delivery row moves `queued -> sending -> sent | failed | rejected | suppressed`. A row is
claimed under a row lock with a conditional UPDATE (only a `queued` row can be claimed, and only
by one worker), sent, and marked in the next commit (`.sender`), so a crash leaves at most the
one in-flight row undecided: it stays `sending`, and `deliveries_expire_sending` later marks
it `unknown`, never resent. A transient send error puts the row back to `queued` for a later
retry. See docs/delivery.md.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import partial
from typing import TypeVar

from anymail.backends.base import AnymailBaseBackend
from django.conf import settings
from django.core.mail import get_connection
from django.db import InterfaceError, OperationalError
from django.db import connection as db_connection
from django.db.models import Count, F, Max, Q, QuerySet
from django.utils import timezone

from digest.composing.build import DayBuilder
from digest.composing.selection import TOPIC_WINDOW_DAYS, UPDATES_WINDOW_DAYS
from digest.delivery.in_flight import PooledBatchSender
from digest.delivery.mail_backends import SMTPBackend
from digest.delivery.outgoing import SendReport
from digest.delivery.send_rate import send_rate_limiter
from digest.delivery.sender import BatchSender
from digest.delivery.smtp_sender import ClaimingAheadSender
from digest.models import Delivery, Paper, PaperEvent
from subscriptions.models import Subscriber

logger = logging.getLogger(__name__)

Status = Delivery.Status
T = TypeVar("T")


def deliveries_plan(
    *, day: date, subscribers: QuerySet[Subscriber] | Iterable[Subscriber] | None = None
) -> list[int]:
    """Create a queued row for `day` for each active subscriber (all active by default) that has
    none yet, and return the ids of the day's rows still queued. Safe to run twice or at once:
    the unique constraint makes the second insert a no-op."""
    if subscribers is None:
        subscribers = Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
    if isinstance(subscribers, QuerySet):
        _insert_rows(day, subscribers)
    else:
        ids = [s.pk for s in subscribers]
        for start in range(0, len(ids), 5000):  # SQLite caps a statement's parameters
            _insert_rows(day, Subscriber.objects.filter(pk__in=ids[start : start + 5000]))
    return list(
        Delivery.objects.filter(digest_date=day, status=Status.QUEUED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _insert_rows(day: date, subscribers: QuerySet[Subscriber]) -> None:
    """One INSERT ... SELECT of a `queued` row per subscriber, skipping those that have one
    (bulk_create built and compiled a model per row: 60 us each, a second for 20,000). The
    other columns take the model's defaults, computed once."""
    template = Delivery(digest_date=day)
    columns, values, params = [], [], []
    for field in Delivery._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(db_connection.ops.quote_name(str(field.column)))
        if field.name == "subscriber":
            values.append("chosen.subscriber_id")
        else:
            values.append("%s")
            value = field.pre_save(template, add=True)
            params.append(field.get_db_prep_save(value, db_connection))
    chosen, chosen_params = (
        subscribers.order_by().values(subscriber_id=F("pk")).query.sql_with_params()
    )
    # "WHERE true": SQLite's parser needs a WHERE before ON CONFLICT after a SELECT.
    sql = (
        f"INSERT INTO {Delivery._meta.db_table} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM ({chosen}) AS chosen WHERE true "
        "ON CONFLICT DO NOTHING"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, [*params, *chosen_params])
        if cursor.rowcount and db_connection.vendor == "postgresql":
            # The day's rows are new to the planner's statistics, which may still say that few
            # rows are queued: it then finds a row by its status index rather than its key, a
            # scan of every queued row for each claim and each batch's read.
            cursor.execute(f"ANALYZE {Delivery._meta.db_table}")


def deliveries_take_for_enqueue(
    *,
    ids: Sequence[int] | None = None,
    now: datetime | None = None,
    requeue_after: float | None = None,
    every_queued: bool = False,
) -> list[int]:
    """Queued rows that no broker message is known to carry, stamped `enqueued_at = now`.

    That is rows never enqueued, and rows enqueued more than `requeue_after` seconds ago
    (default DELIVERY_REQUEUE_AFTER) and still queued: a broker can lose its queue (Redis
    restarted without persistence), and a message for a row already sent is harmless (the claim
    skips it). `every_queued` takes every queued row whatever its stamp (a run by hand after an
    incident: send what is left now). With `ids`, only those rows.
    Call it inside the transaction that enqueues after commit, so a crash between the two leaves
    the rows stamped and the next run (after DELIVERY_REQUEUE_AFTER) enqueues them again.
    """
    now = now or timezone.now()
    if requeue_after is None:
        requeue_after = settings.DELIVERY_REQUEUE_AFTER
    cutoff = now - timedelta(seconds=requeue_after)
    waiting = Delivery.objects.filter(status=Status.QUEUED)
    if not every_queued:
        waiting = waiting.filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=cutoff))
    if ids is None:
        chunks: list[Sequence[int] | None] = [None]
    else:
        # Bounded IN lists: SQLite caps the number of parameters of one statement.
        chunks = [ids[i : i + 5000] for i in range(0, len(ids), 5000)]
    taken: list[int] = []
    for chunk in chunks:
        rows = waiting if chunk is None else waiting.filter(pk__in=chunk)
        found = list(rows.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(found), 5000):
            # Same conditions again: a row claimed since the SELECT is left alone.
            waiting.filter(pk__in=found[start : start + 5000]).update(enqueued_at=now)
        taken.extend(found)
    return taken


def deliveries_mark_enqueued(*, ids: Sequence[int], at: datetime) -> int:
    """Record when the rows' next broker message is due (a retry's countdown included), so the
    planner does not count them as lost meanwhile."""
    return Delivery.objects.filter(pk__in=list(ids), status=Status.QUEUED).update(enqueued_at=at)


def deliveries_expire_sending(*, now: datetime | None = None) -> int:
    """Rows left `sending` past the timeout belong to a worker that died mid-send: the provider
    may have accepted the message, so they become `unknown` and are never resent."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.DELIVERY_SENDING_TIMEOUT)
    expired = Delivery.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff).update(
        status=Status.UNKNOWN,
        finished_at=timezone.now(),
        error="worker stopped while sending; not resent (may or may not have been delivered)",
    )
    if expired:
        # Operators review these by hand (docs/delivery.md, "Reviewing unknown rows").
        logger.error("%d deliveries marked unknown after a worker stopped mid-send", expired)
    return expired


_builders: dict[date, tuple[tuple[object, ...], DayBuilder]] = {}
_event_stamps: dict[date, tuple[object, ...]] = {}


def day_builder(day: date) -> DayBuilder:
    """The day's shared work, reused across batches while no paper of the week has changed;
    its followed papers' events are read again when one was added or hidden since (the hourly
    refresh adds them through the day)."""
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
        _event_stamps.clear()
        _builders[day] = (stamp, DayBuilder(day))
    builder = _builders[day][1]
    events = tuple(
        PaperEvent.objects.filter(seen_on__gt=day - timedelta(days=UPDATES_WINDOW_DAYS))
        .aggregate(last=Max("pk"), hidden=Count("pk", filter=Q(hidden=True)))
        .values()
    )
    if _event_stamps.get(day, events) != events:
        builder.context.forget_updates()
    _event_stamps[day] = events
    return builder


# What sending reads of a row and its subscriber (a field left out would be read row by row).
# Building the two models' other columns took 2 of the 5 ms a batch of 100 spent reading them.
_SENDING_FIELDS = [
    "subscriber", "digest_date", "attempts",
    "subscriber__email", "subscriber__cadence", "subscriber__max_papers",
    "subscriber__min_upvotes", "subscriber__quiet_day_note", "subscriber__token_version",
    "subscriber__recommendations_enabled", "subscriber__deliver_by", "subscriber__feed_generation",
]  # fmt: skip


def deliveries_send(*, delivery_ids: Sequence[int]) -> SendReport:
    """Send a batch (`digest.delivery.sender`): over one SMTP connection, or a provider's API
    with up to SEND_CONCURRENCY messages in flight. Each row is claimed just before its message
    is sent.

    A transient error (provider down, 5xx, SMTP 4xx) puts the row back to `queued` and the report
    says so (`report.pending`); the caller (the task) retries the batch later. After
    DELIVERY_MAX_ATTEMPTS claims the row is marked `failed` instead.
    """
    report = SendReport()
    rows = list(
        Delivery.objects.filter(pk__in=delivery_ids, status=Status.QUEUED)
        .select_related("subscriber")
        .only(*_SENDING_FIELDS)
        .order_by("pk")
    )
    report.counts["skipped"] += len(set(delivery_ids)) - len(rows)
    by_day: dict[date, list[Delivery]] = {}
    for row in rows:
        by_day.setdefault(row.digest_date, []).append(row)
    connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
    limiter = send_rate_limiter()
    sender: BatchSender
    if settings.SEND_CONCURRENCY > 1 and isinstance(connection, AnymailBaseBackend):
        # A provider's HTTP API: several messages wait for its answer at once.
        sender = PooledBatchSender(
            connection,
            limiter,
            report,
            concurrency=settings.SEND_CONCURRENCY,
            connect=partial(get_connection, timeout=settings.EMAIL_TIMEOUT),
        )
    elif isinstance(connection, SMTPBackend):
        sender = ClaimingAheadSender(connection, limiter, report)
    else:
        sender = BatchSender(connection, limiter, report)
    try:
        for day, day_rows in by_day.items():
            if not sender.send_day(day_builder(day), day_rows):
                break
    finally:
        try:
            # The last row was accepted by the provider: unwritten, its `sent` mark would leave
            # it `sending`, later `unknown`. A database restart takes seconds: wait for it.
            when_database_is_back(sender.settle, what="recording a sent message")
        finally:
            sender.close()
            with contextlib.suppress(Exception):  # closing a dead connection can fail too
                connection.close()
            limiter.close()
    return report


# How long a worker waits for the database to come back (a restart takes seconds) before the
# error goes up.
DATABASE_WAIT_SECONDS = 60.0


def when_database_is_back(
    work: Callable[[], T], *, what: str, wait: float = DATABASE_WAIT_SECONDS
) -> T:
    """Run `work`, and again on a new connection while the database is unreachable (a restart,
    a failover, a dropped connection), for up to `wait` seconds; then the error goes up.

    Waiting in place keeps a worker on the batch it holds: handing the batch back to Celery for a
    retry at the first error made a worker pull every other batch off the queue during the
    outage, each failing at once, and hold them all as delayed retries. `work` must be safe to
    run again (sending is: only `queued` rows are claimed)."""
    deadline = time.monotonic() + wait
    pause = 0.5
    while True:
        try:
            return work()
        except (OperationalError, InterfaceError) as exc:
            if db_connection.in_atomic_block or time.monotonic() + pause > deadline:
                raise
            logger.warning("database unavailable while %s, retrying: %s", what, exc)
        with contextlib.suppress(Exception):
            db_connection.close()  # a broken connection is not reused; the next query reconnects
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
