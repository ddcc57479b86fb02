"""Starter picks: at signup, this week's most upvoted papers offered with a checkbox each; the
ticked ones become the new reader's likes, so the first digest already has a Recommended
section. And what that section would hold, for the signup form's live preview.

The likes are recorded only for a signup that stored its preferences (a new or still pending
address: `services.subscriber_request` leaves a confirmed reader's data alone, and so does
this), and they count from the confirmation: only confirmed readers get digests, and an
unconfirmed signup is purged with its likes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from django.conf import settings
from django.db.models import Count, Max

from digest.models import Paper
from digest.papers.selectors import latest_listing_day, papers_listed
from digest.recommend import Recommendation, Vote, WindowFeatures, reader_model_train, recommend
from subscriptions.library.importing import library_import_start
from subscriptions.library.tasks import enqueue_library_import
from subscriptions.models import LibraryImport, Subscriber
from subscriptions.models import Vote as VoteRow

STARTER_COUNT = 8
STARTER_DAYS = 7


def starter_papers(*, limit: int = STARTER_COUNT) -> list[Paper]:
    """This week's most upvoted papers (the latest listing day and the six before it)."""
    day = latest_listing_day()
    if day is None:
        return []
    papers = papers_listed(day=day, days=STARTER_DAYS)
    papers = papers.order_by("-upvotes", "-comments", "arxiv_id")
    return list(papers[:limit])


def starter_likes_record(*, subscriber: Subscriber | None, arxiv_ids: Iterable[str]) -> int:
    """Record the ticked starter papers as likes of a pending reader; returns how many. Ids
    that are not among the offered papers are ignored (a form is only a request)."""
    if subscriber is None or subscriber.status != Subscriber.Status.PENDING:
        return 0
    wanted = set(arxiv_ids)
    offered = [p for p in starter_papers() if p.arxiv_id in wanted]
    for paper in offered:
        VoteRow.objects.update_or_create(
            subscriber=subscriber, paper=paper, defaults={"value": VoteRow.Value.LIKE}
        )
    return len(offered)


@dataclass(frozen=True, slots=True)
class StarterRecommendation:
    paper: Paper
    because_of: Paper


@lru_cache(maxsize=2)
def _features(day: date, _version: tuple[object, ...]) -> tuple[WindowFeatures, dict[str, Paper]]:
    papers = list(papers_listed(day=day, days=STARTER_DAYS))
    return WindowFeatures(papers=papers, day=day), {p.arxiv_id: p for p in papers}


def starter_recommended(*, arxiv_ids: Iterable[str]) -> list[StarterRecommendation]:
    """The Recommended section a reader liking these papers would get from the latest day's
    papers (the live preview of the signup form; the features are fitted once per listing)."""
    liked = sorted(set(arxiv_ids))[:STARTER_COUNT]
    day = latest_listing_day()
    if not liked or day is None:
        return []
    window = papers_listed(day=day, days=STARTER_DAYS)
    version = tuple(window.aggregate(n=Count("pk"), last=Max("pk"), at=Max("updated_at")).values())
    features, by_arxiv_id = _features(day, version)
    liked = [i for i in liked if i in by_arxiv_id]
    model = reader_model_train(votes=[Vote(i, True) for i in liked])
    if model is None:
        return []
    found: list[Recommendation] = recommend(
        day=features.today,
        model=model,
        voted=features.texts(liked),
        limit=settings.DIGEST_RECOMMENDED_COUNT,
    )
    return [
        StarterRecommendation(by_arxiv_id[r.arxiv_id], by_arxiv_id[r.because_of])
        for r in found
        if r.arxiv_id in by_arxiv_id and r.because_of in by_arxiv_id
    ]


def signup_library_record(
    *,
    subscriber: Subscriber | None,
    liked: Iterable[str],
    upload: tuple[bytes, str] | None,
) -> LibraryImport | None:
    """What the signup form adds besides preferences, for a signup that stored them (a new or
    pending address): the ticked starter papers as likes, and the library to import (queued
    once committed). Returns the import, if one was started."""
    if subscriber is None or subscriber.status != Subscriber.Status.PENDING:
        return None
    starter_likes_record(subscriber=subscriber, arxiv_ids=liked)
    if upload is None:
        return None
    data, name = upload
    run = library_import_start(subscriber=subscriber, data=data, file_name=name)
    enqueue_library_import(run.pk)
    return run
