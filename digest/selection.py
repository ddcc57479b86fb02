"""A subscriber's sections for a day: trending and topics, each paper with its reason.

Everything that is the same for every subscriber is computed once per day in `DayContext`: the
candidate papers, the trending order and one inverted index over the week's papers (identical
queries are evaluated once by the index). Per subscriber only the topic lookups, the ranking and
the "already sent" filter remain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from django.conf import settings

from digest.models import Delivery, Paper
from digest.selectors import papers_listed
from digest.topics import Match, PaperIndex, PaperText, QueryError
from subscriptions.models import Subscriber

# The topic section reaches back to the subscriber's last digest, at most this far.
TOPIC_WINDOW_DAYS = 7
# Papers sent within this many days are never sent again.
SENT_MEMORY_DAYS = 30


class Section(StrEnum):
    TRENDING = "trending"
    TOPICS = "topics"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a paper is in a digest: the topics it matched and the words that matched them."""

    topics: tuple[str, ...] = ()
    words: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, list[str]]:
        return {"topics": list(self.topics), "words": sorted(self.words)}


@dataclass(frozen=True, slots=True)
class Pick:
    paper: Paper
    section: Section
    reason: Reason = Reason()


@dataclass(slots=True)
class DigestContent:
    subscriber: Subscriber
    day: date
    trending: list[Pick] = field(default_factory=list)
    topics: list[Pick] = field(default_factory=list)
    quiet_reason: str = ""

    @property
    def picks(self) -> list[Pick]:
        return [*self.trending, *self.topics]

    @property
    def is_empty(self) -> bool:
        return not self.trending and not self.topics

    def as_json(self) -> list[dict[str, object]]:
        return [
            {"arxiv_id": p.paper.arxiv_id, "section": p.section.value, "reason": p.reason.as_dict()}
            for p in self.picks
        ]


class DayContext:
    """The day's shared work: papers of the last week, their index, and the trending orders."""

    def __init__(self, day: date) -> None:
        self.day = day
        week = list(papers_listed(day=day, days=TOPIC_WINDOW_DAYS))
        self.papers: dict[int, Paper] = {paper.pk: paper for paper in week}
        self.index = PaperIndex.build(_paper_text(paper) for paper in week)
        self._trending: dict[int, list[Paper]] = {}
        # Many readers share a topic: each distinct query string is parsed and matched once.
        self._matches: dict[str, dict[int, Match]] = {}

    def trending(self, days: int) -> list[Paper]:
        """The trending order of the last `days` days (1 for daily, 7 for weekly readers)."""
        if days not in self._trending:
            first = self.day - timedelta(days=days - 1)
            candidates = [p for p in self.papers.values() if p.listed_on >= first]
            self._trending[days] = sorted(candidates, key=_trending_key)
        return self._trending[days]

    def match(self, query: str) -> dict[int, Match]:
        """Papers matching `query` (shared between readers: do not modify the result)."""
        found = self._matches.get(query)
        if found is None:
            try:
                found = self.index.match(query)
            except QueryError:
                # A stored topic that no longer parses matches nothing rather than failing a send.
                found = {}
            self._matches[query] = found
        return found


def _trending_key(paper: Paper) -> tuple[object, ...]:
    return (
        not paper.featured,
        not paper.pinned,
        paper.pin_order,
        -paper.upvotes,
        -paper.comments,
        paper.arxiv_id,
    )


def _paper_text(paper: Paper) -> PaperText:
    return PaperText(
        key=paper.pk,
        title=paper.title,
        abstract=paper.abstract,
        authors=tuple(paper.authors),
        categories=tuple(paper.categories),
        keywords=tuple(paper.keywords),
    )


def sent_papers_by_subscriber(
    *, subscriber_ids: Iterable[int], day: date
) -> dict[int, tuple[set[str], date | None]]:
    """For each subscriber: the arXiv ids already sent recently and the last digest day.

    One query for a whole batch of subscribers.
    """
    result: dict[int, tuple[set[str], date | None]] = {}
    rows = Delivery.objects.filter(
        subscriber_id__in=list(subscriber_ids),
        digest_date__gte=day - timedelta(days=SENT_MEMORY_DAYS),
        digest_date__lt=day,
        status__in=[Delivery.Status.SENT, Delivery.Status.SENDING, Delivery.Status.UNKNOWN],
    ).values_list("subscriber_id", "digest_date", "papers")
    for subscriber_id, digest_date, papers in rows:
        sent, last = result.get(subscriber_id, (set(), None))
        sent.update(item["arxiv_id"] for item in papers or [])
        result[subscriber_id] = (sent, max(filter(None, [last, digest_date])))
    return result


def digest_select(
    *,
    subscriber: Subscriber,
    topics: list[str],
    context: DayContext,
    already_sent: set[str] = frozenset(),  # type: ignore[assignment]
    last_digest_day: date | None = None,
) -> DigestContent:
    """Pick the trending and topic papers for one subscriber, each paper once, capped."""
    content = DigestContent(subscriber=subscriber, day=context.day)
    days = 7 if subscriber.cadence == Subscriber.Cadence.WEEKLY else 1
    cap = subscriber.max_papers
    fresh = [p for p in context.trending(days) if p.arxiv_id not in already_sent]

    reasons = _topic_reasons(topics, context)
    trending_quota = min(settings.DIGEST_TRENDING_COUNT, cap if not topics else max(1, cap // 2))
    for paper in fresh[:trending_quota]:
        content.trending.append(Pick(paper, Section.TRENDING, reasons.get(paper.pk, Reason())))

    # Topic papers: since the last digest (at most a week), not already shown, best first.
    taken = {pick.paper.pk for pick in content.trending}
    since = max(
        context.day - timedelta(days=max(days, TOPIC_WINDOW_DAYS) - 1),
        (last_digest_day + timedelta(days=1)) if last_digest_day else date.min,
    )
    if not last_digest_day:
        since = max(since, context.day - timedelta(days=days - 1))
    ranked = sorted(
        (
            (score, pk)
            for pk, (score, _reason) in _scored(reasons, topics, context).items()
            if pk not in taken
        ),
        key=lambda item: (
            -item[0],
            -context.papers[item[1]].upvotes,
            context.papers[item[1]].arxiv_id,
        ),
    )
    for _score, pk in ranked:
        if len(content.picks) >= cap:
            break
        paper = context.papers[pk]
        if paper.listed_on < since or paper.arxiv_id in already_sent:
            continue
        if paper.upvotes < subscriber.min_upvotes:
            continue
        content.topics.append(Pick(paper, Section.TOPICS, reasons[pk]))

    if content.is_empty:
        content.quiet_reason = quiet_reason(context=context, has_topics=bool(topics))
    return content


def _topic_reasons(topics: list[str], context: DayContext) -> dict[int, Reason]:
    """paper pk -> the topics it matched and the matched words, over all of a reader's topics."""
    found: dict[int, tuple[list[str], set[str]]] = {}
    for query in topics:
        for pk, match in context.match(query).items():
            names, words = found.setdefault(pk, ([], set()))
            names.append(query)
            words.update(match.words)
    return {pk: Reason(tuple(names), frozenset(words)) for pk, (names, words) in found.items()}


def _scored(
    reasons: dict[int, Reason], topics: list[str], context: DayContext
) -> dict[int, tuple[float, Reason]]:
    """How well a paper matches: the sum of its per-topic scores; more topics, higher score."""
    scores: dict[int, float] = {}
    for query in topics:
        for pk, match in context.match(query).items():
            scores[pk] = scores.get(pk, 0.0) + match.score
    return {pk: (scores[pk], reasons[pk]) for pk in scores}


def quiet_reason(*, context: DayContext, has_topics: bool) -> str:
    """Say why a digest would be empty, for readers who asked for a quiet-day note."""
    if not any(p.listed_on == context.day for p in context.papers.values()):
        if context.day.weekday() >= 5:
            return "No papers are listed on weekends."
        return "No papers were listed today (an arXiv holiday, most likely)."
    if has_topics:
        return "Nothing new matched your topics since your last digest."
    return "Nothing new since your last digest."
