"""Follow by email: a visitor of a paper's public archive page types their address, and a
subscriber gets their signed Follow link for that paper by email.

The web archive does not know its visitors, so the address is only a request to be mailed: the
link goes to the address's own inbox, and it opens the same one-button page as a card's Follow
link (GET changes nothing; a link scanner follows nothing). The page answers the same whatever
the address; only a confirmed subscriber (active or paused) is mailed. Anyone else gets nothing:
a message to an address that never subscribed would be unsolicited, so the page itself offers
the signup form instead.

Abuse: one follow link per address and paper a day (a second post within 24 hours sends
nothing), and at most FOLLOW_LINKS_PER_ADDRESS_DAILY follow links to one address a day, counted
in the shared cache (Redis, or the database cache on one machine) under a hash of the address.
The per-IP limit on the form is the view's (ratelimits.follow_request_limited).
"""

from __future__ import annotations

import time
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache

from digest.emails.links import absolute_url
from digest.emails.render import author_line
from digest.papers.selectors import visible_papers
from subscriptions.models import Subscriber
from subscriptions.readers.services import (
    email_hash,
    is_suppressed,
    normalize_email,
    transactional_send,
)
from subscriptions.readers.tokens import Purpose, make_token

DAY_SECONDS = 24 * 3600
# Who may be mailed a Follow link: readers who confirmed and have not left.
_FOLLOWING_STATUSES = (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED)


class FollowLink(StrEnum):
    SENT = "sent"
    NOT_SUBSCRIBED = "not_subscribed"  # unknown, pending, gone or suppressed: nothing sent
    NO_PAPER = "no_paper"  # unknown, hidden or withdrawn
    ALREADY_SENT = "already_sent"  # this paper's link went to this address within a day
    DAILY_LIMIT = "daily_limit"  # the address had FOLLOW_LINKS_PER_ADDRESS_DAILY today


def _keys(email: str, arxiv_id: str) -> tuple[str, str]:
    address = email_hash(email)
    return (
        f"subscriptions.follow_link.{address}.{arxiv_id}",
        f"subscriptions.follow_link.{address}.count",
    )


def _first_in_a_day(key: str) -> bool:
    """Mark `key` now; False if it was marked less than a day ago. The time is kept in the value
    (the cache's own expiry only clears it away), so the day is the clock's, whatever the cache."""
    now = time.time()
    if cache.add(key, now, timeout=DAY_SECONDS):
        return True
    marked = cache.get(key)
    if isinstance(marked, float) and now - marked < DAY_SECONDS:
        return False
    cache.set(key, now, timeout=DAY_SECONDS)
    return True


def _count(key: str) -> int:
    """Add one to the address's count of the day (the window starts with its first link)."""
    cache.add(key, 0, timeout=DAY_SECONDS)
    try:
        return cache.incr(key)
    except ValueError:  # expired between the two calls: a new day
        cache.set(key, 1, timeout=DAY_SECONDS)
        return 1


def follow_link_send(*, email: str, arxiv_id: str) -> FollowLink:
    """Mail the subscriber at `email` their Follow link for the paper `arxiv_id`, or nothing
    (see the module's docstring); the caller answers the same whatever this returns."""
    email = normalize_email(email)
    paper = visible_papers().filter(arxiv_id=arxiv_id).first()
    if paper is None:
        return FollowLink.NO_PAPER
    subscriber = Subscriber.objects.filter(email=email, status__in=_FOLLOWING_STATUSES).first()
    if subscriber is None or is_suppressed(email):
        return FollowLink.NOT_SUBSCRIBED
    paper_key, count_key = _keys(email, paper.arxiv_id)
    if not _first_in_a_day(paper_key):
        return FollowLink.ALREADY_SENT
    if _count(count_key) > settings.FOLLOW_LINKS_PER_ADDRESS_DAILY:
        return FollowLink.DAILY_LIMIT
    context: dict[str, object] = {
        "subscriber": subscriber,
        "paper": paper,
        "authors": author_line(paper),  # as the digest's cards write them
        "follow_url": absolute_url(
            "subscriptions:follow", make_token(subscriber, Purpose.FOLLOW), paper.arxiv_id
        ),
        "paper_url": absolute_url("digest:paper", paper.listed_on.isoformat(), paper.arxiv_id),
        "follow_days": settings.FOLLOW_DAYS,
        "unsubscribe_url": absolute_url(
            "subscriptions:unsubscribe", make_token(subscriber, Purpose.UNSUBSCRIBE)
        ),
    }
    try:
        transactional_send(to=subscriber.email, template="follow_link", context=context)
    except Exception:
        # Not sent: a retry of the task (or a new post) may send it.
        cache.delete(paper_key)
        cache.decr(count_key)
        raise
    return FollowLink.SENT
