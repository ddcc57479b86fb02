"""send_digests: send a day's digest to every active subscriber who has not had it yet."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from digest.build import DayBuilder
from digest.delivery import SendReport, deliveries_expire_sending, deliveries_plan, deliveries_send
from digest.management.commands.fetch_papers import parse_day
from digest.models import Delivery
from digest.selectors import latest_listing_day
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
                self._wait(for_date)
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

    def _wait(self, for_date: Any) -> None:
        open_statuses = [Delivery.Status.QUEUED, Delivery.Status.SENDING]
        while True:
            rows = Delivery.objects.filter(digest_date=for_date)
            pending = rows.filter(status__in=open_statuses).count()
            self.stdout.write(f"  {pending} deliveries still open")
            if not pending:
                break
            time.sleep(2)
        self.stdout.write(self.style.SUCCESS(f"{for_date}: every delivery settled"))
