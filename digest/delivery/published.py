"""What readers were delivered, read back from their delivery rows: the entries of their private
feeds (digest.web.feeds).

A feed entry is a paper of a `sent` row (an email that went out, or a feed-only reader's digest,
see sender.FEED_MESSAGE_ID) of the last FEED_DAYS days, with the reason it was chosen, newest
digest first and in the digest's own order within a day. Two queries whatever the number of
entries (the rows, then their papers), and one aggregate for the conditional GET. A paper hidden
or withdrawn since is left out, so a feed shows nothing the public archive would not, but for
the reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from digest.composing.content import Reason, Section
from digest.models import Delivery, Paper, PaperEvent
from digest.papers.selectors import visible_papers
from subscriptions.models import Subscriber

FEED_DAYS = 30


@dataclass(frozen=True, slots=True)
class FeedEntry:
    paper: Paper
    digest_date: date
    delivered_at: datetime
    section: str
    why: str  # the reason in words, as the email said it
    event_id: int | None = None  # an update on a followed paper


@dataclass(frozen=True, slots=True)
class FeedStamp:
    """What changes whenever the feed does: its conditional-GET validators come from it."""

    since: date
    latest: datetime | None
    deliveries: int


def feed_since(*, now: datetime | None = None) -> date:
    return timezone.localdate(now) - timedelta(days=FEED_DAYS)


_SENT = Q(status=Delivery.Status.SENT)


def _window(subscriber: Subscriber, since: date) -> Any:
    """The reader's rows of the window, whatever their status (at most one a day): filtering
    the status in SQL made SQLite pick the (status, day) index and scan every reader's sent rows
    of the month, 100 ms with 1,000 readers; (subscriber, day) is the unique constraint's index."""
    return Delivery.objects.filter(subscriber=subscriber, digest_date__gte=since)


def reader_feed_stamp(*, subscriber: Subscriber, now: datetime | None = None) -> FeedStamp:
    """One aggregate query (the conditional GET answers from it alone)."""
    since = feed_since(now=now)
    found = _window(subscriber, since).aggregate(
        latest=Max("finished_at", filter=_SENT), n=Count("id", filter=_SENT)
    )
    return FeedStamp(since, found["latest"], found["n"])


def reader_feed_entries(*, subscriber: Subscriber, stamp: FeedStamp) -> list[FeedEntry]:
    rows = [
        row[1:]
        for row in _window(subscriber, stamp.since)
        .order_by("-digest_date")
        .values_list("status", "digest_date", "finished_at", "created_at", "papers")
        if row[0] == Delivery.Status.SENT
    ]
    wanted = {item["arxiv_id"] for *_, papers in rows for item in papers or ()}
    papers = (
        visible_papers().order_by().in_bulk(list(wanted), field_name="arxiv_id") if wanted else {}
    )
    entries = []
    for digest_date, finished_at, created_at, told in rows:
        for item in told or ():
            paper = papers.get(item.get("arxiv_id"))
            if paper is None:
                continue
            entries.append(
                FeedEntry(
                    paper=paper,
                    digest_date=digest_date,
                    delivered_at=finished_at or created_at,
                    section=item.get("section", ""),
                    why=_why(item),
                    event_id=item.get("event_id"),
                )
            )
    return entries


def _why(item: Mapping[str, Any]) -> str:
    section = item.get("section")
    if section == Section.UPDATES:
        kind = item.get("kind", "")
        label = PaperEvent.Kind(kind).label if kind in PaperEvent.Kind.values else "Update"
        detail = item.get("detail") or ""
        return f"A paper you follow: {label}" + (f" ({detail})" if detail else "")
    if section == Section.TRENDING:
        return "Trending on Hugging Face"
    found = item.get("reason") or {}
    similar = found.get("similar_to") or {}
    reason = Reason(
        tuple(found.get("topics", ())),
        frozenset(found.get("words", ())),
        similar_to=similar.get("arxiv_id", ""),
        similar_title=similar.get("title", ""),
        similar_topic=similar.get("topic", ""),
        labels=tuple(found.get("labels", ())),
    )
    return reason.text or ("Recommended for you" if section == Section.RECOMMENDED else "")
