"""send_digests: send a day's digest to every active subscriber who has not had it yet."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Count

from digest.composing.build import DayBuilder
from digest.delivery.batch import (
    SendReport,
    deliveries_expire_sending,
    deliveries_plan,
    deliveries_send,
)
from digest.management.commands.fetch_papers import parse_day
from digest.models import Delivery
from digest.papers.selectors import latest_listing_day
from digest.tasks import batches, enqueue_batches
from subscriptions.models import Subscriber


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
            count = enqueue_batches(ids)
            self.stdout.write(self.style.SUCCESS(f"Enqueued {count} batches for the workers."))
            if wait:
                self._wait(for_date, timeout=options["timeout"])
            return
        report = SendReport()
        for n, chunk in enumerate(batches(ids), start=1):
            report.add(deliveries_send(delivery_ids=chunk))
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

    def _wait(self, for_date: Any, *, timeout: float) -> None:
        """Follow the workers until no row of the day is open. Rows a dead worker left
        `sending` become `unknown` after the timeout, and rows whose broker message was lost
        are enqueued again, so the wait ends even when something broke on the way."""
        open_statuses = [Delivery.Status.QUEUED, Delivery.Status.SENDING]
        last = None
        deadline = time.monotonic() + timeout
        while True:
            deliveries_expire_sending()
            with transaction.atomic():
                enqueue_batches()
            rows = Delivery.objects.filter(digest_date=for_date)
            pending = rows.filter(status__in=open_statuses).count()
            if pending != last:
                self.stdout.write(f"  {pending} deliveries still open")
                last = pending
            if not pending:
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"{pending} deliveries of {for_date} still open after {timeout:.0f} s: "
                    "are the workers running? (celery -A digest worker)"
                )
            time.sleep(2)
        counts = dict(
            rows.values_list("status").annotate(n=Count("pk")).order_by().values_list("status", "n")
        )
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        self.stdout.write(self.style.SUCCESS(f"{for_date}: every delivery settled ({summary})"))
