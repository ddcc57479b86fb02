"""Digest build benchmark: many subscribers against one day's papers, no sending.

Builds every subscriber's digest the way a send batch does (load a batch of subscribers with
their topics, look up what they were sent, select, rank, render subject, text and HTML) and
prints digests per second, peak RSS and queries per batch.
Target: 100,000 subscribers with 1 to 5 topics on a 1,000-paper day in under 60 s, under 1 GB,
queries per batch independent of the number of subscribers.
`--votes`: a fifth of the subscribers also have 1 to 30 votes ("More / Less like this") on the
day's papers, so their digests carry the Recommended section and a reordered topic section
(same target, issue 17).
`--votes library`: besides, 5% of the subscribers hold a reference library of 500 papers
(issue 27), drawn from a pool of `--library-pool` older papers that are not in the window (libraries
overlap: the popular papers are in many); each library is summarised by `LIBRARY_POSITIVES_MAX`
representatives weighted by the share they stand for, as `library_summarise` leaves it after an
import (that k-means runs at import, not in the build: its time is printed apart, for one
2,000-paper library).
Usage: python bench/digest_build.py [--subscribers 100000] [--papers 1000] [--batch 1000]
       [--processes 2] [--votes [library]] [--library-pool 20000]
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


def make_libraries(
    *, share: float = 0.05, size: int = 500, pool: int = 20_000
) -> tuple[int, float]:
    """A `share` of the subscribers hold `size` library papers each out of a `pool` of older
    papers (not listed in the window); returns the readers and the time one 2,000-paper
    library's summary takes."""
    from subscriptions.library.summary import library_summarise, positives_max
    from subscriptions.models import LibraryPaper, Subscriber

    items = json.loads((ROOT / "digest" / "data" / "daily_papers.json").read_text())
    rng = random.Random(17)
    texts = []
    for n in range(pool):
        base = items[n % len(items)]
        words = base["paper"]["summary"].split()
        rng.shuffle(words)
        texts.append((f"2401.{n:05d}", f"{base['title']} [library {n}]", " ".join(words)))
    readers = [pk for pk in Subscriber.objects.values_list("pk", flat=True) if rng.random() < share]
    representatives = positives_max()
    weight = size / representatives

    def rows():
        for reader in readers:
            for k, n in enumerate(rng.sample(range(pool), size)):
                arxiv_id, title, abstract = texts[n]
                yield LibraryPaper(
                    subscriber_id=reader,
                    arxiv_id=arxiv_id,
                    title=title,
                    title_key=title.lower()[:255],
                    abstract=abstract,
                    authors=[f"Author {n}"],
                    weight=weight if k < representatives else 0.0,
                )

    chunk: list = []
    for row in rows():  # bulk_create would hold all 2.5 million objects at once
        chunk.append(row)
        if len(chunk) == 5000:
            LibraryPaper.objects.bulk_create(chunk)
            chunk = []
    LibraryPaper.objects.bulk_create(chunk)
    # One 2,000-paper library summarised, as after its import.
    reader = Subscriber.objects.create(email="library-2000@example.org", status="paused")
    LibraryPaper.objects.bulk_create(
        LibraryPaper(
            subscriber=reader, arxiv_id=texts[n][0], title=texts[n][1], abstract=texts[n][2]
        )
        for n in range(2000)
    )
    started = time.perf_counter()
    library_summarise(subscriber=reader)
    return len(readers), time.perf_counter() - started


def build_slice(ids: list[int], batch: int, updates: bool = True) -> dict[str, object]:
    """Build the digests of `ids` the way a send batch does; return counts and figures. With
    `updates` False, no reader gets the followed papers' updates (to measure what they add)."""
    from django.db import connection
    from django.db.models import Prefetch
    from django.test.utils import CaptureQueriesContext

    from digest.composing.build import DayBuilder
    from digest.composing.selection import sent_papers_by_subscriber, updates_by_subscriber
    from subscriptions.library.selectors import ReaderPositives, positives_by_subscriber
    from subscriptions.models import Subscriber, Topic

    cpu_started = time.process_time()
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
            positives = positives_by_subscriber(subscriber_ids=chunk)
            told = (
                updates_by_subscriber(subscriber_ids=chunk, context=builder.context)
                if updates
                else {}
            )
            for subscriber in subscribers:
                content = builder.select(
                    subscriber,
                    history=history.get(subscriber.pk, (set(), None)),
                    positives=positives.get(subscriber.pk, ReaderPositives()),
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
        "cpu": time.process_time() - cpu_started,
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
        "--votes",
        nargs="?",
        const="votes",
        choices=["votes", "library"],
        help="a fifth of the subscribers vote on 1-30 papers; `library`: and 5%% hold a "
        "500-paper library",
    )
    parser.add_argument("--library-pool", type=int, default=20_000)
    args = parser.parse_args()
    setup()
    from django.db import connections

    from subscriptions.models import Subscriber, Topic

    started = time.perf_counter()
    make_papers(args.papers)
    make_subscribers(args.subscribers)
    voters = make_votes() if args.votes else 0
    if args.votes == "library":
        libraries, summary_time = make_libraries(pool=args.library_pool)
        print(
            f"{libraries} readers with a 500-paper library (pool {args.library_pool}); "
            f"one 2,000-paper library summarised in {summary_time:.2f} s"
        )
    print(
        f"setup: {args.papers} papers, {args.subscribers} subscribers, "
        f"{Topic.objects.count()} topics, {voters} voters "
        f"in {time.perf_counter() - started:.1f} s "
        f"({connections['default'].vendor})"
    )
    ids = list(
        Subscriber.objects.filter(status="active").order_by("pk").values_list("pk", flat=True)
    )
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
    cpu = ", ".join(f"{float(r['cpu']):.1f}" for r in results)  # type: ignore[arg-type]
    print(f"CPU per process (the figure a busy machine does not inflate): {cpu} s")


if __name__ == "__main__":
    main()
