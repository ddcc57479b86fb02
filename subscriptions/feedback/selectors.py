"""What the pipeline reads of readers' feedback: one selector per model, per batch or per day.

A send batch reads its readers' votes and follows in one query each; the daily refresh of followed
papers reads which papers someone still follows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from digest.recommend import Vote
from subscriptions.models import Follow
from subscriptions.models import Vote as VoteRow


def votes_by_subscriber(*, subscriber_ids: Iterable[int]) -> dict[int, list[Vote]]:
    """Each reader's votes on papers, for a batch of readers in one query (readers without
    votes are absent)."""
    found: dict[int, list[Vote]] = {}
    rows = VoteRow.objects.filter(subscriber_id__in=list(subscriber_ids)).values_list(
        "subscriber_id", "paper__arxiv_id", "value"
    )
    for subscriber_id, arxiv_id, value in rows:
        found.setdefault(subscriber_id, []).append(Vote(arxiv_id, value == VoteRow.Value.LIKE))
    return found


def _running(at: datetime) -> Q:
    """Follows still running at `at`: not expired, not ended by a withdrawal."""
    return Q(ended_at__isnull=True, expires_at__gt=at)


def follows_running_of(
    *, subscriber_ids: Iterable[int], at: datetime
) -> QuerySet[Follow, tuple[int, int, datetime]]:
    """(subscriber id, paper id, followed at) of a batch's follows running at `at`."""
    return Follow.objects.filter(_running(at), subscriber_id__in=list(subscriber_ids)).values_list(
        "subscriber_id", "paper_id", "followed_at"
    )


def followed_paper_ids(*, at: datetime) -> QuerySet[Follow, Any]:
    """The ids of the papers someone still follows at `at`, as a subquery."""
    return Follow.objects.filter(_running(at)).values("paper_id")
