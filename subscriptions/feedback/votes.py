"""Readers' votes on papers ("More like this" / "Less like this"): record, replace, remove, list.

A vote comes from a signed link in the reader's own email (see subscriptions.web.feedback), so
there is no account: the services take the subscriber the link named. Only someone who still gets
the digest can vote; an unsubscribed reader's old link records nothing.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from digest.models import Paper
from digest.topics import validate
from subscriptions.models import Subscriber, Vote

# Readers whose votes count: confirmed and not gone (a paused reader may still teach the digest).
VOTING_STATUSES = (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED)


class VoteNotAllowed(Exception):
    """The reader no longer gets the digest (unsubscribed, bounced, never confirmed)."""


def vote_record(*, subscriber: Subscriber, paper: Paper, value: str) -> Vote:
    """Record the reader's vote on `paper`; a second vote on the same paper replaces the first
    (one row per reader and paper, a database constraint)."""
    if subscriber.status not in VOTING_STATUSES:
        raise VoteNotAllowed("This subscription has ended, so votes are not recorded.")
    value = Vote.Value(value)  # ValueError for anything but like / dislike
    with transaction.atomic():
        vote, _ = Vote.objects.update_or_create(
            subscriber=subscriber, paper=paper, defaults={"value": value}
        )
    return vote


def vote_remove(*, subscriber: Subscriber, paper: Paper) -> bool:
    """Undo the reader's vote on `paper`; False if there was none."""
    deleted, _ = Vote.objects.filter(subscriber=subscriber, paper=paper).delete()
    return bool(deleted)


def votes_clear(*, subscriber: Subscriber) -> int:
    """Remove every vote of the reader; returns how many there were."""
    deleted, _ = Vote.objects.filter(subscriber=subscriber).delete()
    return deleted


def subscriber_votes(*, subscriber: Subscriber) -> QuerySet[Vote]:
    """The reader's votes with their papers, newest (or most recently changed) first."""
    return (
        Vote.objects.filter(subscriber=subscriber)
        .select_related("paper")
        .order_by("-updated_at", "-id")
    )


def subscriber_vote(*, subscriber: Subscriber, paper: Paper) -> Vote | None:
    return Vote.objects.filter(subscriber=subscriber, paper=paper).first()


def subscriber_set_recommendations(*, subscriber: Subscriber, enabled: bool) -> Subscriber:
    """Switch the "Recommended for you" section on or off; votes are kept either way."""
    if subscriber.recommendations_enabled != enabled:
        subscriber.recommendations_enabled = enabled
        subscriber.save(update_fields=["recommendations_enabled", "updated_at"])
    return subscriber


def topic_suggestions(*, paper: Paper, limit: int = 5) -> list[str]:
    """Topics that would catch papers like this one, for the vote page: `like:` the paper itself,
    its first authors, its AI keywords as phrases (or the title's name before a colon), each a
    valid query."""
    found: list[str] = [f"like:{paper.arxiv_id}"]
    for name in paper.authors[:2]:
        if name and '"' not in name:
            found.append(f'author:"{name}"')
    phrases = list(paper.keywords[:3])
    if not phrases and ":" in paper.title:
        head = paper.title.split(":", 1)[0].strip()
        if 0 < len(head) <= 60:
            phrases.append(head)
    for phrase in phrases:
        phrase = " ".join(phrase.replace('"', " ").split())
        if phrase:
            found.append(f'"{phrase}"' if " " in phrase else phrase)
    return [query for query in dict.fromkeys(found) if validate(query) is None][:limit]
