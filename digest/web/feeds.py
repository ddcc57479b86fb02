"""Atom feeds: a reader's private digest feed (/feed/<token>/) and the public trending feed
(/feed/trending/), written by Django's syndication framework (RFC 4287 through
django.utils.feedgenerator.Atom1Feed).

The private feed answers a conditional GET from one aggregate over the reader's delivery rows
(ETag and Last-Modified, 304 without building anything) and otherwise costs a fixed number of
queries whatever its length (digest.delivery.published). A bad address is a 404 that says
nothing; a reader who left gets 410 Gone, which tells feed readers to stop polling
(subscriptions.readers.feeds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from html import escape
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.feedgenerator import Atom1Feed
from django.utils.http import http_date
from django.utils.xmlutils import SimplerXMLGenerator
from django.views.decorators.http import require_safe

from digest.delivery.published import (
    FeedEntry,
    FeedStamp,
    reader_feed_entries,
    reader_feed_stamp,
)
from digest.models import Paper
from digest.papers.selectors import latest_listing_day, listing_days, trending_papers
from subscriptions.models import Subscriber
from subscriptions.readers.feeds import FeedGone, FeedNotFound, feed_subscriber, feed_token

# Feed readers poll every 15 minutes or so: let them keep a copy that long, then revalidate
# (a 304 costs one query). The private feed is never stored by shared caches.
MAX_AGE = 15 * 60
# Bump when the entries' markup changes, so that cached copies are refetched.
FEED_FORMAT = 1
# Atom authors per entry; a thousand-author paper names its first ones.
MAX_AUTHORS = 20
TRENDING_DAYS = 7


def absolute(path: str) -> str:
    return settings.SITE_URL + path


def paper_page_url(paper: Paper) -> str:
    return _paper_page_url(settings.SITE_URL, paper.listed_on.isoformat(), paper.arxiv_id)


@lru_cache(maxsize=4096)
def _paper_page_url(site_url: str, day: str, arxiv_id: str) -> str:
    # Cached: a feed links each paper twice, and reverse() was a fifth of a full feed's time.
    return site_url + reverse("digest:paper", args=[day, arxiv_id])


class PaperAtomFeed(Atom1Feed):
    """Atom with one <author> per paper author (Atom1Feed writes one) and a link to arXiv."""

    def add_item_elements(self, handler: SimplerXMLGenerator, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item)
        for name in item.get("authors", ()):
            handler.startElement("author", {})  # type: ignore[arg-type]  # as Atom1Feed does
            handler.addQuickElement("name", name)
            handler.endElement("author")
        handler.addQuickElement(
            "link", "", {"rel": "related", "href": item["arxiv_url"], "title": "arXiv"}
        )

    def latest_post_date(self) -> datetime:
        # An empty feed is as old as what it was made from, not "now" (Atom1Feed's default),
        # so that its <updated> stays put between polls.
        if not self.items and self.feed.get("updated_fallback") is not None:
            updated: datetime = self.feed["updated_fallback"]
            return updated
        return super().latest_post_date()


class _PaperFeed(Feed):
    feed_type = PaperAtomFeed
    author_name = settings.SITE_NAME

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Feed.__call__, but the XML is written to a string first: the response's own write()
        per XML event (a hundred thousand for a 300-entry feed) cost a third of the time. The
        caller sets the validators (ETag, Last-Modified)."""
        feed = self.get_feed(self.get_object(request, *args, **kwargs), request)
        return HttpResponse(feed.writeString("utf-8"), content_type=PaperAtomFeed.content_type)

    def link(self) -> str:
        return absolute("/")

    def item_title(self, item: FeedEntry) -> str:
        # Atom titles are text: the XML writer escapes them (the default escape() is for RSS).
        return " ".join(item.paper.title.split())

    def item_link(self, item: FeedEntry) -> str:
        return paper_page_url(item.paper)

    def item_description(self, item: FeedEntry) -> str:
        return entry_summary(item)

    def item_updateddate(self, item: FeedEntry) -> datetime:
        return item.delivered_at

    def item_pubdate(self, item: FeedEntry) -> datetime:
        return item.delivered_at

    def item_categories(self, item: FeedEntry) -> Sequence[str]:
        return item.paper.categories[:5]

    def item_extra_kwargs(self, item: FeedEntry) -> dict[str, Any]:
        return {
            "authors": [str(a) for a in item.paper.authors[:MAX_AUTHORS]],
            "arxiv_url": item.paper.abs_url,
        }


def entry_summary(entry: FeedEntry) -> str:
    """The entry's HTML: why it was chosen, the authors, the summary, the links. Every piece of
    paper text is escaped (html.escape: format_html's per-call cost showed in the benchmark)."""
    paper = entry.paper
    summary = paper.ai_summary or paper.abstract
    authors = ", ".join(str(a) for a in paper.authors[:MAX_AUTHORS])
    if len(paper.authors) > MAX_AUTHORS:
        authors += f" and {len(paper.authors) - MAX_AUTHORS} more"
    parts = []
    if entry.why:
        parts.append(f"<p><strong>{escape(entry.why)}</strong></p>")
    if authors:
        parts.append(f"<p>{escape(authors)}</p>")
    if summary:
        parts.append(f"<p>{escape(summary)}</p>")
    links = (
        (paper.abs_url, "arXiv"),
        (paper.pdf_url, "PDF"),
        (paper_page_url(paper), "Paper page"),
    )
    parts.append("<p>" + " · ".join(f'<a href="{escape(u)}">{t}</a>' for u, t in links) + "</p>")
    return "".join(parts)


class ReaderFeed(_PaperFeed):
    """One reader's digests of the last 30 days, one entry per paper sent, newest first."""

    def __init__(self, subscriber: Subscriber, entries: list[FeedEntry]) -> None:
        self.subscriber = subscriber
        self.entries = entries

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Subscriber:
        return self.subscriber

    def title(self) -> str:
        return f"Your {settings.SITE_NAME}"

    def subtitle(self) -> str:
        return "The papers of your digest, with why each was chosen. This address is private."

    def feed_url(self) -> str:
        return absolute(reverse("feeds:reader", args=[feed_token(self.subscriber)]))

    def feed_guid(self) -> str:
        return self.feed_url()

    def feed_extra_kwargs(self, obj: Subscriber) -> dict[str, Any]:
        return {"updated_fallback": obj.confirmed_at or obj.created_at}

    def items(self) -> list[FeedEntry]:
        return self.entries

    def item_guid(self, item: FeedEntry) -> str:
        # One entry per paper per digest (an update on a followed paper is an entry of its own).
        host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        suffix = f"/update/{item.event_id}" if item.event_id else ""
        return f"tag:{host},{item.digest_date.isoformat()}:digest/{item.paper.arxiv_id}{suffix}"


def _stamp_validators(subscriber: Subscriber, stamp: FeedStamp) -> tuple[str, datetime | None]:
    key = "|".join(
        str(part)
        for part in (
            FEED_FORMAT,
            subscriber.pk,
            subscriber.feed_generation,
            stamp.since,
            stamp.latest.isoformat() if stamp.latest else "",
            stamp.deliveries,
        )
    )
    etag = '"' + hashlib.blake2b(key.encode(), digest_size=12).hexdigest() + '"'
    last_modified = stamp.latest or subscriber.confirmed_at or subscriber.created_at
    return etag, last_modified


@require_safe
def reader_feed(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        subscriber = feed_subscriber(token)
    except FeedNotFound as exc:
        raise Http404 from exc
    except FeedGone:
        response: HttpResponseBase = HttpResponse(status=410)
        patch_cache_control(response, private=True, max_age=MAX_AGE)
        return response
    stamp = reader_feed_stamp(subscriber=subscriber)
    etag, last_modified = _stamp_validators(subscriber, stamp)
    timestamp = last_modified.timestamp() if last_modified else None
    response = get_conditional_response(
        request, etag=etag, last_modified=int(timestamp) if timestamp else None
    ) or ReaderFeed(subscriber, reader_feed_entries(subscriber=subscriber, stamp=stamp))(request)
    response["ETag"] = etag
    if last_modified is not None:
        response["Last-Modified"] = http_date(timestamp)
    patch_cache_control(response, private=True, max_age=MAX_AGE)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


class TrendingFeed(_PaperFeed):
    """The public trending list: each listing day's top papers over the last week."""

    title = f"{settings.SITE_NAME}: trending papers"
    subtitle = "The day's most upvoted research papers on Hugging Face Daily Papers."

    def __init__(self, entries: list[FeedEntry]) -> None:
        self.entries = entries

    def feed_url(self) -> str:
        return absolute(reverse("feeds:trending"))

    def feed_guid(self) -> str:
        return self.feed_url()

    def items(self) -> list[FeedEntry]:
        return self.entries

    def item_guid(self, item: FeedEntry) -> str:
        return paper_page_url(item.paper)


def trending_entries() -> list[FeedEntry]:
    """Each listing day's archive (its top DIGEST_ARCHIVE_COUNT) of the last week, newest day
    first, in the trending order within a day."""
    latest = latest_listing_day()
    if latest is None:
        return []
    days = listing_days(since=latest - timedelta(days=TRENDING_DAYS - 1))
    entries = []
    for day in days:
        for paper in trending_papers(day=day, limit=settings.DIGEST_ARCHIVE_COUNT):
            entries.append(_trending_entry(paper))
    return entries


def _trending_entry(paper: Paper) -> FeedEntry:
    listed = datetime.combine(paper.listed_on, time.min, tzinfo=UTC)
    return FeedEntry(
        paper=paper,
        digest_date=paper.listed_on,
        delivered_at=max(listed, paper.created_at),
        section="trending",
        why=f"▲ {paper.upvotes} upvotes on Hugging Face" if paper.upvotes else "",
    )


@require_safe
def trending_feed(request: HttpRequest) -> HttpResponseBase:
    entries = trending_entries()
    key = "|".join(f"{e.paper.arxiv_id}:{e.paper.upvotes}:{e.paper.updated_at}" for e in entries)
    etag = '"' + hashlib.blake2b(f"{FEED_FORMAT}|{key}".encode(), digest_size=12).hexdigest() + '"'
    response = get_conditional_response(request, etag=etag) or TrendingFeed(entries)(request)
    response["ETag"] = etag
    patch_cache_control(response, public=True, max_age=MAX_AGE)
    return response
