"""import_library EMAIL FILE [--format bibtex|ris|csl-json|ids]: add a reference library to a
reader's positive examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from subscriptions.library.importing import (
    LibraryRefused,
    library_import_run,
    library_import_start,
)
from subscriptions.library.parsing import FORMATS
from subscriptions.models import Subscriber
from subscriptions.readers.services import normalize_email


class Command(BaseCommand):
    help = (
        "Import a reference library (BibTeX, RIS, CSL-JSON, or arXiv ids/URLs/DOIs one per line) "
        "into a reader's library; prints what was imported and what was skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=FORMATS, help="default: guessed from the file")

    def handle(
        self, *args: Any, email: str, file: Path, format: str | None, **options: Any
    ) -> None:
        subscriber = Subscriber.objects.filter(email=normalize_email(email)).first()
        if subscriber is None:
            raise CommandError(f"No subscriber with the address {email!r}.")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from exc
        try:
            run = library_import_start(
                subscriber=subscriber, data=data, file_name=file.name, format=format
            )
        except LibraryRefused as exc:
            raise CommandError(f"{file.name}: {exc} Nothing was imported.") from exc
        self.stdout.write(f"{file.name}: {run.format}, {run.entries} entries")
        run = library_import_run(library_import=run, progress=self.stdout.write)
        for skipped in run.skipped:
            self.stderr.write(f"{file.name}:{skipped['line']}: skipped: {skipped['reason']}")
        self.stdout.write(self.style.SUCCESS(f"{file.name}: {run.summary}"))
