"""refresh_followed: refresh every followed paper still due today, at once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from digest.following.refresh import RefreshBusy, followed_refresh
from digest.management.commands.fetch_papers import parse_day


class Command(BaseCommand):
    help = (
        "Refresh the followed papers not yet refreshed on the day (arXiv version, Hugging Face "
        "paper page) and record what changed as events, as beat does through the day."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", dest="day", help="YYYY-MM-DD, default today")

    def handle(self, *args: Any, day: str | None, **options: Any) -> None:
        for_date = parse_day(day)
        self.stdout.write(f"Refreshing followed papers for {for_date}…")
        try:
            report = followed_refresh(
                day=for_date, progress=lambda line: self.stdout.write(f"  {line}")
            )
        except RefreshBusy as exc:
            raise CommandError(f"Not started: {exc}.") from exc
        if report.failed:
            self.stdout.write(report.summary())
            shown = ", ".join(report.failed[:10]) + (" …" if len(report.failed) > 10 else "")
            raise CommandError(
                f"{len(report.failed)} followed papers could not be refreshed ({shown}); they "
                f"change nothing today and are retried tomorrow. First error: {report.errors[0]}"
            )
        self.stdout.write(self.style.SUCCESS(report.summary()))
