"""Digest build benchmark: many subscribers against one day's papers, no sending.

Builds every subscriber's digest the way a send batch does (load a batch of subscribers with
their topics, look up what they were sent, select, rank, render subject, text and HTML) and
prints digests per second, peak RSS and queries per batch.
Target: 100,000 subscribers with 1 to 5 topics on a 1,000-paper day in under 60 s, under 1 GB,
queries per batch independent of the number of subscribers.
Usage: python bench/digest_build.py [--subscribers 100000] [--papers 1000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import date
from pathlib import Path

from _django import ROOT, peak_rss_mb, setup

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
    from digest.ingest import papers_upsert
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    setup()
    from django.db import connection
    from django.db.models import Prefetch
    from django.test.utils import CaptureQueriesContext

    from digest.build import DayBuilder
    from digest.selection import sent_papers_by_subscriber
    from subscriptions.models import Subscriber, Topic

    started = time.perf_counter()
    make_papers(args.papers)
    make_subscribers(args.subscribers)
    print(
        f"setup: {args.papers} papers, {args.subscribers} subscribers, "
        f"{Topic.objects.count()} topics in {time.perf_counter() - started:.1f} s "
        f"({connection.vendor})"
    )

    started = time.perf_counter()
    builder = DayBuilder(DAY)
    print(f"day: index and shell built in {time.perf_counter() - started:.2f} s")
    ids = list(Subscriber.objects.order_by("pk").values_list("pk", flat=True))
    built = empty = html_bytes = 0
    batch_queries: list[int] = []
    started = time.perf_counter()
    for start in range(0, len(ids), args.batch):
        chunk = ids[start : start + args.batch]
        with CaptureQueriesContext(connection) as queries:
            subscribers = list(
                Subscriber.objects.filter(pk__in=chunk).prefetch_related(
                    Prefetch("topics", queryset=Topic.objects.order_by("pk"))
                )
            )
            history = sent_papers_by_subscriber(subscriber_ids=chunk, day=DAY)
            for subscriber in subscribers:
                content = builder.select(
                    subscriber, history=history.get(subscriber.pk, (set(), None))
                )
                if content.is_empty:
                    empty += 1
                    continue
                email = builder.render(content, delivery_id=subscriber.pk)
                html_bytes += len(email.html)
                built += 1
        batch_queries.append(len(queries.captured_queries))
    elapsed = time.perf_counter() - started
    print(
        f"built {built} digests ({empty} empty) in {elapsed:.1f} s: "
        f"{built / elapsed:,.0f} digests/s; mean HTML {html_bytes / max(built, 1) / 1024:.1f} KB"
    )
    print(f"queries per batch of {args.batch}: min {min(batch_queries)}, max {max(batch_queries)}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    Path(ROOT / "var").mkdir(exist_ok=True)


if __name__ == "__main__":
    main()
