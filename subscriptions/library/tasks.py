"""The library's task: an uploaded library stored in the background (arXiv look-ups take a
while for a large one)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from subscriptions.library.importing import library_import_run
from subscriptions.models import LibraryImport


@shared_task(name="subscriptions.import_library")
def import_library(import_id: int) -> str:
    """Store an uploaded library (parsed, arXiv look-ups, summary); the import row shows the
    progress and the result (a failure too: it is logged and marked there, not retried, since
    the reader sees it and can upload again). A finished import is left as it is."""
    run = LibraryImport.objects.select_related("subscriber").filter(pk=import_id).first()
    if run is None:  # the reader was erased meanwhile
        return "gone"
    try:
        return library_import_run(library_import=run).status
    except Exception:
        return LibraryImport.Status.FAILED.value


def enqueue_library_import(import_id: int) -> None:
    """Queue the import once its row is committed."""
    transaction.on_commit(lambda: import_library.delay(import_id), robust=True)
