"""Hugging Face Daily Papers: one day's list as plain records (bytes in, records out, no ORM).

API shape: shared/reference/sources.md (`GET /api/daily_papers?date=...&limit=...&p=...`).
The list is community-curated, so it is the only source of the trending signal (upvotes,
comments, GitHub stars) and of the AI keywords and one-sentence AI summary. Its items come and go
in shape: unknown fields are ignored, and an item we cannot use is skipped with a reason instead
of failing the whole day.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import httpx

from digest.sources.http import FetchError, HttpFetcher
from digest.sources.records import (
    Listing,
    PaperRecord,
    SkippedItem,
    arxiv_version,
    normalize_arxiv_id,
)

logger = logging.getLogger(__name__)

SOURCE = "hf"
DEFAULT_URL = "https://huggingface.co/api/daily_papers"
MAX_LIMIT = 100  # the API refuses larger pages
DEFAULT_MAX_PAGES = 200  # 20,000 papers: far above any real day, still a bound


T = TypeVar("T")


class _Skip(Exception):
    """Raised while mapping one item; becomes a SkippedItem, never leaves this module."""


def fetch_hf_day(
    day: date,
    *,
    base_url: str = DEFAULT_URL,
    fetcher: HttpFetcher,
    limit: int = MAX_LIMIT,
    max_pages: int = DEFAULT_MAX_PAGES,
) -> Listing:
    """Fetch every page of the list for `day` and map it; raise FetchError if any page fails.

    Paging follows a `Link: <...>; rel="next"` header when the server sends one, and otherwise
    asks for the next `p` while pages come back full. A page whose papers were all seen already
    (a server ignoring `p`) or the `max_pages` cap ends the walk, so it always terminates.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    params: dict[str, str | int] = {"date": day.isoformat(), "limit": limit, "p": 0}
    listing = Listing()
    seen_ids: set[str] = set()
    seen_urls: set[str] = set()
    url = base_url
    query: dict[str, str | int] | None = params
    position = 0

    for _page in range(max_pages):
        response = fetcher.get(url, params=query)
        seen_urls.add(str(response.url))
        items = _json_list(response)
        if not items:
            break
        page = parse_hf_items(items, listed_on=day, first_position=position)
        position += len(items)
        new_on_page = _merge(listing, page, seen_ids)
        if not new_on_page and page.records:
            logger.warning("HF %s: page %s repeated earlier papers, stopping", day, response.url)
            break

        next_link = response.links.get("next", {}).get("url")
        if next_link:
            next_url = str(response.url.join(next_link))
            if next_url in seen_urls:
                break
            url, query = next_url, None
        elif len(items) >= limit:
            params["p"] = int(params["p"]) + 1
            url, query = base_url, params
        else:
            break
    else:
        logger.warning("HF %s: stopped after %d pages (max_pages)", day, max_pages)

    return listing


def fetch_hf_day_from_settings(day: date, *, fetcher: HttpFetcher | None = None) -> Listing:
    """`fetch_hf_day` with `HF_PAPERS_URL` and the HTTP settings, for commands and tasks."""
    from django.conf import settings

    if fetcher is not None:
        return fetch_hf_day(day, base_url=settings.HF_PAPERS_URL, fetcher=fetcher)
    with HttpFetcher.from_settings() as own_fetcher:
        return fetch_hf_day(day, base_url=settings.HF_PAPERS_URL, fetcher=own_fetcher)


DEFAULT_PAPER_URL = "https://huggingface.co/api/papers/{arxiv_id}"


def fetch_hf_paper(
    arxiv_id: str, *, url_template: str = DEFAULT_PAPER_URL, fetcher: HttpFetcher, listed_on: date
) -> PaperRecord | None:
    """One paper from the paper endpoint (`/api/papers/<arXiv id>`); None when Hugging Face does
    not know it (404). A failed request or an answer we cannot use is a FetchError.

    The answer is the `paper` object of a daily_papers item (id, title, summary, authors,
    upvotes, githubRepo, githubStars, projectPage, submittedOnDailyAt, withdrawnAt, ...). Its
    record's source is "hf" only when the paper was put on Daily Papers (`submittedOnDailyAt`),
    since that is what "listed by hf" means everywhere else.
    """
    url = url_template.replace("{arxiv_id}", arxiv_id)
    try:
        response = fetcher.get(url)
    except FetchError as exc:
        if exc.status == 404:
            return None
        raise
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise FetchError(f"GET {url}: body is not JSON ({exc})", url=url) from exc
    if not isinstance(body, Mapping):
        raise FetchError(f"GET {url}: expected a JSON object, got {_json_type(body)}", url=url)
    try:
        # The endpoint puts the item-level count beside the paper's fields.
        item = {"paper": body, "numComments": body.get("numComments")}
        record = _record(item, listed_on=listed_on)
    except _Skip as skip:
        raise FetchError(f"GET {url}: {skip}", url=url) from None
    if record.arxiv_id != arxiv_id:
        raise FetchError(f"GET {url}: answered for another paper ({record.arxiv_id})", url=url)
    if not body.get("submittedOnDailyAt"):
        record = replace(record, source="")
    return record


def parse_hf_items(items: list[Any], *, listed_on: date, first_position: int = 0) -> Listing:
    """Map decoded `daily_papers` items to records; skip (with a reason) the ones we cannot use.

    `first_position` numbers items across pages so a skipped item can be found in the raw data.
    """
    listing = Listing()
    for offset, item in enumerate(items):
        position = first_position + offset
        try:
            listing.records.append(_record(item, listed_on=listed_on))
        except _Skip as skip:
            raw_id = _raw_id(item)
            logger.info("HF %s: skipped item %d (%s): %s", listed_on, position, raw_id, skip)
            listing.skipped.append(SkippedItem(reason=str(skip), position=position, raw_id=raw_id))
    return listing


def _json_list(response: httpx.Response) -> list[Any]:
    """The body as a JSON array; anything else (an HTML error page, an object) is a FetchError."""
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise FetchError(
            f"GET {response.url}: body is not JSON ({exc})", url=str(response.url)
        ) from exc
    if not isinstance(body, list):
        raise FetchError(
            f"GET {response.url}: expected a JSON array, got {type(body).__name__}",
            url=str(response.url),
        )
    return body


def _merge(listing: Listing, page: Listing, seen_ids: set[str]) -> int:
    """Add a page to the day's listing; a paper already on an earlier page is kept once."""
    added = 0
    for record in page.records:
        if record.arxiv_id in seen_ids:
            continue
        seen_ids.add(record.arxiv_id)
        listing.records.append(record)
        added += 1
    listing.skipped.extend(page.skipped)
    return added


def _raw_id(item: object) -> str:
    if isinstance(item, Mapping):
        paper = item.get("paper")
        if isinstance(paper, Mapping) and paper.get("id") is not None:
            return str(paper["id"])
    return ""


def _record(item: object, *, listed_on: date) -> PaperRecord:
    if not isinstance(item, Mapping):
        raise _Skip(f"item is not an object (got {_json_type(item)})")
    paper = item.get("paper")
    if paper is None:
        raise _Skip("missing paper")
    if not isinstance(paper, Mapping):
        raise _Skip(f"paper is not an object (got {_json_type(paper)})")

    raw_id = _optional(paper, "id", str, "paper.id")
    if not raw_id:
        raise _Skip("missing paper.id")
    arxiv_id = normalize_arxiv_id(raw_id)
    if arxiv_id is None:
        raise _Skip(f"paper.id is not an arXiv id: {raw_id!r}")

    title = _fold(_optional(item, "title", str, "title") or "") or _fold(
        _optional(paper, "title", str, "paper.title") or ""
    )
    if not title:
        raise _Skip("missing title")

    abstract = _optional(paper, "summary", str, "paper.summary") or _optional(
        item, "summary", str, "summary"
    )
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        abstract=_fold(abstract or ""),
        authors=_authors(paper),
        # Authors without a name still count (the page shows "N authors").
        author_count=len(_optional(paper, "authors", list, "paper.authors") or []),
        keywords=_keywords(paper),
        ai_summary=_fold(_optional(paper, "ai_summary", str, "paper.ai_summary") or ""),
        published_at=_datetime(paper, "publishedAt", "paper.publishedAt"),
        listed_on=listed_on,
        upvotes=_optional(paper, "upvotes", int, "paper.upvotes"),
        comments=_optional(item, "numComments", int, "numComments"),
        github_repo=_optional(paper, "githubRepo", str, "paper.githubRepo") or "",
        github_stars=_optional(paper, "githubStars", int, "paper.githubStars"),
        project_page=_optional(paper, "projectPage", str, "paper.projectPage") or "",
        thumbnail=_optional(item, "thumbnail", str, "thumbnail") or "",
        version=arxiv_version(raw_id),
        withdrawn=bool(paper.get("withdrawnAt")),
        source=SOURCE,
    )


def _optional(obj: Mapping[str, Any], key: str, kind: type[T], label: str) -> T | None:
    """The value at `key` if it has the expected type; None if absent or null; else skip.

    A field of the wrong type means the item is not what we think it is, so we would rather
    skip it visibly than store a guess. `bool` is not accepted where an int is expected.
    """
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Skip(f"{label} is not {_kind_name(kind)}: {value!r:.60}")
    return value


def _kind_name(kind: type) -> str:
    return {str: "a string", int: "an integer", list: "a list"}.get(kind, kind.__name__)


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for reasons a reader of the raw body understands."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _authors(paper: Mapping[str, Any]) -> tuple[str, ...]:
    """Every author's name, hidden ones included: `hidden` only hides the HF profile link."""
    authors = _optional(paper, "authors", list, "paper.authors") or []
    names = []
    for index, author in enumerate(authors):
        if not isinstance(author, Mapping):
            raise _Skip(f"paper.authors[{index}] is not an object")
        name = _fold(_optional(author, "name", str, f"paper.authors[{index}].name") or "")
        if name:
            names.append(name)
    return tuple(names)


def _keywords(paper: Mapping[str, Any]) -> tuple[str, ...]:
    keywords = _optional(paper, "ai_keywords", list, "paper.ai_keywords") or []
    if not all(isinstance(keyword, str) for keyword in keywords):
        raise _Skip("paper.ai_keywords is not a list of strings")
    return tuple(folded for keyword in keywords if (folded := _fold(keyword)))


def _datetime(obj: Mapping[str, Any], key: str, label: str) -> datetime | None:
    value = _optional(obj, key, str, label)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)  # Python 3.11 reads the trailing "Z"
    except ValueError:
        raise _Skip(f"{label} is not an ISO 8601 date: {value!r:.60}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _fold(text: str) -> str:
    """Fold runs of white space (newlines, tabs) to one space; LaTeX and HTML stay verbatim."""
    return " ".join(text.split())
