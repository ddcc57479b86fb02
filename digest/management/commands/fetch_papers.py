"""fetch_papers: fetch a day's listing from a source and upsert it."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from digest.models import FetchRun
from digest.papers.fetching import SOURCES, listing_fetch


def parse_day(value: str | None) -> date:
    if value is None:
        return timezone.localdate()
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--date must be YYYY-MM-DD, got {value!r}") from exc


class Command(BaseCommand):
    help = "Fetch a day's listing (Hugging Face, arXiv or the bundled snapshot) and upsert it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", choices=[str(s) for s in SOURCES], default="hf")
        parser.add_argument("--date", dest="day", help="YYYY-MM-DD, default today")
        parser.add_argument("--file", type=Path, help="a daily_papers JSON file (snapshot only)")

    def handle(
        self, *args: Any, source: str, day: str | None, file: Path | None, **options: Any
    ) -> None:
        for_date = parse_day(day)
        file = Path(file) if file is not None else None  # call_command passes strings as is
        if file is not None and source != "snapshot":
            raise CommandError("--file is only for --source snapshot")
        self.stdout.write(f"Fetching {source} for {for_date}…")
        run, result = listing_fetch(source=source, day=for_date, file=file)
        if run.status == FetchRun.Status.FAILED:
            raise CommandError(f"{source} for {for_date} could not be read: {run.error}")
        for item in run.skipped_items:
            self.stdout.write(
                f"  skipped item {item['position']} ({item['id'] or 'no id'}): {item['reason']}"
            )
        note = ""
        if run.stale:
            note = f" (WARNING: stale, {run.get_stale_display()})"
        elif run.status == FetchRun.Status.EMPTY:
            note = " (expected: weekend)" if run.empty_expected else " (WARNING: empty weekday)"
        assert result is not None
        self.stdout.write(self.style.SUCCESS(f"{source} {for_date}: {result.summary()}{note}"))
