"""Send benchmark: plan, build and send a day's digests through the real pipeline to a local
SMTP sink, and compare with what the sink itself can take.

N subscribers (1 to 3 topics each) on the bundled day's listing are planned (deliveries_plan) and
sent in batches (deliveries_send: claim, re-check, build, one SMTP connection per batch, mark),
in-process on a throwaway SQLite database, to an aiosmtpd server running in its own process.
The sink's own capacity: pre-built messages of the same size over one connection, sent between
slices of 2,000 (with --processes N: N connections, before and after).
Prints messages per second end to end, the sink's capacity, their ratio (target >= 0.8), the
sending process's CPU per message (one process; steadier than the ratio on a shared machine),
peak RSS and queries per batch; and django-newsletter's rate on the same sink and message size
when a throwaway venv has it (bench/support/newsletter.py).
Usage: python bench/send.py [--subscribers 20000] [--batch 100]

With --provider-latency MS: through a provider's HTTP API instead (a local stand-in answering
after MS milliseconds), with the real worker on PostgreSQL (DATABASE_URL, an empty database):
see bench/support/api_send.py.
Usage: DATABASE_URL=postgres://.../empty python bench/send.py --provider-latency 100
       [--subscribers 20000] [--processes 2] [--in-flight N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import smtplib
import statistics
import sys
import time
from datetime import date
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from support.django_env import free_port, peak_rss_mb, sample_digest_message, setup
from support.newsletter import newsletter_rate

DAY = date(2026, 11, 24)
TOPICS = [
    "diffusion", "transformer", "self-supervised", '"reinforcement learning"', "survey",
    "segmentation", "language model", "vision transformer", "cat:cs.CV", "cat:cs.CL",
    "reasoning", "retrieval", "video", "benchmark", "generative",
]  # fmt: skip


def _sink(port: int, received: Synchronized, ready: multiprocessing.synchronize.Event) -> None:
    """The SMTP server, in its own process so it does not share the sender's GIL."""
    import logging

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            with received.get_lock():
                received.value += 1
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def make_subscribers(count: int) -> None:
    from django.utils import timezone

    from subscriptions.models import Subscriber, Topic

    rng = random.Random(11)
    now = timezone.now()
    subscribers = Subscriber.objects.bulk_create(
        (
            Subscriber(
                email=f"reader{n:06d}@example.org",
                status=Subscriber.Status.ACTIVE,
                requested_at=now,
                confirmed_at=now,
                consent_source="bench",
            )
            for n in range(count)
        ),
        batch_size=2000,
    )
    Topic.objects.bulk_create(
        (
            Topic(subscriber=s, query=q)
            for s in subscribers
            for q in rng.sample(TOPICS, rng.randint(1, 3))
        ),
        batch_size=5000,
    )
    from django.db import connection

    if connection.vendor == "postgresql":  # statistics as a live database's autovacuum keeps them
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {Subscriber._meta.db_table}, {Topic._meta.db_table}")


def _blast(port: int, message: bytes, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for n in range(count):
            smtp.sendmail("digest@localhost", [f"sink{n}@example.org"], message)


def sink_capacity(
    port: int, message: bytes, count: int, received: Synchronized, connections: int = 1
) -> float:
    """Pre-built messages of the digest's size, each connection reused: the ceiling."""
    start_count = received.value
    started = time.perf_counter()
    if connections == 1:
        _blast(port, message, count)
    else:
        blasters = [
            multiprocessing.Process(target=_blast, args=(port, message, count // connections))
            for _ in range(connections)
        ]
        for blaster in blasters:
            blaster.start()
        for blaster in blasters:
            blaster.join()
        count = count // connections * connections
    while received.value - start_count < count:
        time.sleep(0.001)
    return count / (time.perf_counter() - started)


class SinkProbe:
    """The sink's own rate, measured between slices of the pipeline: this machine's speed drifts
    within a run (by half at times), so each slice is compared with a ceiling measured
    seconds after it rather than minutes."""

    def __init__(self, port: int, raw: bytes, received: Synchronized, count: int = 500) -> None:
        self.port, self.raw, self.received, self.count = port, raw, received, count
        self.slices: list[tuple[float, float]] = []  # (pipeline's rate, sink's rate right after)
        self.paused = 0.0
        self.paused_cpu = 0.0  # this process's CPU spent blasting the sink, not sending
        self.mark, self.sent, self.start = time.perf_counter(), 0, received.value

    def __call__(self, sent: int) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        while self.received.value - self.start < sent:  # what the pipeline sent is all in
            time.sleep(0.001)
        pipeline = (sent - self.sent) / (time.perf_counter() - self.mark)
        sink = sink_capacity(self.port, self.raw, self.count, self.received)
        self.start += self.count
        self.slices.append((pipeline, sink))
        self.mark, self.sent = time.perf_counter(), sent
        self.paused += self.mark - now
        self.paused_cpu += time.process_time() - cpu


def send_chunks(
    chunks: list[list[int]], *, probe: SinkProbe | None = None, verbose: bool = False
) -> tuple[Any, list[int]]:
    """Send the batches in this process, probing the sink every 2,000 messages or so if asked;
    the queries of two steady-state batches."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from digest.delivery.batch import SendReport, deliveries_send

    report = SendReport()
    queries: list[int] = []
    every = max(1, 2000 // max(1, len(chunks[0]) if chunks else 1))
    for n, chunk in enumerate(chunks):
        if n in (1, 2):  # after the day's shared work is built: the steady state
            with CaptureQueriesContext(connection) as ctx:
                report.add(deliveries_send(delivery_ids=chunk))
            queries.append(len(ctx.captured_queries))
        else:
            report.add(deliveries_send(delivery_ids=chunk))
        if n % every == every - 1 or n == len(chunks) - 1:
            if probe is not None:
                probe(report.counts["sent"])
            if verbose:
                rates = ""
                if probe is not None and probe.slices:
                    pipeline, sink = probe.slices[-1]
                    rates = f"; {pipeline:.0f}/s, sink {sink:.0f}/s right after"
                print(f"  batch {n + 1}/{len(chunks)}: {report.summary()}{rates}", flush=True)
    return report, queries


def _send_worker(chunks: list[list[int]], results: multiprocessing.Queue) -> None:
    report, queries = send_chunks(chunks)
    results.put((dict(report.counts), queries))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument(
        "--batch", type=int, default=0, help="rows per batch (default: DIGEST_BATCH_SIZE's)"
    )
    parser.add_argument(
        "--newsletter-python",
        default="/tmp/newsletter-venv/bin/python",
        help="a throwaway venv's Python with django-newsletter (see bench/support/newsletter.py); "
        "its rate on the same sink and message size is measured in the same run",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="send from this many processes, as `celery worker --concurrency N` would "
        "(default 1; with --provider-latency 2, as the compose file runs the worker)",
    )
    parser.add_argument(
        "--provider-latency",
        type=int,
        default=None,
        metavar="MS",
        help="send through a local stand-in for a provider's HTTP API answering after MS ms, "
        "with the real worker on PostgreSQL (bench/support/api_send.py)",
    )
    parser.add_argument(
        "--in-flight", type=int, default=0, help="SEND_CONCURRENCY (default: the setting's)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=0, help="DIGEST_BATCH_SIZE (default: the setting's)"
    )
    args = parser.parse_args()
    if args.provider_latency is not None:
        from support.api_send import run

        args.processes = args.processes or 2
        return run(args)
    args.processes = args.processes or 1

    port = free_port()
    received: Synchronized = multiprocessing.Value("i", 0)
    ready = multiprocessing.Event()
    sink = multiprocessing.Process(target=_sink, args=(port, received, ready), daemon=True)
    sink.start()
    ready.wait(30)

    os.environ.update(
        EMAIL_BACKEND="digest.delivery.mail_backends.SMTPBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        SITE_URL="https://digest.example.org",
    )
    setup()
    from django.conf import settings
    from django.db import connections

    from digest.delivery.batch import SendReport, deliveries_plan
    from digest.papers.ingest import papers_upsert
    from digest.sources.snapshot import load_snapshot

    papers_upsert(records=load_snapshot(listed_on=DAY).records, listed_on=DAY)
    print(f"setting up {args.subscribers} subscribers ...", flush=True)
    make_subscribers(args.subscribers)

    # The ceiling: the same sink, a real digest's bytes, no building and no database.
    message = sample_digest_message(DAY)
    raw = message.message().as_bytes(linesep="\r\n")
    # django-newsletter's rate, half before and half after, for the same reason as SinkProbe.
    newsletters = [newsletter_rate(args.newsletter_python, port, 500, len(raw))]

    sink_capacity(port, raw, 1000, received, args.processes)  # warm the sink up, as a relay is
    probe = SinkProbe(port, raw, received)
    capacities: list[float] = []
    started = time.perf_counter()
    ids = deliveries_plan(day=DAY)
    args.batch = args.batch or settings.DIGEST_BATCH_SIZE
    chunks = [ids[start : start + args.batch] for start in range(0, len(ids), args.batch)]
    cpu_per_message: float | None = None
    if args.processes == 1:
        cpu = time.process_time()
        report, queries = send_chunks(chunks, probe=probe, verbose=True)
        elapsed = time.perf_counter() - started - probe.paused
        cpu = time.process_time() - cpu - probe.paused_cpu
        cpu_per_message = cpu / max(1, report.counts["sent"])
        capacities = [sink for _, sink in probe.slices]
    else:
        # As `celery worker --concurrency N` would: N processes, each with its own database
        # and SMTP connections, taking batches in turn. The sink is measured with as many
        # connections, before and after.
        blast = min(args.subscribers, 5000)
        capacities.append(sink_capacity(port, raw, blast, received, args.processes))
        received_before = received.value
        started = time.perf_counter()
        connections.close_all()
        results: multiprocessing.Queue = multiprocessing.Queue()
        workers = [
            multiprocessing.Process(
                target=_send_worker, args=(chunks[n :: args.processes], results)
            )
            for n in range(args.processes)
        ]
        for worker in workers:
            worker.start()
        report, queries = SendReport(), []
        for _ in workers:
            counts, worker_queries = results.get()
            report.counts.update(counts)
            queries.extend(worker_queries)
        for worker in workers:
            worker.join()
        while received.value - received_before < report.counts["sent"]:
            time.sleep(0.001)
        elapsed = time.perf_counter() - started
        capacities.append(sink_capacity(port, raw, blast, received, args.processes))
    sent = report.counts["sent"]
    pipeline_rate = sent / elapsed
    capacity = sum(capacities) / len(capacities)

    newsletters.append(newsletter_rate(args.newsletter_python, port, 500, len(raw)))
    sink.terminate()
    newsletter = None
    if newsletters[0] and newsletters[1]:
        newsletter = {
            "rate": (newsletters[0]["rate"] + newsletters[1]["rate"]) / 2,
            "message_bytes": newsletters[0]["message_bytes"],
        }

    ratio = pipeline_rate / capacity
    print(f"{report.summary()} in {elapsed:.1f}s")
    print(
        f"end to end : {pipeline_rate:8.0f} messages/s  (plan + claim + build + send + mark; "
        f"{args.processes} process(es))"
    )
    print(
        f"sink alone : {capacity:8.0f} messages/s  (pre-built {len(raw):,}-byte messages, "
        f"{args.processes} connection(s); from {min(capacities):.0f} to {max(capacities):.0f})"
    )
    slices = sorted(pipeline / sink for pipeline, sink in probe.slices)
    print(
        f"ratio      : {ratio:8.2f}  (target >= 0.8)"
        + (
            f"; slice by slice {slices[0]:.2f} to {slices[-1]:.2f}, "
            f"median {statistics.median(slices):.2f}"
            if slices
            else ""
        )
    )
    if newsletter:
        print(
            f"django-newsletter: {newsletter['rate']:8.0f} messages/s  "
            f"({newsletter['message_bytes']:,}-byte messages, a connection each); ours is "
            f"{pipeline_rate / newsletter['rate']:.1f} times that (target >= 3)"
        )
    else:
        print(
            f"django-newsletter: not measured (no {args.newsletter_python}; "
            "see bench/support/newsletter.py)"
        )
    if cpu_per_message is not None:
        print(f"sender CPU : {cpu_per_message * 1000:8.2f} ms per message (claim + build + send)")
    print(f"peak RSS   : {peak_rss_mb():8.0f} MB")
    print(f"queries per batch of {args.batch}: {queries}")
    return 0 if sent == args.subscribers else 1


if __name__ == "__main__":
    sys.exit(main())
