"""Digest build benchmark: many subscribers against one day's papers, no sending.

Builds every subscriber's digest the way a send batch does (load a batch of subscribers with
their topics, look up what they were sent, select, rank, render subject, text and HTML) and
prints digests per second, peak RSS and queries per batch.
Target: 100,000 subscribers with 1 to 5 topics on a 1,000-paper day in under 60 s, under 1 GB,
queries per batch independent of the number of subscribers.
`--votes`: a fifth of the subscribers also have 1 to 30 votes ("More / Less like this") on the
day's papers, so their digests carry the Recommended section and a reordered topic section
(same target, issue 17).
Usage: python bench/digest_build.py [--subscribers 100000] [--papers 1000] [--batch 1000]
       [--processes 2] [--votes]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import time
from datetime import date

from support.django_env import ROOT, peak_rss_mb, setup

DAY = date(2026, 11, 24)
TOPICS = [
    "diffusion",
    "transformer",
    "self-supervised",
    '"reinforcement learning"',
    "survey",
    "medical image",
    "segmentation",
    "language model",
    "adversarial",
    "graph neural",
    "contrastive OR self-supervised",
    "vision transformer",
    "pruning",
    "quantization",
    "federated",
    "cat:cs.CV",
    "cat:cs.CL",
    "attention -survey",
    '"neural network"',
    "robustness",
    "benchmark",
    "optimization",
    "generative",
    "video",
    "speech",
    "reasoning",
    "retrieval",
    "legal",
    "chemistry",
    "weather forecasting",
]


def make_papers(count: int) -> None:
    from digest.papers.ingest import papers_upsert
    from digest.sources.records import PaperRecord

    items = json.loads((ROOT / "digest" / "data" / "daily_papers.json").read_text())
    rng = random.Random(7)
    records = []
    for n in range(count):
        base = items[n % len(items)]
        words = base["paper"]["summary"].split()
        rng.shuffle(words)
        records.append(
            PaperRecord(
                arxiv_id=f"2611.{n:05d}",
                title=f"{base['title']} ({n})",
                abstract=" ".join(words),
                authors=tuple(f"Author {n}-{k}" for k in range(rng.randint(1, 8))),
                categories=(rng.choice(["cs.LG", "cs.CV", "cs.CL", "cs.AI"]),),
                keywords=("transformer", "diffusion")[: rng.randint(0, 2)],
                upvotes=rng.randint(0, 200),
                comments=rng.randint(0, 10),
                listed_on=DAY,
                source="hf",
            )
        )
    papers_upsert(records=records, listed_on=DAY)


def make_subscribers(count: int) -> None:
    from subscriptions.models import Subscriber, Topic

    rng = random.Random(11)
    Subscriber.objects.bulk_create(
        (Subscriber(email=f"reader{n}@example.org", status="active") for n in range(count)),
        batch_size=5000,
    )
    ids = list(Subscriber.objects.values_list("pk", flat=True))
    Topic.objects.bulk_create(
        (
            Topic(subscriber_id=pk, query=query)
            for pk in ids
            for query in rng.sample(TOPICS, rng.randint(1, 5))
        ),
        batch_size=5000,
    )


def make_votes(share: float = 0.2) -> int:
    """A `share` of the subscribers vote on 1 to 30 of the day's papers, two likes in three."""
    from digest.models import Paper
    from subscriptions.models import Subscriber, Vote

    rng = random.Random(13)
    papers = list(Paper.objects.values_list("pk", flat=True))
    voters = [pk for pk in Subscriber.objects.values_list("pk", flat=True) if rng.random() < share]
    Vote.objects.bulk_create(
        (
            Vote(subscriber_id=voter, paper_id=paper, value=rng.choice(["like", "like", "dislike"]))
            for voter in voters
            for paper in rng.sample(papers, rng.randint(1, 30))
        ),
        batch_size=5000,
    )
    return len(voters)


def build_slice(ids: list[int], batch: int, updates: bool = True) -> dict[str, object]:
    """Build the digests of `ids` the way a send batch does; return counts and figures. With
    `updates` False, no reader gets the followed papers' updates (to measure what they add)."""
    from django.db import connection
    from django.db.models import Prefetch
    from django.test.utils import CaptureQueriesContext

    from digest.composing.build import DayBuilder
    from digest.composing.selection import sent_papers_by_subscriber, updates_by_subscriber
    from subscriptions.feedback.selectors import votes_by_subscriber
    from subscriptions.models import Subscriber, Topic

    builder = DayBuilder(DAY)
    built = empty = html_bytes = recommended = with_updates = 0
    batch_queries: list[int] = []
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with CaptureQueriesContext(connection) as queries:
            subscribers = list(
                Subscriber.objects.filter(pk__in=chunk).prefetch_related(
                    Prefetch("topics", queryset=Topic.objects.order_by("pk"))
                )
            )
            history = sent_papers_by_subscriber(subscriber_ids=chunk, day=DAY)
            votes = votes_by_subscriber(subscriber_ids=chunk)
            told = (
                updates_by_subscriber(subscriber_ids=chunk, context=builder.context)
                if updates
                else {}
            )
            for subscriber in subscribers:
                content = builder.select(
                    subscriber,
                    history=history.get(subscriber.pk, (set(), None)),
                    votes=votes.get(subscriber.pk, []),
                    updates=told.get(subscriber.pk, []),
                )
                recommended += bool(content.recommended)
                with_updates += bool(content.updates)
                if content.is_empty:
                    empty += 1
                    continue
                email = builder.render(content, delivery_id=subscriber.pk)
                html_bytes += len(email.html)
                built += 1
        batch_queries.append(len(queries.captured_queries))
    return {
        "built": built,
        "empty": empty,
        "with_updates": with_updates,
        "html": html_bytes,
        "recommended": recommended,
        "queries": batch_queries,
        "rss": peak_rss_mb(),
    }


def _child(ids: list[int], batch: int, results: multiprocessing.Queue) -> None:
    results.put(build_slice(ids, batch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="build in this many processes, as that many Celery worker processes would",
    )
    parser.add_argument(
        "--votes", action="store_true", help="a fifth of the subscribers vote on 1-30 papers"
    )
    args = parser.parse_args()
    setup()
    from django.db import connections

    from subscriptions.models import Subscriber, Topic

    started = time.perf_counter()
    make_papers(args.papers)
    make_subscribers(args.subscribers)
    voters = make_votes() if args.votes else 0
    print(
        f"setup: {args.papers} papers, {args.subscribers} subscribers, "
        f"{Topic.objects.count()} topics, {voters} voters "
        f"in {time.perf_counter() - started:.1f} s "
        f"({connections['default'].vendor})"
    )
    ids = list(Subscriber.objects.order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    if args.processes == 1:
        results = [build_slice(ids, args.batch)]
    else:
        connections.close_all()  # each process opens its own
        queue: multiprocessing.Queue = multiprocessing.Queue()
        size = -(-len(ids) // args.processes)
        children = [
            multiprocessing.Process(target=_child, args=(ids[n : n + size], args.batch, queue))
            for n in range(0, len(ids), size)
        ]
        for child in children:
            child.start()
        results = [queue.get() for _ in children]
        for child in children:
            child.join()
    elapsed = time.perf_counter() - started
    built = sum(int(r["built"]) for r in results)  # type: ignore[call-overload]
    empty = sum(int(r["empty"]) for r in results)  # type: ignore[call-overload]
    html = sum(int(r["html"]) for r in results)  # type: ignore[call-overload]
    recommended = sum(int(r["recommended"]) for r in results)  # type: ignore[call-overload]
    queries = [q for r in results for q in r["queries"]]  # type: ignore[attr-defined]
    print(
        f"built {built} digests ({empty} empty) in {elapsed:.1f} s with {args.processes} "
        f"process(es), day's index and shell included: {built / elapsed:,.0f} digests/s; "
        f"mean HTML {html / max(built, 1) / 1024:.1f} KB; {recommended} with a Recommended section"
    )
    print(f"queries per batch of {args.batch}: min {min(queries)}, max {max(queries)}")
    rss = max(float(r["rss"]) for r in results)  # type: ignore[arg-type]
    print(f"peak RSS per process: {max(rss, peak_rss_mb()):.0f} MB")


if __name__ == "__main__":
    main()
