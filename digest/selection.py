"""A subscriber's sections for a day: trending and topics, each paper with its reason.

Everything that is the same for every subscriber is computed once per day in `DayContext`: the
candidate papers, the trending order and one inverted index over the week's papers (identical
queries are evaluated once by the index). Per subscriber only the topic lookups, the ranking and
the "already sent" filter remain.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
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
        self._ranked: dict[tuple[str, date], list[tuple[float, int]]] = {}

    def trending(self, days: int) -> list[Paper]:
        """The trending order of the last `days` days (1 for daily, 7 for weekly readers)."""
        if days not in self._trending:
            first = self.day - timedelta(days=days - 1)
            candidates = [p for p in self.papers.values() if p.listed_on >= first]
            self._trending[days] = sorted(candidates, key=_trending_key)
        return self._trending[days]

    def ranked(self, query: str, first_day: date) -> list[tuple[float, int]]:
        """(score, pk) of the papers listed from `first_day` that match `query`, best first
        (ties by upvotes): computed once per query and window for all readers."""
        key = (query, first_day)
        if key not in self._ranked:
            papers = self.papers
            self._ranked[key] = sorted(
                (
                    (match.score, pk)
                    for pk, match in self.match(query).items()
                    if papers[pk].listed_on >= first_day
                ),
                key=lambda item: (-item[0], -papers[item[1]].upvotes, papers[item[1]].arxiv_id),
            )
        return self._ranked[key]

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
    """Pick the trending and topic papers for one subscriber, each paper once, capped.

    Per reader this costs a few cached lookups: the trending order and each topic's ranked
    matches are computed once per day (DayContext), and the topic section is merged from those
    lists with a threshold algorithm that stops as soon as the top `cap` is certain.
    """
    content = DigestContent(subscriber=subscriber, day=context.day)
    days = 7 if subscriber.cadence == Subscriber.Cadence.WEEKLY else 1
    cap = subscriber.max_papers
    matches = [(query, context.match(query)) for query in topics]

    def reason(pk: int) -> Reason:
        found = [(query, found[pk]) for query, found in matches if pk in found]
        if not found:
            return Reason()
        return Reason(tuple(q for q, _ in found), frozenset().union(*(m.words for _, m in found)))

    quota = min(settings.DIGEST_TRENDING_COUNT, cap if not topics else max(1, cap // 2))
    for paper in context.trending(days):
        if len(content.trending) >= quota:
            break
        if paper.arxiv_id not in already_sent:
            content.trending.append(Pick(paper, Section.TRENDING, reason(paper.pk)))

    # Topic papers: listed since the last digest (at most a week back), best matches first.
    first_day = context.day - timedelta(days=days - 1)
    if last_digest_day:
        window_start = context.day - timedelta(days=max(days, TOPIC_WINDOW_DAYS) - 1)
        first_day = max(window_start, last_digest_day + timedelta(days=1))
    taken = {pick.paper.pk for pick in content.trending}

    def eligible(pk: int) -> bool:
        paper = context.papers[pk]
        return (
            pk not in taken
            and paper.arxiv_id not in already_sent
            and paper.upvotes >= subscriber.min_upvotes
        )

    ranked_lists = [context.ranked(query, first_day) for query in topics]
    for pk in top_by_total(
        ranked_lists, [m for _, m in matches], cap - len(taken), eligible, context
    ):
        content.topics.append(Pick(context.papers[pk], Section.TOPICS, reason(pk)))

    if content.is_empty:
        content.quiet_reason = quiet_reason(context=context, has_topics=bool(topics))
    return content


def top_by_total(
    ranked_lists: list[list[tuple[float, int]]],
    scores: list[dict[int, Match]],
    k: int,
    eligible: Callable[[int], bool],
    context: DayContext,
) -> list[int]:
    """The k eligible papers with the highest summed score over all topics (then upvotes).

    Fagin's threshold algorithm: walk every topic's list (best first) in step; no paper not
    yet seen can total more than the sum of the scores at the current depth, so the walk stops
    once k seen papers reach that. A paper matching several topics adds their scores, so
    matching more topics ranks higher.
    """
    if k <= 0 or not ranked_lists:
        return []
    seen: set[int] = set()
    totals: list[tuple[float, int]] = []
    best_k: list[float] = []  # min-heap of the k best totals so far
    depth = 0
    while True:
        threshold = 0.0
        advanced = False
        for ranked in ranked_lists:
            if depth >= len(ranked):
                continue
            advanced = True
            score, pk = ranked[depth]
            threshold += score
            if pk not in seen:
                seen.add(pk)
                if eligible(pk):
                    total = sum(s[pk].score for s in scores if pk in s)
                    totals.append((total, pk))
                    if len(best_k) < k:
                        heapq.heappush(best_k, total)
                    elif total > best_k[0]:
                        heapq.heapreplace(best_k, total)
        if not advanced:
            break
        # `>=`: an unseen paper could at best tie; ties are common (equal scores), and walking
        # through all of them would cost more than an exact upvotes tie-break is worth.
        if len(best_k) == k and best_k[0] >= threshold:
            break
        depth += 1
    totals.sort(key=lambda t: (-t[0], -context.papers[t[1]].upvotes, context.papers[t[1]].arxiv_id))
    return [pk for _, pk in totals[:k]]


def quiet_reason(*, context: DayContext, has_topics: bool) -> str:
    """Say why a digest would be empty, for readers who asked for a quiet-day note."""
    if not any(p.listed_on == context.day for p in context.papers.values()):
        if context.day.weekday() >= 5:
            return "No papers are listed on weekends."
        return "No papers were listed today (an arXiv holiday, most likely)."
    if has_topics:
        return "Nothing new matched your topics since your last digest."
    return "Nothing new since your last digest."
