"""bench/send.py --provider-latency MS: the send path through a provider's HTTP API, with the
real worker(s), on PostgreSQL.

A local stand-in for Postmark's `POST /email` (tests/support/provider_api.py, in its own process,
answering after MS milliseconds); anymail's Postmark backend pointed at it
(ANYMAIL_POSTMARK_API_URL); N subscribers on DATABASE_URL (an empty database of your own); a
redis-server of the benchmark's own on a free port; and the worker exactly as the compose file
runs it (`celery -A digest worker --concurrency 2`, shipped settings: SEND_CONCURRENCY and
DIGEST_BATCH_SIZE at their defaults unless given). The day is planned and its batches enqueued
here; the clock runs from the plan to the last row's mark (its `finished_at`).

The stand-in's own capacity: pre-built requests (a real digest's Postmark payload), from as many
processes with as many threads each as the workers have messages in flight, each thread on its
own keep-alive session, before and after the run. Prints messages/s, that capacity, their ratio
(target >= 0.8; and >= 278 messages/s, a million an hour), the workers' peak RSS and the
database connections they used; checks every address was accepted exactly once.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from support.django_env import ROOT, free_port, sample_digest_message

CELERY = str(Path(sys.executable).with_name("celery"))


def _blast_process(
    params: dict[str, Any], threads: int, count: int, ready: Any, go: Any, out: Any
) -> None:
    import requests

    answered = [0] * threads

    def run(n: int) -> None:
        with requests.Session() as session:
            for _ in range(count):
                session.request(**params).raise_for_status()
                answered[n] += 1

    ready.put(True)
    go.wait()
    workers = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.put(sum(answered))


def api_capacity(params: dict[str, Any], processes: int, threads: int, count: int) -> float:
    """Pre-built requests at `processes x threads` in flight: the stand-in's ceiling."""
    # Spawned, not forked: this process has threads (and their locks) by the second run.
    context = multiprocessing.get_context("spawn")
    ready, out, go = context.Queue(), context.Queue(), context.Event()
    per_thread = max(1, count // (processes * threads))
    blasters = [
        context.Process(target=_blast_process, args=(params, threads, per_thread, ready, go, out))
        for _ in range(processes)
    ]
    for blaster in blasters:
        blaster.start()
    for _ in blasters:
        ready.get(timeout=60)  # a spawned interpreter takes a moment to start: not timed
    started = time.perf_counter()
    go.set()
    total = sum(out.get(timeout=600) for _ in blasters)
    elapsed = time.perf_counter() - started
    for blaster in blasters:
        blaster.join()
    return total / elapsed


class _Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


def _tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return pids
    for child in children:
        pids.extend(_tree(int(child)))
    return pids


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _timeline(starts: list[tuple[float, str]]) -> str:
    """Requests the stand-in received in each second of the run: where the rate dips."""
    if not starts:
        return "-"
    first = starts[0][0]
    counts = [0] * (int(starts[-1][0] - first) + 1)
    for at, _ in starts:
        counts[int(at - first)] += 1
    return " ".join(str(n) for n in counts) + " (requests a second)"


def run(args: Any) -> int:
    from support.django_env import setup

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        print("--provider-latency runs on PostgreSQL: set DATABASE_URL to an empty database")
        return 2
    latency = args.provider_latency / 1000
    sys.path.insert(0, str(ROOT))
    from tests.support.provider_api import TOKEN, ProviderAPI

    api = ProviderAPI(free_port(), latency=latency)
    broker = _Redis()
    os.environ.update(
        CELERY_BROKER_URL=broker.url,
        REDIS_URL=broker.url,
        EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL_POSTMARK_SERVER_TOKEN=TOKEN,
        ANYMAIL_POSTMARK_API_URL=api.url,
        SITE_URL="https://digest.example.org",
    )
    if args.in_flight:
        os.environ["SEND_CONCURRENCY"] = str(args.in_flight)
    if args.batch_size:
        os.environ["DIGEST_BATCH_SIZE"] = str(args.batch_size)
    setup()
    from django.conf import settings
    from django.core.mail import get_connection
    from django.db import connection
    from django.db.models import Count, Max
    from send import DAY, make_subscribers

    from digest.delivery.batch import deliveries_plan
    from digest.models import Delivery
    from digest.papers.ingest import papers_upsert
    from digest.sources.snapshot import load_snapshot
    from digest.tasks import enqueue_batches
    from subscriptions.models import Subscriber

    if Subscriber.objects.exists():
        print("DATABASE_URL's database already has subscribers: give the benchmark an empty one")
        return 2
    in_flight = settings.SEND_CONCURRENCY
    processes = args.processes
    papers_upsert(records=load_snapshot(listed_on=DAY).records, listed_on=DAY)
    print(f"setting up {args.subscribers} subscribers ...", flush=True)
    make_subscribers(args.subscribers)

    # A real digest's request, as anymail's Postmark backend sends it.
    message = sample_digest_message(DAY)
    backend = get_connection()
    payload = backend.build_message_payload(message, backend.send_defaults)  # type: ignore[attr-defined]
    params = payload.get_request_params(backend.api_url)  # type: ignore[attr-defined]
    params.setdefault("timeout", 30)
    blast = min(args.subscribers, 4000)
    capacities = [api_capacity(params, processes, in_flight, blast)]

    log = Path(tempfile.mkdtemp(prefix="digest-bench-worker-")) / "worker.log"
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    with log.open("wb") as out:
        # As docker/compose.yaml runs it.
        worker = subprocess.Popen(
            [CELERY, "-A", "digest", "worker", "--concurrency", str(processes)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    from celery import Celery

    client = Celery("bench", broker=broker.url)
    for _ in range(600):
        if client.control.ping(timeout=0.5):
            break
        if worker.poll() is not None:
            print(log.read_text()[-3000:])
            return 1
    api.reset()

    connection.close()
    connections_used = 0
    done = threading.Event()

    def sample_connections() -> None:
        nonlocal connections_used
        import psycopg

        db = settings.DATABASES["default"]
        with psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=int(db["PORT"] or 5432),
            user=db["USER"] or "postgres",
            password=db["PASSWORD"] or None,
            dbname=db["NAME"],
            autocommit=True,
        ) as conn:
            while not done.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchone()
                connections_used = max(connections_used, int(row[0]) - 1 if row else 0)
                done.wait(0.25)

    sampler = threading.Thread(target=sample_connections)
    sampler.start()
    from django.utils import timezone

    started_at = timezone.now()
    started = time.perf_counter()
    ids = deliveries_plan(day=DAY)
    batches = enqueue_batches(ids)  # autocommit: published at once
    planned = time.perf_counter() - started
    waiting = Delivery.objects.filter(status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING])
    last_report = time.perf_counter()
    while waiting.exists():
        time.sleep(0.2)
        if time.perf_counter() - last_report > 10:
            last_report = time.perf_counter()
            sent = Delivery.objects.filter(status=Delivery.Status.SENT).count()
            print(f"  {sent} sent after {last_report - started:.0f}s", flush=True)
    finished = Delivery.objects.aggregate(last=Max("finished_at"))["last"]
    elapsed = (finished - started_at).total_seconds()
    done.set()
    sampler.join()
    rss = {pid: _peak_rss_mb(pid) for pid in _tree(worker.pid)}
    cpu = sum(_cpu_seconds(pid) for pid in _tree(worker.pid))
    stats = api.stats()
    capacities.append(api_capacity(params, processes, in_flight, blast))
    os.killpg(worker.pid, 15)
    worker.wait(30)
    api.stop()
    broker.stop()

    statuses = dict(
        Delivery.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    accepted = stats["accepted"]
    emails = set(Subscriber.objects.values_list("email", flat=True))
    once = len(accepted) == len(set(accepted)) == len(emails) and set(accepted) == emails
    sent = statuses.get(Delivery.Status.SENT, 0)
    rate = sent / elapsed
    capacity = sum(capacities) / len(capacities)
    print(f"{statuses} in {elapsed:.1f}s ({batches} batches, planned in {planned:.1f}s)")
    print(
        f"end to end : {rate:8.0f} messages/s  (plan + claim + build + send + mark; "
        f"{processes} worker processes x SEND_CONCURRENCY={in_flight}, "
        f"DIGEST_BATCH_SIZE={settings.DIGEST_BATCH_SIZE}; provider answering in "
        f"{args.provider_latency} ms)"
    )
    print(
        f"stand-in   : {capacity:8.0f} messages/s  (pre-built {len(params['data']):,}-byte "
        f"requests, {processes} x {in_flight} in flight; before {capacities[0]:.0f}, "
        f"after {capacities[1]:.0f})"
    )
    print(f"ratio      : {rate / capacity:8.2f}  (target >= 0.8; and >= 278 messages/s)")
    print(f"per hour   : {rate * 3600:8,.0f} digests")
    print(f"in flight  : {stats['most_in_flight']:8d} at most, seen by the stand-in")
    print(
        "peak RSS   : "
        + ", ".join(f"{mb:.0f} MB" for mb in rss.values())
        + " (worker main process, then its pool processes)"
    )
    print(f"database connections used by the worker: {connections_used}")
    print(
        f"worker CPU : {cpu * 1000 / max(sent, 1):8.2f} ms per message (all its processes and "
        "threads, start-up included)"
    )
    print(f"timeline   : {_timeline(stats['starts'])}")
    print(f"every address accepted exactly once: {once}")
    return 0 if once and sent == args.subscribers else 1
