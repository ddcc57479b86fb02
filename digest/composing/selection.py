"""A subscriber's sections for a day: trending and topics, each paper with its reason.

Everything that is the same for every subscriber is computed once per day in `DayContext`: the
candidate papers, the trending order and one inverted index over the week's papers (identical
queries are evaluated once by the index). Per subscriber only the topic lookups, the ranking and
the "already sent" filter remain.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings

from digest.composing.content import DigestContent, Pick, Reason, Section, Update
from digest.models import Delivery, Paper, PaperEvent
from digest.papers.freshness import upstream_note
from digest.papers.selectors import papers_listed
from digest.recommend import WindowFeatures
from digest.topics import Match, PaperIndex, PaperText, QueryError, topic_label
from subscriptions.feedback.selectors import follows_running_of
from subscriptions.models import Subscriber, Topic

# The topic section reaches back to the subscriber's last digest, at most this far.
TOPIC_WINDOW_DAYS = 7
# Papers sent within this many days are never sent again.
SENT_MEMORY_DAYS = 30


# Events on followed papers are told if seen within this many days (a weekly reader's week).
UPDATES_WINDOW_DAYS = TOPIC_WINDOW_DAYS
# Deliveries that count as told: those that went out, or may have (never resent).
_TOLD = (Delivery.Status.SENT, Delivery.Status.SENDING, Delivery.Status.UNKNOWN)


class DayContext:
    """The day's shared work: papers of the last week, their index, and the trending orders."""

    def __init__(self, day: date) -> None:
        self.day = day
        week = list(papers_listed(day=day, days=TOPIC_WINDOW_DAYS))
        self.papers: dict[int, Paper] = {paper.pk: paper for paper in week}
        self.pk_by_arxiv_id = {paper.arxiv_id: paper.pk for paper in week}
        # Text features (fitted only if a reader needs them: votes or a `like:` topic).
        self.features = WindowFeatures(papers=week, day=day)
        self.index = PaperIndex.build((_paper_text(paper) for paper in week), similar=self.similar)
        self._trending: dict[int, list[Paper]] = {}
        self._updates: dict[int, list[Update]] | None = None
        # Many readers share a topic: each distinct query string is parsed and matched once.
        self._matches: dict[str, dict[int, Match]] = {}
        self._ranked: dict[tuple[str, date], list[tuple[float, int]]] = {}
        self._keysets: dict[tuple[str, date], set[int]] = {}
        self._overlaps: dict[tuple[str, str, date], set[int]] = {}
        self._scores: dict[str, dict[int, float]] = {}
        self._below: dict[int, set[int]] = {}
        self._reasons: dict[tuple[int, tuple[str, ...]], Reason] = {}
        self._labels: dict[str, str] = {}
        # The order among equal totals (more upvotes first, then the arXiv id), as one integer.
        # A source that served nothing new today, told in every daily reader's intro line.
        self.upstream_note = upstream_note(day=day)
        self.tiebreak = {
            paper.pk: n
            for n, paper in enumerate(sorted(week, key=lambda p: (-p.upvotes, p.arxiv_id)))
        }

    def similar(self, arxiv_id: str) -> dict[int, float]:
        """pk -> cosine of the window's papers like the paper `arxiv_id` (`like:` topics)."""
        by_arxiv_id = self.pk_by_arxiv_id
        return {
            by_arxiv_id[i]: c for i, c in self.features.like(arxiv_id).items() if i in by_arxiv_id
        }

    @property
    def updates(self) -> dict[int, list[Update]]:
        """paper id -> the visible events of the update window on papers not withdrawn, oldest
        first: one query per day, shared by every reader."""
        if self._updates is None:
            first = self.day - timedelta(days=UPDATES_WINDOW_DAYS - 1)
            rows = (
                PaperEvent.objects.filter(
                    seen_on__gte=first,
                    seen_on__lte=self.day,
                    hidden=False,
                    paper__withdrawn_at__isnull=True,
                )
                .select_related("paper")
                .order_by("seen_at", "id")
            )
            self._updates = {}
            for event in rows:
                update = Update(
                    event.pk, event.paper, event.kind, event.detail, event.seen_on, event.seen_at
                )
                self._updates.setdefault(event.paper_id, []).append(update)
        return self._updates

    def forget_updates(self) -> None:
        """Read the events again on next use (some were added or hidden since)."""
        self._updates = None

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

    def overlap(self, a: str, b: str, first_day: date) -> set[int]:
        """Papers listed from `first_day` that match both queries (shared by all readers)."""
        key = (a, b, first_day) if a <= b else (b, a, first_day)
        if key not in self._overlaps:
            self._overlaps[key] = self._keys(a, first_day) & self._keys(b, first_day)
        return self._overlaps[key]

    def _keys(self, query: str, first_day: date) -> set[int]:
        key = (query, first_day)
        if key not in self._keysets:
            self._keysets[key] = {pk for _, pk in self.ranked(query, first_day)}
        return self._keysets[key]

    def scores(self, query: str) -> dict[int, float]:
        """pk -> score of the papers matching `query` (shared: do not modify the result)."""
        found = self._scores.get(query)
        if found is None:
            found = self._scores[query] = {pk: m.score for pk, m in self.match(query).items()}
        return found

    def below(self, min_upvotes: int) -> set[int]:
        """Papers with fewer than `min_upvotes` upvotes (shared: do not modify the result)."""
        found = self._below.get(min_upvotes)
        if found is None:
            found = self._below[min_upvotes] = {
                pk for pk, paper in self.papers.items() if paper.upvotes < min_upvotes
            }
        return found

    def reason(self, pk: int, queries: tuple[str, ...]) -> Reason:
        """The reason for paper `pk` matching `queries` (one object per day for many readers,
        which lets the renderer cache by it)."""
        key = (pk, queries)
        found = self._reasons.get(key)
        if found is None:
            words = frozenset().union(*(self.match(query)[pk].words for query in queries))
            labels = tuple(self.label(query) for query in queries)
            found = self._reasons[key] = (
                Reason(queries, words, labels=labels) if queries else Reason()
            )
        return found

    def label(self, query: str) -> str:
        """The topic as the reader reads it: a `like:` names its paper's title."""
        found = self._labels.get(query)
        if found is None:
            found = self._labels[query] = topic_label(query, self._title_of)
        return found

    def _title_of(self, arxiv_id: str) -> str | None:
        pk = self.pk_by_arxiv_id.get(arxiv_id)
        if pk is not None:
            return self.papers[pk].title
        text = self.features.text(arxiv_id)  # an older paper, from the database
        return text.title if text is not None else None

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
        sent.update(
            item["arxiv_id"] for item in papers or [] if item.get("section") != Section.UPDATES
        )
        result[subscriber_id] = (sent, max(filter(None, [last, digest_date])))
    return result


def updates_by_subscriber(
    *, subscriber_ids: Iterable[int], context: DayContext
) -> dict[int, list[Update]]:
    """For each subscriber: the events on the papers they follow not yet told to them.

    Per batch, not per reader: one query for the batch's follows of papers with events (none
    when no followed paper changed), one for what the batch's earlier digests told. An event
    seen before the follow began is not news to that reader.
    """
    by_paper = context.updates
    if not by_paper:
        return {}
    start_of_day = datetime.combine(context.day, time.min, tzinfo=UTC)
    # The batch's follows by reader (the subscriber index): the papers with events are matched
    # here, since an IN list of them too led SQLite to scan every follower of those papers.
    follows = follows_running_of(subscriber_ids=subscriber_ids, at=start_of_day)
    candidates: dict[int, list[Update]] = {}
    for subscriber_id, paper_id, followed_at in follows:
        events = by_paper.get(paper_id)
        if events is None:
            continue
        fresh = [u for u in events if u.seen_at >= followed_at]
        if fresh:
            candidates.setdefault(subscriber_id, []).extend(fresh)
    if not candidates:
        return {}
    since = min(u.seen_on for updates in candidates.values() for u in updates)
    told: dict[int, set[int]] = {}
    rows = Delivery.objects.filter(
        subscriber_id__in=list(candidates),
        digest_date__gte=since,
        digest_date__lt=context.day,
        status__in=_TOLD,
    ).values_list("subscriber_id", "papers")
    for subscriber_id, papers in rows:
        told.setdefault(subscriber_id, set()).update(
            item["event_id"] for item in papers or [] if item.get("section") == Section.UPDATES
        )
    result: dict[int, list[Update]] = {}
    for subscriber_id, updates in candidates.items():
        done = told.get(subscriber_id, set())
        left = [u for u in updates if u.event_id not in done]
        if left:
            result[subscriber_id] = sorted(left, key=lambda u: (u.seen_at, u.event_id))
    return result


def topics_by_subscriber(*, subscriber_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each subscriber's topic queries, in the order they were added: one query for a batch
    (a prefetch built a model per topic, a third of a batch's read)."""
    result: dict[int, list[str]] = {}
    rows = Topic.objects.filter(subscriber_id__in=list(subscriber_ids)).order_by("id")
    for subscriber_id, query in rows.values_list("subscriber_id", "query"):
        result.setdefault(subscriber_id, []).append(query)
    return result


def digest_select(
    *,
    subscriber: Subscriber,
    topics: list[str],
    context: DayContext,
    already_sent: set[str] = frozenset(),  # type: ignore[assignment]
    last_digest_day: date | None = None,
    updates: list[Update] | None = None,
) -> DigestContent:
    """Pick the trending and topic papers for one subscriber, each paper once, capped.

    Per reader this costs a few cached lookups: the trending order and each topic's ranked
    matches are computed once per day (DayContext), and the topic section is merged from those
    lists with a threshold algorithm that stops as soon as the top `cap` is certain.
    """
    content = DigestContent(subscriber=subscriber, day=context.day, updates=list(updates or []))
    days = 7 if subscriber.cadence == Subscriber.Cadence.WEEKLY else 1
    if days == 1:
        content.upstream_note = context.upstream_note
    cap = subscriber.max_papers
    matches = [(query, context.match(query)) for query in topics]

    def reason(pk: int) -> Reason:
        return context.reason(pk, tuple(query for query, found in matches if pk in found))

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
    # Papers this reader must not get in the topic section, as one set for C-speed filtering.
    blocked = {pick.paper.pk for pick in content.trending}
    by_arxiv_id = context.pk_by_arxiv_id
    blocked.update(by_arxiv_id[a] for a in already_sent if a in by_arxiv_id)
    if subscriber.min_upvotes:
        blocked |= context.below(subscriber.min_upvotes)

    for pk in top_by_total(topics, first_day, cap - len(content.trending), blocked, context):
        content.topics.append(Pick(context.papers[pk], Section.TOPICS, reason(pk)))

    if content.is_empty:
        content.quiet_reason = quiet_reason(context=context, has_topics=bool(topics))
    return content


def top_by_total(
    queries: list[str],
    first_day: date,
    k: int,
    blocked: set[int],
    context: DayContext,
) -> list[int]:
    """The k papers not in `blocked` with the highest score summed over all topics (then
    upvotes, then arXiv id).

    Exact and cheap: a paper matching one topic has that topic's score as its total, so the best
    of those are among the first k unblocked entries of each topic's ranked list; the papers
    matching two or more topics (pairwise intersections, computed once per day) are all scored.
    Matching more topics adds up, so it ranks higher.
    """
    if k <= 0 or not queries:
        return []
    several: set[int] = set()
    for a, b in itertools.combinations(queries, 2):
        several |= context.overlap(a, b, first_day)
    several -= blocked
    totals = dict.fromkeys(several, 0.0)
    for query in queries:  # in order, so that equal sums round alike for every reader
        scores = context.scores(query)
        for pk in several.intersection(scores):
            totals[pk] += scores[pk]
    for query in queries:
        taken = 0
        for score, pk in context.ranked(query, first_day):
            if taken >= k:
                break
            if pk in totals or pk in blocked:
                continue
            totals[pk] = score
            taken += 1
    tiebreak = context.tiebreak
    return heapq.nsmallest(k, totals, key=lambda pk: (-totals[pk], tiebreak[pk]))


def quiet_reason(*, context: DayContext, has_topics: bool) -> str:
    """Say why a digest would be empty, for readers who asked for a quiet-day note."""
    if not any(p.listed_on == context.day for p in context.papers.values()):
        if context.day.weekday() >= 5:
            return "No papers are listed on weekends."
        return "No papers were listed today (an arXiv holiday, most likely)."
    if has_topics:
        return "Nothing new matched your topics since your last digest."
    return "Nothing new since your last digest."
