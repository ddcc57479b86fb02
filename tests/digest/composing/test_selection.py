"""Building a subscriber's sections: order, caps, no repeats, curation, quiet days, reasons."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from digest.composing.build import DayBuilder
from digest.composing.selection import DayContext, digest_select, topics_by_subscriber
from digest.models import Delivery
from subscriptions.models import Subscriber
from tests.support.factories import DeliveryFactory, PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 24)  # a Tuesday


def ids(picks) -> list[str]:
    return [pick.paper.arxiv_id for pick in picks]


def paper(n: int, *, day: date = DAY, **fields):
    fields.setdefault("title", f"Paper {n} about graphs")
    return PaperFactory(arxiv_id=f"2611.{n:05d}", listed_on=day, **fields)


def select(subscriber, topics=(), day=DAY, **kwargs):
    return digest_select(
        subscriber=subscriber, topics=list(topics), context=DayContext(day), **kwargs
    )


def test_trending_order_featured_then_pinned_then_upvotes_never_hidden(settings):
    settings.DIGEST_TRENDING_COUNT = 10
    paper(1, upvotes=50)
    paper(2, upvotes=90)
    paper(3, upvotes=1, pinned=True, pin_order=2)
    paper(4, upvotes=0, pinned=True, pin_order=1)
    paper(5, upvotes=3, featured=True)
    paper(6, upvotes=500, hidden=True)
    paper(7, upvotes=400, withdrawn_at=timezone.now())
    paper(8, upvotes=999, day=DAY - timedelta(days=1))  # yesterday's list
    content = select(SubscriberFactory())
    assert ids(content.trending) == [
        "2611.00005",
        "2611.00004",
        "2611.00003",
        "2611.00002",
        "2611.00001",
    ]
    assert content.topics == []


def test_cap_applies_and_each_paper_appears_once(settings):
    settings.DIGEST_TRENDING_COUNT = 5
    for n in range(1, 13):
        paper(n, upvotes=100 - n, title=f"Diffusion paper {n}")
    subscriber = SubscriberFactory(max_papers=6)
    content = select(subscriber, ["diffusion", "paper"])
    assert len(content.picks) == 6
    assert len(set(ids(content.picks))) == 6
    # With topics, trending takes half of the cap; a trending paper that also matches says so.
    assert len(content.trending) == 3
    assert content.trending[0].reason.topics == ("diffusion", "paper")
    assert {"Diffusion"} <= set(content.trending[0].reason.words)


def test_topic_papers_ranked_by_how_well_and_how_many_topics_match(settings):
    settings.DIGEST_TRENDING_COUNT = 1
    paper(1, upvotes=100, title="Unrelated trending work")
    paper(2, upvotes=1, title="Graph diffusion", abstract="diffusion on graphs")
    paper(3, upvotes=50, title="Something", abstract="a diffusion model")
    paper(4, upvotes=9, title="Diffusion for graphs", abstract="graphs and diffusion")
    content = select(SubscriberFactory(max_papers=10), ["diffusion", "graph"])
    assert ids(content.trending) == ["2611.00001"]
    # Two topics beat one; among equals, title hits beat abstract hits, then upvotes.
    assert ids(content.topics)[:2] in (["2611.00004", "2611.00002"], ["2611.00002", "2611.00004"])
    assert ids(content.topics)[-1] == "2611.00003"
    assert content.topics[0].reason.topics == ("diffusion", "graph")


def test_never_a_paper_already_sent():
    paper(1, upvotes=10)
    paper(2, upvotes=5)
    subscriber = SubscriberFactory()
    builder = DayBuilder(DAY)
    DeliveryFactory(
        subscriber=subscriber,
        digest_date=DAY - timedelta(days=1),
        status=Delivery.Status.SENT,
        papers=[{"arxiv_id": "2611.00001", "section": "trending", "reason": {}}],
    )
    assert ids(builder.select(subscriber).trending) == ["2611.00002"]


def test_topics_reach_back_to_the_last_digest(settings):
    settings.DIGEST_TRENDING_COUNT = 0  # keep today's paper out of the trending section
    paper(1, day=DAY - timedelta(days=2), title="Diffusion two days ago")
    paper(2, day=DAY - timedelta(days=1), title="Diffusion yesterday")
    paper(3, title="Diffusion today")
    subscriber = SubscriberFactory()
    fresh = select(subscriber, ["diffusion"])
    assert ids(fresh.topics) == ["2611.00003"]  # a first digest: today only
    since = select(subscriber, ["diffusion"], last_digest_day=DAY - timedelta(days=2))
    assert sorted(ids(since.topics)) == ["2611.00002", "2611.00003"]


def test_weekly_readers_get_the_best_of_the_week(settings):
    settings.DIGEST_TRENDING_COUNT = 3
    paper(1, day=DAY - timedelta(days=6), upvotes=300)
    paper(2, day=DAY - timedelta(days=3), upvotes=200)
    paper(3, upvotes=10)
    paper(4, day=DAY - timedelta(days=8), upvotes=999)  # older than a week
    weekly = SubscriberFactory(cadence=Subscriber.Cadence.WEEKLY)
    assert ids(select(weekly).trending) == ["2611.00001", "2611.00002", "2611.00003"]
    assert ids(select(SubscriberFactory()).trending) == ["2611.00003"]


def test_min_upvotes_filters_topic_papers():
    paper(1, upvotes=0, title="Diffusion without votes")
    paper(2, upvotes=12, title="Diffusion with votes")
    content = select(SubscriberFactory(min_upvotes=5, max_papers=10), ["diffusion"])
    assert "2611.00001" not in ids(content.topics)


def test_quiet_days_say_why():
    saturday = date(2026, 11, 28)
    paper(1, day=DAY)
    weekend = select(SubscriberFactory(), day=saturday)
    assert weekend.is_empty and weekend.quiet_reason == "No papers are listed on weekends."
    holiday = select(SubscriberFactory(), day=date(2026, 11, 26))
    assert "holiday" in holiday.quiet_reason
    subscriber = SubscriberFactory()
    DeliveryFactory(
        subscriber=subscriber,
        digest_date=DAY - timedelta(days=1),
        status=Delivery.Status.SENT,
        papers=[{"arxiv_id": "2611.00001", "section": "trending", "reason": {}}],
    )
    builder = DayBuilder(DAY)
    nothing = builder.select(subscriber)
    assert nothing.is_empty and nothing.quiet_reason == "Nothing new since your last digest."


def test_quiet_day_note_only_for_readers_who_asked(settings, file_outbox):
    from django.core.management import call_command

    paper(1)
    SubscriberFactory(email="quiet@example.org", quiet_day_note=True)
    SubscriberFactory(email="silent@example.org")
    call_command("send_digests", day="2026-11-28")  # a Saturday: nothing listed
    sent = sorted(p.name for p in file_outbox.glob("*.eml"))
    assert len(sent) == 1 and "quiet@example.org" in sent[0]
    assert "No papers are listed on weekends." in (file_outbox / sent[0]).read_text()
    statuses = dict(Delivery.objects.values_list("subscriber__email", "status"))
    assert statuses == {"quiet@example.org": "sent", "silent@example.org": "suppressed"}


def test_identical_queries_are_evaluated_once():
    for n in range(1, 4):
        paper(n, title=f"Diffusion {n}")
    context = DayContext(DAY)
    first = context.match("diffusion")
    assert context.match("diffusion") is first


def test_topic_ranking_equals_brute_force_over_all_matches():
    import random

    from digest.composing.selection import top_by_total

    rng = random.Random(3)
    vocabulary = ["diffusion", "graph", "transformer", "survey", "robot", "speech", "vision"]
    for n in range(1, 121):
        words = rng.sample(vocabulary, rng.randint(1, 4))
        paper(n, title=" ".join(words[:2]), abstract=" ".join(words), upvotes=rng.randint(0, 9))
    context = DayContext(DAY)
    for _ in range(40):
        queries = rng.sample(vocabulary, rng.randint(1, 4))
        k = rng.randint(1, 12)
        totals: dict[int, float] = {}
        for query in queries:
            for pk, match in context.match(query).items():
                totals[pk] = totals.get(pk, 0.0) + match.score
        papers = context.papers
        blocked = set(rng.sample(sorted(papers), rng.randint(0, 30)))
        expected = sorted(
            (pk for pk in totals if pk not in blocked),
            key=lambda pk: (-totals[pk], -papers[pk].upvotes, papers[pk].arxiv_id),
        )[:k]
        assert top_by_total(queries, DAY, k, blocked, context) == expected


def test_a_batch_reads_each_subscribers_topics_in_the_order_they_were_added():
    first = SubscriberFactory(topics=["video", "diffusion"])
    second = SubscriberFactory(topics=["cat:cs.CL"])
    first.topics.create(query="agents")
    none = SubscriberFactory(topics=[])
    assert topics_by_subscriber(subscriber_ids=[first.pk, second.pk, none.pk]) == {
        first.pk: ["video", "diffusion", "agents"],
        second.pk: ["cat:cs.CL"],
    }
