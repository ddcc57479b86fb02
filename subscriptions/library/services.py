"""Changes to a reader's library from the manage page: remove one paper, remove them all.
The summary the model scores with is recomputed after each change."""

from __future__ import annotations

from django.db import transaction

from subscriptions.library.summary import library_summarise
from subscriptions.models import LibraryPaper, Subscriber


def library_paper_remove(*, subscriber: Subscriber, paper_id: int) -> LibraryPaper | None:
    """Remove one of the reader's library papers (None if it is not theirs)."""
    with transaction.atomic():
        paper = LibraryPaper.objects.filter(subscriber=subscriber, pk=paper_id).first()
        if paper is None:
            return None
        paper.delete()
        library_summarise(subscriber=subscriber)
    return paper


def library_clear(*, subscriber: Subscriber) -> int:
    """Remove every library paper of the reader (their import history goes too)."""
    with transaction.atomic():
        count, _ = LibraryPaper.objects.filter(subscriber=subscriber).delete()
        subscriber.library_imports.all().delete()
    return count
