"""send_digests: send a day's digest to every active subscriber who has not had it yet."""

from __future__ import annotations

import contextlib
import time
from functools import partial
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as db_connection
from django.db.models import Count
from django.utils import timezone

from digest.composing.build import DayBuilder
from digest.delivery.batch import (
    SendReport,
    deliveries_expire_sending,
    deliveries_plan,
    deliveries_send,
    when_database_is_back,
)
from digest.management.commands.fetch_papers import parse_day
from digest.models import Delivery
from digest.papers.selectors import latest_listing_day
from digest.tasks import batches, enqueue_batches
from subscriptions.models import Subscriber

OPEN_STATUSES = [Delivery.Status.QUEUED, Delivery.Status.SENDING]
# With --wait: how long nothing may settle before the day's queued rows are enqueued again.
WAIT_STALL_SECONDS = 30.0


class Command(BaseCommand):
    help = "Build and send a day's digests (default: the latest listed day). Safe to run twice."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", dest="day", help="YYYY-MM-DD, default the latest listing")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="build every digest and report, send nothing, write no rows",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help="with a broker: follow progress until every delivery settled",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=4 * 3600,
            help="with --wait: give up (exit 1) after this many seconds [4 hours]",
        )

    def handle(
        self, *args: Any, day: str | None, dry_run: bool, wait: bool, **options: Any
    ) -> None:
        for_date = parse_day(day) if day else latest_listing_day()
        if for_date is None:
            raise CommandError("No papers have been fetched yet: run fetch_papers first.")
        if dry_run:
            return self._dry_run(for_date)
        deliveries_expire_sending()
        ids = deliveries_plan(day=for_date)
        self.stdout.write(f"Digest of {for_date}: {len(ids)} deliveries to send")
        if settings.CELERY_BROKER_URL:
            self._say_what_was_enqueued(ids)
            # By hand, after an incident: every queued row of the day gets a broker message now,
            # whether or not one was sent before (the broker may have lost it). A second message
            # for a row is harmless: only a `queued` row can be claimed, so each is sent once.
            count = enqueue_batches(ids, every_queued=True)
            self.stdout.write(self.style.SUCCESS(f"Enqueued {count} batches for the workers."))
            if wait:
                self._wait(for_date, timeout=options["timeout"])
            return
        report = SendReport()
        for n, chunk in enumerate(batches(ids), start=1):
            report.add(
                when_database_is_back(
                    partial(deliveries_send, delivery_ids=chunk), what="sending a batch"
                )
            )
            self.stdout.write(f"  batch {n}: {report.summary()}")
        self.stdout.write(self.style.SUCCESS(f"{for_date}: {report.summary()}"))

    def _dry_run(self, for_date: Any) -> None:
        builder = DayBuilder(for_date)
        subscribers = (
            Subscriber.objects.filter(status=Subscriber.Status.ACTIVE)
            .exclude(deliveries__digest_date=for_date)
            .prefetch_related("topics")
        )
        would = empty = 0
        for subscriber in subscribers:
            content = builder.select(subscriber)
            if content.is_empty and not subscriber.quiet_day_note:
                empty += 1
                continue
            would += 1
            self.stdout.write(f"  {subscriber.email}: {builder.renderer.subject(content)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{for_date} (dry run): {would} would be sent, {empty} with nothing new"
            )
        )

    def _say_what_was_enqueued(self, ids: list[int]) -> None:
        """Tell the operator which of the queued rows already had a broker message."""
        now = timezone.now()
        stamps = [
            at
            for chunk in batches(ids, 5000)
            for at in Delivery.objects.filter(pk__in=chunk).values_list("enqueued_at", flat=True)
        ]
        before = [at for at in stamps if at is not None and at <= now]
        retrying = [at for at in stamps if at is not None and at > now]
        if before:
            self.stdout.write(
                f"  {len(before)} of them were enqueued before (the last at "
                f"{max(before):%H:%M:%S} UTC) and are still queued: enqueued again now, in case "
                "the broker lost them (a row already sent is skipped; nobody gets two)"
            )
        if retrying:
            self.stdout.write(
                f"  {len(retrying)} of them were waiting for a retry after a provider error "
                f"(due by {max(retrying):%H:%M:%S} UTC): enqueued now"
            )

    def _wait(self, for_date: Any, *, timeout: float) -> None:
        """Follow the workers until no row of the day is open. Rows a dead worker left
        `sending` become `unknown` after the timeout, and rows whose broker message was lost
        are enqueued again, so the wait ends even when something broke on the way: when nothing
        has settled for a while (WAIT_STALL_SECONDS, then twice as long each time), every queued
        row of the day whose message is due is enqueued again. A database restart is waited
        out."""
        last: int | None = None
        deadline = time.monotonic() + timeout
        changed_at, stall = time.monotonic(), WAIT_STALL_SECONDS
        while True:
            pending: int | None
            try:
                pending = self._wait_round(for_date)
            except (OperationalError, InterfaceError) as exc:
                self.stdout.write(f"  database unavailable, retrying: {str(exc).strip()[:120]}")
                with contextlib.suppress(Exception):
                    db_connection.close()  # the next query opens a new connection
                pending = last
            else:
                if pending != last:
                    self.stdout.write(f"  {pending} deliveries still open")
                    last, changed_at, stall = pending, time.monotonic(), WAIT_STALL_SECONDS
                elif pending and time.monotonic() - changed_at >= stall:
                    self._enqueue_stalled(for_date, stalled_for=stall)
                    changed_at, stall = time.monotonic(), min(stall * 2, 600)
            if pending == 0:
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"{pending} deliveries of {for_date} still open after {timeout:.0f} s: "
                    "are the workers running? (celery -A digest worker)"
                )
            time.sleep(2)
        rows = Delivery.objects.filter(digest_date=for_date)
        counts = dict(
            rows.values_list("status").annotate(n=Count("pk")).order_by().values_list("status", "n")
        )
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        self.stdout.write(self.style.SUCCESS(f"{for_date}: every delivery settled ({summary})"))

    def _wait_round(self, for_date: Any) -> int:
        deliveries_expire_sending()
        with transaction.atomic():
            enqueue_batches()  # the planner's rule, every day
        return Delivery.objects.filter(digest_date=for_date, status__in=OPEN_STATUSES).count()

    def _enqueue_stalled(self, for_date: Any, *, stalled_for: float) -> None:
        """Nothing moved: the workers are gone or the broker lost its queue. A duplicate
        message is harmless, so every row of the day whose message is due gets one again."""
        queued = list(
            Delivery.objects.filter(digest_date=for_date, status=Delivery.Status.QUEUED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        with transaction.atomic():
            count = enqueue_batches(queued, requeue_after=0)
        if count:
            self.stdout.write(
                f"  nothing settled for {stalled_for:.0f} s: enqueued the day's queued rows "
                f"again ({count} batches)"
            )
