"""Following a paper: start (or renew) a follow, stop it, list a reader's follows."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from digest.models import Paper
from subscriptions.models import Follow, Subscriber


def follow_start(*, subscriber: Subscriber, paper: Paper, now: datetime | None = None) -> Follow:
    """Follow `paper` for FOLLOW_DAYS from now; following it again renews the follow (and
    restarts one that expired). A withdrawn paper cannot be followed: ValueError."""
    if paper.withdrawn_at is not None:
        raise ValueError("This paper has been withdrawn.")
    now = now or timezone.now()
    expires = now + timedelta(days=settings.FOLLOW_DAYS)
    try:
        with transaction.atomic():
            return Follow.objects.create(
                subscriber=subscriber, paper=paper, followed_at=now, expires_at=expires
            )
    except IntegrityError:  # followed already (or a double click): renew it
        follow = Follow.objects.get(subscriber=subscriber, paper=paper)
        if follow.expires_at <= now or follow.ended_at is not None:
            follow.followed_at, follow.renewed_at = now, None
        else:
            follow.renewed_at = now
        follow.expires_at, follow.ended_at = expires, None
        follow.save(update_fields=["followed_at", "renewed_at", "expires_at", "ended_at"])
        return follow


def follow_stop(*, subscriber: Subscriber, paper: Paper) -> bool:
    """Stop following `paper`; False if it was not followed."""
    deleted, _ = Follow.objects.filter(subscriber=subscriber, paper=paper).delete()
    return bool(deleted)


def follows_running(*, subscriber: Subscriber, now: datetime | None = None) -> list[Follow]:
    """The reader's follows still running (not expired, not ended), newest first, with papers."""
    now = now or timezone.now()
    return list(
        Follow.objects.filter(subscriber=subscriber, ended_at__isnull=True, expires_at__gt=now)
        .select_related("paper")
        .order_by("-followed_at")
    )


def follows_end_withdrawn(*, now: datetime | None = None) -> int:
    """End every running follow of a withdrawn paper: nothing more is told about it."""
    return Follow.objects.filter(ended_at__isnull=True, paper__withdrawn_at__isnull=False).update(
        ended_at=now or timezone.now()
    )
