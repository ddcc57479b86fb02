"""Web benchmark: the home page, the signup POST, /metrics and the Atom feeds under gunicorn (2
sync workers), over HTTP.

Sets up a throwaway SQLite database in a temporary VAR_DIR (migrate, collectstatic, the bundled
listing through `fetch_papers --source snapshot`), starts
`gunicorn digest.wsgi -w 2` on a free 127.0.0.1 port with production settings (DEBUG=0, a test
SECRET_KEY, no SSL redirect, signup rate limits raised out of the way, the dummy email backend),
then drives it from this machine with `--concurrency` threads for `--seconds` per endpoint,
each request on a new connection (gunicorn's sync workers close every connection anyway):

- GET `/`;
- the signup POST (measured) with a unique address and the CSRF cookie and token of a GET of
  /subscribe/ (not measured) by the same client; it must redirect to check-your-inbox. Each
  thread is one client that GETs the form once and then posts it again and again (only POSTs
  load the server), or with `--fresh-form` GETs it before every POST, like one new reader per
  signup (the GETs, not measured, share the workers with the POSTs and lengthen their waits).

- GET `/metrics` with its bearer token, one scrape at a time as Prometheus scrapes, after
  `bench/support/metrics_seed.py` has added `--metrics-readers` readers (100,000) and a day's
  delivery row for each; it prints the queries one scrape makes.

- the private Atom feeds: `--feed-readers` readers (1,000), each with a digest of 10 papers a
  day for 30 days (300 entries), seeded before gunicorn starts; every reader's feed is requested
  once (full feed, 200), then once more with the ETag it got (If-None-Match: 304), by the same
  threads. The queries per feed request are counted in-process (Django's test client) for a
  reader with 1 digest and one with 30, full and conditional.

Prints requests/s and latency p50/p95/p99 per endpoint, the CPU time of the gunicorn workers,
this load generator and everything else on the machine, and the targets: `/` above 300
requests/s, signup p99 under 100 ms, /metrics p99 under 100 ms, full feed p99 under 150 ms, 304
p99 under 50 ms. gunicorn is stopped with SIGTERM
at the end, even on error. `--database-url` runs it all on an empty PostgreSQL database of your
own instead of the throwaway SQLite file.
Usage: python bench/web.py [--seconds 10] [--concurrency 4] [--workers 2] [--fresh-form]
       [--metrics-readers 100000] [--database-url postgres://.../empty]
       [--feed-readers 1000] [--feeds-only]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType
from urllib.parse import urlencode

from support.django_env import ROOT, free_port
from support.gunicorn import (
    Gunicorn,
    machine_busy,
    manage,
    process_cpu,
    request,
    server_environment,
)

HOME_TARGET_RPS = 300.0
SIGNUP_TARGET_P99_MS = 100.0
METRICS_TARGET_P99_MS = 100.0
METRICS_TOKEN = "bench-metrics-token"
FEED_TARGET_P99_MS = 150.0
NOT_MODIFIED_TARGET_P99_MS = 50.0
TOKEN_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CHECK_INBOX = "/subscribe/check-your-inbox/"
MAX_ERRORS = 100  # a run stops early past this many failed requests
SIGNUPS = itertools.count(1)  # unique addresses across the warm-up and the measured run


# --- the load generator -------------------------------------------------------------------------
def csrf_cookie(headers: http.client.HTTPMessage) -> str | None:
    """The csrftoken cookie's value. It is Secure (DEBUG=0) and this hop is plain HTTP, so it is
    read and sent back by hand, as a TLS proxy in front of gunicorn would let a browser do."""
    for header in headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        if name.strip() == "csrftoken":
            return rest.split(";", 1)[0]
    return None


class Failure(Exception):
    pass


Action = Callable[[int, int, int, dict[str, str]], float]


def get_home(port: int, thread: int, n: int, client: dict[str, str]) -> float:
    started = time.perf_counter()
    status, _, body = request(port, "GET", "/")
    elapsed = time.perf_counter() - started
    if status != 200 or b'class="papers"' not in body:
        raise Failure(f"GET / -> {status}: {body[:200]!r}")
    return elapsed


def get_metrics(port: int, thread: int, n: int, client: dict[str, str]) -> float:
    started = time.perf_counter()
    status, _, body = request(
        port, "GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    elapsed = time.perf_counter() - started
    if status != 200 or b"digest_deliveries" not in body:
        raise Failure(f"GET /metrics -> {status}: {body[:200]!r}")
    return elapsed


def open_form(port: int, client: dict[str, str]) -> None:
    """GET /subscribe/ as this client: keep its CSRF cookie and the form's token."""
    status, headers, body = request(port, "GET", "/subscribe/")
    cookie = csrf_cookie(headers)
    match = TOKEN_RE.search(body.decode())
    if status != 200 or not cookie or not match:
        raise Failure(f"GET /subscribe/ -> {status}, csrftoken cookie {bool(cookie)}")
    client.update(cookie=cookie, token=match[1])


def signup(port: int, thread: int, n: int, client: dict[str, str], *, fresh: bool) -> float:
    """POST the signup form (timed) after this client's GET of it (not timed)."""
    if fresh or "token" not in client:
        open_form(port, client)
    form = {
        "csrfmiddlewaretoken": client["token"],
        "email": f"reader-{next(SIGNUPS)}@example.org",
        "topics": 'diffusion\n"reinforcement learning" -survey\ncat:cs.CL',
        "cadence": "daily",
        "weekday": "0",
        "delivery_hour": "7",
        "timezone": "Europe/Paris",
        "max_papers": "10",
        "website": "",  # the honeypot stays empty
    }
    origin = f"http://127.0.0.1:{port}"
    post_headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"csrftoken={client['cookie']}",
        "Origin": origin,
        "Referer": f"{origin}/subscribe/",
    }
    started = time.perf_counter()
    status, headers, body = request(
        port, "POST", "/subscribe/", urlencode(form).encode(), post_headers
    )
    elapsed = time.perf_counter() - started
    if status != 302 or not (headers.get("Location") or "").endswith(CHECK_INBOX):
        raise Failure(f"POST /subscribe/ -> {status} {headers.get('Location')}: {body[:300]!r}")
    return elapsed


def get_feed(port: int, path: str, etags: dict[str, str]) -> float:
    """A feed reader's first poll: the whole feed; its ETag is kept for the next poll."""
    started = time.perf_counter()
    status, headers, body = request(port, "GET", path)
    elapsed = time.perf_counter() - started
    if status != 200 or b"<entry>" not in body or not headers.get("ETag"):
        raise Failure(f"GET {path[:16]}... -> {status}: {body[:200]!r}")
    etags[path] = headers["ETag"]
    return elapsed


def get_feed_again(port: int, path: str, etags: dict[str, str]) -> float:
    """The next poll, with If-None-Match: nothing new, 304 Not Modified."""
    started = time.perf_counter()
    status, _, body = request(port, "GET", path, headers={"If-None-Match": etags[path]})
    elapsed = time.perf_counter() - started
    if status != 304 or body:
        raise Failure(f"conditional GET {path[:16]}... -> {status}")
    return elapsed


def feed_script(env: dict[str, str], *args: str) -> str:
    """bench/support/feed_readers.py in the server's environment (its database)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "support" / "feed_readers.py"), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"feed_readers.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def each_once(
    action: Callable[[int, str, dict[str, str]], float],
    port: int,
    paths: list[str],
    etags: dict[str, str],
    concurrency: int,
    worker_pids: list[int],
) -> Result:
    """`concurrency` threads sharing the list: every path requested once."""
    result = Result()
    lock = threading.Lock()
    queue = iter(paths)

    def run() -> None:
        while True:
            with lock:
                path = next(queue, None)
            if path is None:
                return
            try:
                latency = action(port, path, etags)
            except (Failure, OSError, http.client.HTTPException) as error:
                with lock:
                    result.errors.append(f"{type(error).__name__}: {error}")
                continue
            with lock:
                result.latencies.append(latency)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(concurrency)]
    server_before, client_before = process_cpu(worker_pids), time.process_time()
    machine_before = machine_busy()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - started
    result.server_cpu = process_cpu(worker_pids) - server_before
    result.client_cpu = time.process_time() - client_before
    machine_after = machine_busy()
    if machine_before is not None and machine_after is not None:
        result.machine_cpu = machine_after - machine_before
    return result


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    machine_cpu: float | None = None

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1000


def load(
    action: Action,
    port: int,
    concurrency: int,
    seconds: float,
    worker_pids: list[int],
) -> Result:
    """`concurrency` threads, each repeating `action` back to back until the time is up."""
    result = Result()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def run(thread: int) -> None:
        n = 0
        client: dict[str, str] = {}  # this thread's cookies and form token
        while time.perf_counter() < deadline:
            n += 1
            try:
                latency = action(port, thread, n, client)
            except (Failure, OSError, http.client.HTTPException) as error:
                with lock:
                    result.errors.append(f"{type(error).__name__}: {error}")
                    if len(result.errors) >= MAX_ERRORS:
                        return
                continue
            with lock:
                result.latencies.append(latency)

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(concurrency)]
    server_before, client_before = process_cpu(worker_pids), time.process_time()
    machine_before = machine_busy()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - started
    result.server_cpu = process_cpu(worker_pids) - server_before
    result.client_cpu = time.process_time() - client_before
    machine_after = machine_busy()
    if machine_before is not None and machine_after is not None:
        result.machine_cpu = machine_after - machine_before
    return result


# --- the report ---------------------------------------------------------------------------------
def report(rows: list[tuple[str, Result]], cores: int) -> None:
    print(
        f"{'endpoint':<22}{'requests':>9}{'errors':>8}{'req/s':>9}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    )
    for name, r in rows:
        if not r.latencies:
            print(f"{name:<22}{0:>9}{len(r.errors):>8}  (no successful request)")
            continue
        print(
            f"{name:<22}{len(r.latencies):>9}{len(r.errors):>8}"
            f"{len(r.latencies) / r.elapsed:>9.1f}{r.percentile(50):>9.1f}"
            f"{r.percentile(95):>9.1f}{r.percentile(99):>9.1f}{r.percentile(100):>9.1f}"
        )
    print(f"\nCPU during each run (machine: {cores} cores; 100% = one core busy all the time):")
    for name, r in rows:

        def share(seconds: float, r: Result = r) -> str:
            return f"{100 * seconds / r.elapsed:.0f}%"

        line = (
            f"  {name:<20} gunicorn workers {share(r.server_cpu)}, "
            f"load generator {share(r.client_cpu)}"
        )
        if r.machine_cpu is not None:
            other = max(0.0, r.machine_cpu - r.server_cpu - r.client_cpu)
            line += f", everything else {share(other)} (of {100 * cores}%)"
        print(line)
    for name, r in rows:
        for error in sorted(set(r.errors))[:3]:
            print(f"  {name} error ({r.errors.count(error)}x): {error}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint (default 10)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, not measured")
    parser.add_argument(
        "--fresh-form",
        action="store_true",
        help="GET /subscribe/ (not measured) before every signup POST, not once per client",
    )
    parser.add_argument(
        "--metrics-readers",
        type=int,
        default=100_000,
        help="readers (and today's deliveries) behind the /metrics scrape; 0: no scrape",
    )
    parser.add_argument(
        "--database-url", default="", help="an empty PostgreSQL database (default: SQLite)"
    )
    parser.add_argument(
        "--feed-readers", type=int, default=1000, help="readers whose feeds are polled (1000)"
    )
    parser.add_argument(
        "--feeds-only", action="store_true", help="only the feeds (not /, signup, /metrics)"
    )
    args = parser.parse_args()
    if args.seconds <= 0 or args.concurrency < 1 or args.workers < 1 or args.feed_readers < 1:
        parser.error("--seconds, --concurrency, --workers and --feed-readers must be positive")

    # SIGTERM to this script still stops gunicorn (the finally below).
    def terminate(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, terminate)

    cores = os.cpu_count() or 1
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    var_dir = Path(tempfile.mkdtemp(prefix="digest-bench-web-"))
    port = free_port()
    env = server_environment(var_dir, port)
    env["METRICS_TOKEN"] = METRICS_TOKEN
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    server: Gunicorn | None = None
    errors = 0
    try:
        started = time.perf_counter()
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "collectstatic", "--noinput", "-v0")  # the manifest DEBUG=0 needs
        manage(env, "fetch_papers", "--source", "snapshot")
        feed_paths_file = var_dir / "feeds.txt"
        print(feed_script(env, "seed", str(args.feed_readers), str(feed_paths_file)).strip())
        feed_paths = feed_paths_file.read_text().split()
        setup_seconds = time.perf_counter() - started
        where = "PostgreSQL" if args.database_url else f"SQLite in {var_dir}"
        print(f"setup ({where}, bundled listing): {setup_seconds:.1f} s")
        server = Gunicorn(env, port, args.workers, var_dir / "gunicorn.log")
        server.wait_ready(args.workers)
        pids = server.worker_pids()
        print(
            f"gunicorn digest.wsgi -w {args.workers} -b 127.0.0.1:{port} (sync workers, pids "
            f"{', '.join(map(str, pids))}); load: {args.concurrency} threads x {args.seconds:g} s "
            f"per endpoint, new connection per request; load average before: {load_average:.2f}"
        )
        rows = []
        post = partial(signup, fresh=args.fresh_form)
        pages = () if args.feeds_only else (("GET /", get_home), ("POST /subscribe/", post))
        for name, action in pages:
            warmup = load(action, port, args.concurrency, args.warmup, pids)
            if warmup.errors:
                raise RuntimeError(f"{name} fails before measuring: {warmup.errors[0]}")
            rows.append((name, load(action, port, args.concurrency, args.seconds, pids)))
        # The feeds: a warm-up on a few readers (their ETags are not reused), then every reader's
        # feed once, then every reader's feed again with its ETag.
        etags: dict[str, str] = {}
        each_once(get_feed, port, feed_paths[:20], {}, args.concurrency, pids)
        full = each_once(get_feed, port, feed_paths, etags, args.concurrency, pids)
        polled = [path for path in feed_paths if path in etags]
        again = each_once(get_feed_again, port, polled, etags, args.concurrency, pids)
        if args.metrics_readers and not args.feeds_only:
            seed = subprocess.run(
                [sys.executable, "-m", "support.metrics_seed", str(args.metrics_readers)],
                cwd=Path(__file__).parent, env=env, capture_output=True, text=True, timeout=1800,
            )  # fmt: skip
            if seed.returncode:
                raise RuntimeError(f"seeding for /metrics failed:\n{seed.stderr[-2000:]}")
            print(seed.stdout.strip())
            load(get_metrics, port, 1, args.warmup, pids)
            rows.append(("GET /metrics", load(get_metrics, port, 1, args.seconds, pids)))
        metrics_row = len(rows) - 1
        rows += [("GET /feed/<token>/", full), ("  again, 304", again)]
        print()
        report(rows, cores)
        errors = sum(len(r.errors) for _, r in rows)
        print(f"\ntargets ({args.workers} gunicorn workers):")
        verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
        if not args.feeds_only:
            home, signups = rows[0][1], rows[1][1]
            home_rps = len(home.latencies) / home.elapsed
            signup_p99 = signups.percentile(99) if signups.latencies else float("inf")
            print(
                f"  GET / above {HOME_TARGET_RPS:.0f} requests/s: {home_rps:.0f} "
                f"-> {verdict(home_rps > HOME_TARGET_RPS)}"
            )
            print(
                f"  signup POST p99 under {SIGNUP_TARGET_P99_MS:.0f} ms: {signup_p99:.1f} ms "
                f"-> {verdict(signup_p99 < SIGNUP_TARGET_P99_MS)}"
            )
        if args.metrics_readers and not args.feeds_only:
            scrapes = rows[metrics_row][1]
            metrics_p99 = scrapes.percentile(99) if scrapes.latencies else float("inf")
            print(
                f"  /metrics p99 under {METRICS_TARGET_P99_MS:.0f} ms "
                f"({args.metrics_readers:,} readers and deliveries, one scrape at a time): "
                f"{metrics_p99:.1f} ms -> {verdict(metrics_p99 < METRICS_TARGET_P99_MS)}"
            )
        full_p99 = full.percentile(99) if full.latencies else float("inf")
        again_p99 = again.percentile(99) if again.latencies else float("inf")
        print(
            f"  full feed (300 entries) p99 under {FEED_TARGET_P99_MS:.0f} ms: {full_p99:.1f} ms "
            f"-> {verdict(full_p99 < FEED_TARGET_P99_MS)}"
        )
        print(
            f"  304 p99 under {NOT_MODIFIED_TARGET_P99_MS:.0f} ms: {again_p99:.1f} ms "
            f"-> {verdict(again_p99 < NOT_MODIFIED_TARGET_P99_MS)}"
        )
        print("\nqueries per feed request (in-process, Django's test client):")
        print(feed_script(env, "queries").rstrip())
        signup_note = (
            "each signup POST follows an unmeasured GET /subscribe/ by the same client "
            "(--fresh-form), so the workers also serve those GETs during the signup run"
            if args.fresh_form
            else "one unmeasured GET /subscribe/ per client thread, then POSTs only "
            "(--fresh-form: a GET before every POST)"
        )
        notes = [
            "DEBUG=0 (production settings, no SSL redirect); the Secure CSRF cookie is sent "
            "back by hand over plain HTTP.",
            f"Signup: {signup_note}.",
            "The signup email runs inside the request (no broker: Celery tasks run eagerly on "
            "commit; dummy email backend: rendered, not sent); production hands it to a Celery "
            "worker.",
            ("PostgreSQL" if args.database_url else "SQLite in WAL mode (production: PostgreSQL)")
            + "; the load generator shares the machine's cores with gunicorn (see CPU above).",
            f"Feeds: {len(feed_paths)} readers, each with 30 digests of 10 papers (300 entries); "
            "each requested once in full, then once with If-None-Match.",
        ]
        print("\nnotes:\n" + "\n".join(f"  - {note}" for note in notes))
    finally:
        if server is not None:
            outcome = server.stop()
            print(f"gunicorn {outcome}")
            if "stopped by SIGTERM (0)" not in outcome:
                print(server.tail())
        shutil.rmtree(var_dir, ignore_errors=True)
    if errors:
        sys.exit(f"{errors} requests failed: the figures above are not valid")


if __name__ == "__main__":
    main()
