"""import_subscribers FILE.csv [--confirmed]: bulk-load subscribers and their topics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from subscriptions.readers.importing import subscribers_import


class Command(BaseCommand):
    help = (
        "Import subscribers from a CSV file with columns email,topics (topics separated by ';') "
        "and optional cadence, weekday, hour, timezone, cap. Bad rows are reported; good rows "
        "imported."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--confirmed",
            action="store_true",
            help="the list already consented elsewhere: import as active, consent recorded as "
            "imported with the file name and time",
        )

    def handle(self, *args: Any, file: Path, confirmed: bool, **options: Any) -> None:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        report = subscribers_import(text=text, source_name=file.name, confirmed=confirmed)
        for line, message in report.errors:
            self.stderr.write(f"{file.name}:{line}: {message}")
        summary = f"{file.name}: {report.summary()}"
        if report.errors and not (report.created or report.updated):
            line, message = report.errors[0]
            raise CommandError(f"{summary}; line {line}: {message}")
        self.stdout.write(self.style.SUCCESS(summary))
