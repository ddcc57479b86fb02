"""Reads about papers: which day is current, what is trending."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

from django.db.models import QuerySet

from digest.models import Paper, PaperEvent


def visible_papers() -> QuerySet[Paper]:
    """Papers a reader may see: not hidden by an editor, not withdrawn by the authors."""
    return Paper.objects.filter(hidden=False, withdrawn_at__isnull=True)


def latest_listing_day(*, on_or_before: date | None = None) -> date | None:
    """The newest day with a listing (a weekend has none), at or before `on_or_before`."""
    papers = Paper.objects.all()
    if on_or_before is not None:
        papers = papers.filter(listed_on__lte=on_or_before)
    return papers.order_by("-listed_on").values_list("listed_on", flat=True).first()


def papers_listed(*, day: date, days: int = 1) -> QuerySet[Paper]:
    """Visible papers listed in the `days` days ending on `day` (7 for a weekly digest)."""
    return visible_papers().filter(listed_on__gt=day - timedelta(days=days), listed_on__lte=day)


def trending_papers(*, day: date, days: int = 1, limit: int | None = None) -> list[Paper]:
    """The trending order: featured, then pinned (by their order), then by upvotes."""
    papers = papers_listed(day=day, days=days).order_by(
        "-featured", "-pinned", "pin_order", "-upvotes", "-comments", "arxiv_id"
    )
    return list(papers[:limit] if limit else papers)


def paper_listed(*, day: date, arxiv_id: str) -> Paper | None:
    """The visible paper `arxiv_id` if it was listed on `day` (its page in the day's archive)."""
    return visible_papers().filter(listed_on=day, arxiv_id=arxiv_id).first()


def public_events(paper: Paper, *, limit: int = 20) -> list[PaperEvent]:
    """What happened to the paper since it was listed (code released, new version, trending),
    newest first, without the events editors hid."""
    return list(paper.events.filter(hidden=False).order_by("-seen_at", "-id")[:limit])


def arxiv_ids_known(arxiv_ids: Collection[str]) -> set[str]:
    """Which of these arXiv ids are papers we have (a `like:` topic must name one)."""
    return set(
        Paper.objects.filter(arxiv_id__in=list(arxiv_ids)).values_list("arxiv_id", flat=True)
    )


def listing_days(*, since: date) -> list[date]:
    """The days with a listing from `since` on, newest first."""
    days = Paper.objects.filter(listed_on__gte=since).values_list("listed_on", flat=True)
    return list(days.distinct().order_by("-listed_on"))
