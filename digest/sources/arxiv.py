"""arXiv export API: one day's new submissions in the configured categories as plain records.

API: https://info.arxiv.org/help/api/user-manual.html (Atom 1.0, paged with `start` and
`max_results`, `opensearch:totalResults` at feed level). Terms of use ask for one request every
three seconds and one connection at a time (https://info.arxiv.org/help/api/tou.html), so every
request goes through a shared `RateLimiter`. feedparser only ever sees bytes the HTTP layer
fetched: it never fetches a URL itself, so timeouts, retries and the etiquette stay in one place.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import feedparser

from digest.sources.http import FetchError, HttpFetcher, RateLimiter, shared_rate_limiter
from digest.sources.records import (
    Listing,
    PaperRecord,
    SkippedItem,
    arxiv_version,
    normalize_arxiv_id,
)

logger = logging.getLogger(__name__)

SOURCE = "arxiv"
DEFAULT_URL = "http://export.arxiv.org/api/query"
DEFAULT_CATEGORIES = ("cs.LG", "cs.CL", "cs.CV", "cs.AI")
DEFAULT_INTERVAL = 3.0
# The API answers errors with a feed holding one entry whose id points here.
_ERROR_ID_PREFIX = "http://arxiv.org/api/errors"
_ABS_ID = re.compile(r"/abs/(?P<id>.+?)/?$")


def build_search_query(categories: Sequence[str], day: date) -> str:
    """`(cat:A OR cat:B) AND submittedDate:[D0000 TO D2359]`: the day's submissions, UTC."""
    if not categories:
        raise ValueError("at least one arXiv category is needed")
    cats = " OR ".join(f"cat:{category}" for category in categories)
    stamp = day.strftime("%Y%m%d")
    return f"({cats}) AND submittedDate:[{stamp}0000 TO {stamp}2359]"


def fetch_arxiv_day(
    day: date,
    *,
    base_url: str = DEFAULT_URL,
    categories: Sequence[str] = DEFAULT_CATEGORIES,
    fetcher: HttpFetcher,
    limiter: RateLimiter | None = None,
    page_size: int = 200,
    max_results: int = 2000,
) -> Listing:
    """Fetch every page of `day`'s submissions and map them; raise FetchError if a page fails.

    Pages advance by the number of entries actually returned (arXiv sometimes sends fewer than
    asked) until `opensearch:totalResults` or `max_results` is reached or a page is empty.
    Without a `limiter`, the process-wide 3-second arXiv limiter is used.
    """
    limiter = limiter or shared_rate_limiter(SOURCE, DEFAULT_INTERVAL)
    query = build_search_query(categories, day)
    listing = Listing()
    start = 0
    while start < max_results:
        params: dict[str, str | int] = {
            "search_query": query,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
            "start": start,
            "max_results": min(page_size, max_results - start),
        }
        response = fetcher.get(base_url, params=params, limiter=limiter)
        try:
            page, total = parse_arxiv_feed(response.content, listed_on=day, first_position=start)
        except FetchError as exc:  # name the request, so the operator can replay it
            raise FetchError(f"GET {response.url}: {exc}", url=str(response.url)) from exc
        entries = len(page.records) + len(page.skipped)
        listing.records.extend(page.records)
        listing.skipped.extend(page.skipped)
        start += entries
        if entries == 0:
            if total is not None and start < total:
                logger.warning("arXiv %s: empty page at start=%d of %d", day, start, total)
            break
        if total is not None and start >= total:
            break
    else:
        logger.warning("arXiv %s: stopped at max_results=%d", day, max_results)
    return listing


ID_LIST_MAX = 100  # ids per request: the API's id_list works best in modest batches


def fetch_arxiv_ids(
    arxiv_ids: Sequence[str],
    *,
    base_url: str = DEFAULT_URL,
    fetcher: HttpFetcher,
    limiter: RateLimiter | None = None,
    listed_on: date,
    batch_size: int = ID_LIST_MAX,
) -> Iterator[tuple[list[str], Listing | FetchError]]:
    """The current version of each paper, `batch_size` ids per request (`id_list`), through the
    arXiv limiter: yields each batch's ids with its listing, or the FetchError that stopped it
    (a failed batch does not stop the next one)."""
    limiter = limiter or shared_rate_limiter(SOURCE, DEFAULT_INTERVAL)
    batch_size = max(1, min(batch_size, ID_LIST_MAX))
    for start in range(0, len(arxiv_ids), batch_size):
        batch = list(arxiv_ids[start : start + batch_size])
        params: dict[str, str | int] = {
            "id_list": ",".join(batch),
            "start": 0,
            "max_results": len(batch),
        }
        try:
            response = fetcher.get(base_url, params=params, limiter=limiter)
            try:
                listing, _ = parse_arxiv_feed(response.content, listed_on=listed_on)
            except FetchError as exc:
                raise FetchError(f"GET {response.url}: {exc}", url=str(response.url)) from exc
        except FetchError as exc:
            logger.warning("arXiv id_list of %d ids failed: %s", len(batch), exc)
            yield batch, exc
            continue
        yield batch, listing


def fetch_arxiv_day_from_settings(day: date, *, fetcher: HttpFetcher | None = None) -> Listing:
    """`fetch_arxiv_day` with `ARXIV_API_URL`, `ARXIV_CATEGORIES`, `ARXIV_REQUEST_INTERVAL`."""
    from django.conf import settings

    limiter = shared_rate_limiter(SOURCE, settings.ARXIV_REQUEST_INTERVAL)
    options: dict[str, Any] = {
        "base_url": settings.ARXIV_API_URL,
        "categories": settings.ARXIV_CATEGORIES,
        "limiter": limiter,
    }
    if fetcher is not None:
        return fetch_arxiv_day(day, fetcher=fetcher, **options)
    with HttpFetcher.from_settings() as own_fetcher:
        return fetch_arxiv_day(day, fetcher=own_fetcher, **options)


def parse_arxiv_feed(
    body: bytes, *, listed_on: date, first_position: int = 0
) -> tuple[Listing, int | None]:
    """Map one Atom page to records, and return `opensearch:totalResults` (None if absent).

    Raise FetchError when the body is not an Atom feed (an HTML error page, garbage) or is the
    API's own error entry; skip, with a reason, entries without a usable id or title.
    """
    # A stream, never bare bytes: feedparser.parse() treats a bytes/str argument that names a
    # file (or a URL) as something to open, so a body of b"/etc/passwd" would be read from disk.
    parsed = feedparser.parse(io.BytesIO(body))
    if not str(parsed.get("version", "")).startswith("atom"):
        problem = parsed.get("bozo_exception") or "no Atom feed element"
        raise FetchError(f"arXiv answer is not an Atom feed: {problem}")
    _raise_api_error(parsed.entries)

    listing = Listing()
    for offset, entry in enumerate(parsed.entries):
        position = first_position + offset
        record_or_reason = _record(entry, listed_on=listed_on)
        if isinstance(record_or_reason, PaperRecord):
            listing.records.append(record_or_reason)
        else:
            raw_id = str(entry.get("id") or "")
            logger.info(
                "arXiv %s: skipped entry %d (%s): %s", listed_on, position, raw_id, record_or_reason
            )
            listing.skipped.append(
                SkippedItem(reason=record_or_reason, position=position, raw_id=raw_id)
            )
    return listing, _total_results(parsed.feed)


def _raise_api_error(entries: Iterable[Any]) -> None:
    for entry in entries:
        if str(entry.get("id") or "").startswith(_ERROR_ID_PREFIX):
            message = _fold(entry.get("summary", "")) or _fold(entry.get("title", "")) or "error"
            raise FetchError(f"arXiv API error: {message}", url=str(entry.get("id")))


def _total_results(feed: Any) -> int | None:
    raw = feed.get("opensearch_totalresults")
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def _record(entry: Any, *, listed_on: date) -> PaperRecord | str:
    """The entry as a record, or the reason it cannot be one."""
    entry_id = str(entry.get("id") or "").strip()
    if not entry_id:
        return "missing id"
    match = _ABS_ID.search(entry_id)
    versioned = match.group("id") if match else entry_id
    arxiv_id = normalize_arxiv_id(versioned)
    if arxiv_id is None:
        return f"id is not an arXiv id: {entry_id!r:.80}"
    title = _fold(entry.get("title", ""))
    if not title:
        return "missing title"

    categories = _unique(tag.get("term", "") for tag in entry.get("tags", []))
    primary = (entry.get("arxiv_primary_category") or {}).get("term", "") or (
        categories[0] if categories else ""
    )
    comment = _fold(entry.get("arxiv_comment", ""))
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=_fold(entry.get("summary", "")),
        authors=tuple(
            name for author in entry.get("authors", []) if (name := _fold(author.get("name", "")))
        ),
        categories=categories,
        primary_category=primary,
        published_at=_datetime(entry.get("published")),
        listed_on=listed_on,
        version=arxiv_version(versioned),
        comment=comment,
        withdrawn=is_withdrawn(title, comment),
        source=SOURCE,
    )


_WITHDRAWN = re.compile(
    r"\bwithdrawn\b|\bwithdraw(?:n|ing)? (?:this|the) (?:paper|submission)", re.I
)


def is_withdrawn(title: str, comment: str) -> bool:
    """arXiv marks a withdrawal in the new version's comment ("This paper has been withdrawn by
    the author") and often its title ("Withdrawn: ..."); nothing else in the feed says so."""
    return bool(_WITHDRAWN.search(comment) or title.lower().startswith("withdrawn"))


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    """Folded, non-empty, first occurrence kept, order kept."""
    seen: dict[str, None] = {}
    for value in values:
        folded = _fold(value)
        if folded:
            seen.setdefault(folded, None)
    return tuple(seen)


def _datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _fold(text: str) -> str:
    """Fold runs of white space (arXiv wraps abstracts at 80 columns); LaTeX stays verbatim."""
    return " ".join(str(text).split())
