"""Importing a reader's library: refuse what is too large or not a library before storing
anything, then (in a task) store each new entry once, with its abstract.

Limits (settings): `LIBRARY_IMPORT_MAX_BYTES` (5 MB) and `LIBRARY_IMPORT_MAX_ENTRIES` (2,000)
per import. An entry's identity is its arXiv id, else its DOI, else its normalised title, so a
second import of the same file adds nothing. An entry with an arXiv id and no abstract gets one
from the papers we store, else from arXiv's API (`id_list`, at most 100 ids a request, through
the shared arXiv rate limiter that keeps the 3-second etiquette, as the refresh of followed
papers does); a failed request leaves those entries counted by their title. Library papers are
not listings: nothing here writes a `Paper`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from digest.models import Paper
from digest.sources.arxiv import fetch_arxiv_ids
from digest.sources.http import FetchError, HttpFetcher, RateLimiter, shared_rate_limiter
from subscriptions.library.parsing import (
    LibraryEntry,
    LibraryFormatError,
    ParsedLibrary,
    decode,
    parse_library,
    title_key,
)
from subscriptions.library.summary import library_summarise
from subscriptions.models import LibraryImport, LibraryPaper, Subscriber

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


class LibraryRefused(ValueError):
    """The whole file is refused (too large, not a library): nothing was stored."""


def max_bytes() -> int:
    return int(settings.LIBRARY_IMPORT_MAX_BYTES)


def max_entries() -> int:
    return int(settings.LIBRARY_IMPORT_MAX_ENTRIES)


def library_import_check(
    *, data: bytes, file_name: str = "", format: str | None = None, size: int | None = None
) -> ParsedLibrary:
    """Parse an upload, or refuse it with a message a reader can act on. `size` is the whole
    upload's when `data` holds only its start (a form reads no more than the limit)."""
    limit = max_bytes()
    size = len(data) if size is None else size
    if size > limit:
        raise LibraryRefused(
            f"The file is {size / 1024 / 1024:.1f} MB; an import takes at most "
            f"{limit / 1024 / 1024:.0f} MB. Export a smaller collection, or split the file."
        )
    try:
        parsed = parse_library(decode(data), format=format, file_name=file_name)
    except LibraryFormatError as exc:
        raise LibraryRefused(str(exc)) from exc
    count = len(parsed.entries) + len(parsed.skipped)
    if count > max_entries():
        raise LibraryRefused(
            f"The file holds {count:,} entries; an import takes at most {max_entries():,}. "
            "Export a smaller collection, or split the file."
        )
    return parsed


def library_import_start(
    *, subscriber: Subscriber, data: bytes, file_name: str = "", format: str | None = None
) -> LibraryImport:
    """Check the upload and keep it on a new import row for `library_import_run` (the task);
    raises LibraryRefused, storing nothing, for a file it cannot take."""
    parsed = library_import_check(data=data, file_name=file_name, format=format)
    return LibraryImport.objects.create(
        subscriber=subscriber,
        file_name=file_name[:255],
        format=parsed.format,
        content=decode(data),
        entries=len(parsed.entries) + len(parsed.skipped),
        progress=f"{len(parsed.entries)} entr{'y' if len(parsed.entries) == 1 else 'ies'} read",
    )


def library_import_run(
    *,
    library_import: LibraryImport,
    fetcher: HttpFetcher | None = None,
    limiter: RateLimiter | None = None,
    progress: Progress | None = None,
) -> LibraryImport:
    """Store the import's new entries with their abstracts and record the result on the row.
    Safe to run twice: a finished import is returned as it is."""
    run = library_import
    if run.status != LibraryImport.Status.RUNNING:
        return run
    say = progress or (lambda line: None)

    def report(line: str) -> None:
        say(line)
        LibraryImport.objects.filter(pk=run.pk).update(progress=line[:200])

    try:
        parsed = parse_library(run.content, format=run.format)
        fresh, duplicates = _new_entries(run.subscriber, parsed.entries)
        report(f"{len(fresh)} new papers, {duplicates} already in the library")
        limiter = limiter or shared_rate_limiter("arxiv", settings.ARXIV_REQUEST_INTERVAL)
        texts, looked_up = _texts(fresh, fetcher, limiter, report)
        with transaction.atomic():
            rows = [_row(run, entry, texts.get(entry.arxiv_id)) for entry in fresh]
            # ignore_conflicts: an import of the same papers running at the same time
            LibraryPaper.objects.bulk_create(rows, ignore_conflicts=True)
            library_summarise(subscriber=run.subscriber)
            run.status = LibraryImport.Status.DONE
            run.imported = LibraryPaper.objects.filter(source=run).count()
            run.duplicates = duplicates + len(rows) - run.imported
            run.looked_up = looked_up
            run.skipped = [{"line": s.line, "reason": s.reason} for s in parsed.skipped]
            run.content = ""
            run.progress = ""
            run.finished_at = timezone.now()
            run.save()
    except Exception as exc:
        logger.exception("library import %s failed", run.pk)
        LibraryImport.objects.filter(pk=run.pk).update(
            status=LibraryImport.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:500],
            content="",
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
        raise
    logger.info("library import %s: %s", run.pk, run.summary)
    return run


def _new_entries(
    subscriber: Subscriber, entries: list[LibraryEntry]
) -> tuple[list[LibraryEntry], int]:
    """The entries not yet in the reader's library (nor earlier in the same file)."""
    have = LibraryPaper.objects.filter(subscriber=subscriber)
    arxiv_ids = set(have.exclude(arxiv_id="").values_list("arxiv_id", flat=True))
    dois = set(have.exclude(doi="").values_list("doi", flat=True))
    titles = set(have.exclude(title_key="").values_list("title_key", flat=True))
    fresh: list[LibraryEntry] = []
    duplicates = 0
    for entry in entries:
        key = title_key(entry.title)
        if (
            (entry.arxiv_id and entry.arxiv_id in arxiv_ids)
            or (entry.doi and entry.doi in dois)
            or (key and key in titles)
        ):
            duplicates += 1
            continue
        fresh.append(entry)
        arxiv_ids.add(entry.arxiv_id)
        dois.add(entry.doi)
        titles.add(key)
    return fresh, duplicates


def _texts(
    entries: list[LibraryEntry],
    fetcher: HttpFetcher | None,
    limiter: RateLimiter,
    report: Progress,
) -> tuple[dict[str, tuple[str, str, tuple[str, ...]]], int]:
    """(title, abstract, authors) by arXiv id for the entries that lack an abstract: from the
    stored papers, then from arXiv. Returns them and how many were found."""
    wanted = [e.arxiv_id for e in entries if e.arxiv_id and not e.abstract]
    found: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for paper in Paper.objects.filter(arxiv_id__in=wanted).only(
        "arxiv_id", "title", "abstract", "authors"
    ):
        found[paper.arxiv_id] = (paper.title, paper.abstract, tuple(map(str, paper.authors or ())))
    missing = [i for i in wanted if i not in found]
    if missing:
        if fetcher is None:
            with HttpFetcher.from_settings() as own:
                _from_arxiv(missing, own, limiter, found, report)
        else:
            _from_arxiv(missing, fetcher, limiter, found, report)
    return found, len(found)


def _from_arxiv(
    arxiv_ids: list[str],
    fetcher: HttpFetcher,
    limiter: RateLimiter,
    found: dict[str, tuple[str, str, tuple[str, ...]]],
    report: Progress,
) -> None:
    asked = 0
    batches = fetch_arxiv_ids(
        arxiv_ids,
        base_url=settings.ARXIV_API_URL,
        fetcher=fetcher,
        limiter=limiter,
        listed_on=date.today(),
    )
    for batch, outcome in batches:
        asked += len(batch)
        if isinstance(outcome, FetchError):
            # Those entries keep what the file said (their title, if any).
            logger.warning("library import: arXiv look-up of %d ids failed", len(batch))
        else:
            wanted = set(batch)
            for record in outcome.records:
                if record.arxiv_id in wanted:
                    found[record.arxiv_id] = (record.title, record.abstract, record.authors)
        report(f"looking up abstracts on arXiv: {asked} of {len(arxiv_ids)}")


def _row(
    run: LibraryImport, entry: LibraryEntry, text: tuple[str, str, tuple[str, ...]] | None
) -> LibraryPaper:
    title, abstract, authors = entry.title, entry.abstract, entry.authors
    if text is not None:
        title = title or text[0]
        abstract = abstract or text[1]
        authors = authors or text[2]
    return LibraryPaper(
        subscriber=run.subscriber,
        title=title[:1000],
        abstract=abstract,
        authors=list(authors)[:50],
        arxiv_id=entry.arxiv_id,
        doi=entry.doi[:255],
        title_key=title_key(title),
        year=entry.year,
        source=run,
    )
