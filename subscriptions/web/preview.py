"""What a topic would have brought in: the live preview on the signup and manage forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from django.db.models import Count, Max

from digest.models import Paper
from digest.papers.selectors import arxiv_ids_known, latest_listing_day, papers_listed
from digest.recommend import WindowFeatures
from digest.topics import PaperIndex, PaperText, highlight, parse, topic_label
from digest.topics import validate as topic_error

PREVIEW_DAYS = 7
Segments = list[tuple[str, bool]]


@dataclass(frozen=True, slots=True)
class PreviewItem:
    paper: Paper
    title: Segments
    snippet: Segments
    words: tuple[str, ...]


@dataclass(slots=True)
class Preview:
    query: str
    label: str = ""  # the topic as the reader reads it: a like: names its paper
    error: str | None = None
    day: date | None = None
    days: int = PREVIEW_DAYS
    total: int = 0
    items: list[PreviewItem] = field(default_factory=list)
    hint: str = ""  # what to make of no match


def _empty_hint(query: str) -> str:
    """Why a valid topic may match nothing this week, by what it asks for."""
    fields = {term.field for term in parse(query).positive_terms}
    if fields == {"author"}:
        return (
            "No paper by this author in the last week. The topic stays and brings their next one."
        )
    if "cat" in fields:
        return (
            "No paper in this category in the last week. Categories come from arXiv's listings; "
            "check the name (e.g. cs.CL, stat.ML)."
        )
    if fields == {"like"}:
        return "No paper this week is close enough to that one. New ones will be, in time."
    return "Nothing matched this week. Try fewer words, or OR between alternatives."


@lru_cache(maxsize=4)
def _index(
    day: date, days: int, _version: tuple[object, ...]
) -> tuple[PaperIndex, dict[int, Paper]]:
    papers = {p.pk: p for p in papers_listed(day=day, days=days)}
    features = WindowFeatures(papers=list(papers.values()), day=day)
    by_arxiv_id = {p.arxiv_id: p.pk for p in papers.values()}

    def similar(arxiv_id: str) -> dict[int, float]:
        return {by_arxiv_id[i]: c for i, c in features.like(arxiv_id).items() if i in by_arxiv_id}

    index = PaperIndex.build(
        (
            PaperText(
                key=p.pk,
                title=p.title,
                abstract=p.abstract,
                authors=tuple(p.authors or ()),
                categories=tuple(p.categories or ()),
                keywords=tuple(p.keywords or ()),
            )
            for p in papers.values()
        ),
        similar=similar,
    )
    return index, papers


def _title_of(arxiv_id: str) -> str | None:
    return Paper.objects.filter(arxiv_id=arxiv_id).values_list("title", flat=True).first()


def _snippet(segments: Segments, *, width: int = 260, lead: int = 70) -> Segments:
    """A window of the abstract around its first match, cut on spaces, with ellipses."""
    text = "".join(s for s, _ in segments)
    if len(text) <= width:
        return segments
    offset, first = 0, 0
    for chunk, hit in segments:
        if hit:
            first = offset
            break
        offset += len(chunk)
    start = 0 if first <= lead else text.rfind(" ", 0, first - lead) + 1
    end = start + width
    if end < len(text):
        end = max(text.rfind(" ", start, end), first + 1)
    window: Segments = [("… ", False)] if start else []
    offset = 0
    for chunk, hit in segments:
        lo, hi = max(start, offset), min(end, offset + len(chunk))
        if lo < hi:
            window.append((chunk[lo - offset : hi - offset], hit))
        offset += len(chunk)
    if end < len(text):
        window.append((" …", False))
    return window


def topic_preview(*, query: str, days: int = PREVIEW_DAYS, limit: int = 8) -> Preview:
    """Papers of the last `days` listing days that `query` matches, best first, highlighted."""
    query = query.strip()
    preview = Preview(query=query, days=days)
    if not query:
        return preview
    preview.error = topic_error(query, known=arxiv_ids_known)
    day = latest_listing_day()
    if preview.error or day is None:
        return preview
    preview.day = day
    # The index is rebuilt only when the listing changes (a new day, a fetch, an edit).
    version = tuple(
        papers_listed(day=day, days=days)
        .aggregate(n=Count("pk"), last=Max("pk"), at=Max("updated_at"))
        .values()
    )
    index, papers = _index(day, days, version)
    preview.label = topic_label(query, _title_of)
    matches = index.match(query)
    ranked = sorted(
        matches.items(),
        key=lambda item: (-item[1].score, -papers[item[0]].upvotes, papers[item[0]].arxiv_id),
    )
    preview.total = len(ranked)
    if not ranked:
        preview.hint = _empty_hint(query)
    for key, match in ranked[:limit]:
        paper = papers[key]
        preview.items.append(
            PreviewItem(
                paper=paper,
                title=highlight(paper.title, match.words),
                snippet=_snippet(highlight(paper.abstract, match.words)),
                words=tuple(sorted({word.lower() for word in match.words})),
            )
        )
    return preview
