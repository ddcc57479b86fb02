"""Chaos run: a day's sending through worker kills, broker restarts and a database restart, then
the operator's rerun; prints whether anybody got two digests and how fast the day finished.

Every part is real and private to the run, on free ports: a PostgreSQL cluster of its own
(initdb under a temporary directory; the machine's server is never touched), a redis-server of
its own with its append-only file as docker/compose.yaml runs it (`--redis none`: without
persistence, so every restart loses the queue and only the rerun recovers it), killed with
SIGKILL and started again 2 s later, an aiosmtpd sink in this process, and
`celery -A digest worker -c 2` in its own process group, restarted after each kill as a
supervisor would. N subscribers (default 3,000) on the bundled listing, sending throttled
to SEND_RATE_PER_SECOND (default 40/s, so the faults land mid-send).

Once sending has started: four SIGKILLs of the worker group, three Redis restarts, one PostgreSQL
restart (fast shutdown, started again 5 s later), spread over about a minute. A worker that exits
by itself is counted as a death, its last log lines printed, and restarted. Then, as an operator
would after an incident, `manage.py send_digests --date D --wait`.

Prints: delivered, duplicates (recipients with two messages: target 0), undecided rows
(`sending`/`unknown`: a worker killed between claim and mark; target at most one per worker
process per kill, so 8), rows neither sent nor undecided, worker deaths, the rerun's output, the
time from the last fault to the last delivery and from the rerun to the last delivery (target:
within 60 s). DELIVERY_SENDING_TIMEOUT is 60 s here (900 in production) so --wait ends once the
killed workers' rows are marked `unknown`.

    python bench/chaos.py [--subscribers 3000] [--rate 40] [--redis aof|none] [--safe-worker]

--safe-worker runs the worker with --without-gossip and without remote control
(worker_enable_remote_control=False, through bench/_chaos_celery.py): the settings that avoid
kombu 5.7's worker death on a Redis restart (issue 15, branch worker-death).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.pgcluster import PostgresCluster, postgres_bin  # noqa: E402

PYTHON = sys.executable
CELERY = str(Path(sys.executable).with_name("celery"))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Redis:
    def __init__(self, *, persistence: str, data: Path) -> None:
        self.port = free_port()
        self.persistence, self.data = persistence, data
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.data.mkdir(exist_ok=True)
        appendonly = "yes" if self.persistence == "aof" else "no"
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", appendonly, "--dir", str(self.data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        for _ in range(100):
            try:
                if client.ping():
                    break
            except redis.RedisError:
                time.sleep(0.1)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # as after a crash: the queue survives only in the AOF
            self.process.wait()
            self.process = None

    def restart(self, down_for: float = 2.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()


class Sink:
    def __init__(self) -> None:
        self.received: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((time.monotonic(), rcpt))
        return "250 Message accepted for delivery"

    def count(self) -> int:
        with self.lock:
            return len(self.received)


class WorkerGroup:
    """`celery worker -c 2` in its own process group, restarted as a supervisor would."""

    def __init__(self, env: dict[str, str], log: Path, safe: bool) -> None:
        self.env, self.log, self.safe = env, log, safe
        self.process: subprocess.Popen[bytes] | None = None
        self.deaths = 0

    def start(self) -> None:
        app = "bench.support.chaos_celery" if self.safe else "digest"
        extra = ["--without-gossip"] if self.safe else []
        ready_before = self._ready_lines()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [CELERY, "-A", app, "worker", "-c", "2", "--loglevel", "INFO", *extra],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while self._ready_lines() == ready_before and time.monotonic() < deadline:
            time.sleep(0.2)

    def _ready_lines(self) -> int:
        return self.log.read_text(errors="replace").count(" ready.") if self.log.exists() else 0

    def kill(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def supervise(self) -> None:
        """Restart a worker that exited by itself (counted as a death)."""
        if self.process is not None and self.process.poll() is not None:
            self.deaths += 1
            tail = self.log.read_text(errors="replace").splitlines()[-8:]
            print(f"  !! the worker exited by itself (code {self.process.returncode}):")
            for line in tail:
                print(f"     {line[:200]}")
            self.process = None
            self.start()


def run(args: argparse.Namespace) -> None:
    binaries = postgres_bin()
    if binaries is None:
        sys.exit("PostgreSQL server binaries (initdb) are not installed")
    work = Path(tempfile.mkdtemp(prefix="digest-chaos-"))
    cluster = PostgresCluster(binaries)
    broker = Redis(persistence=args.redis, data=work / "redis")
    sink = Sink()
    worker: WorkerGroup | None = None
    try:
        cluster.init()
        broker.start()
        sink.controller.start()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": "chaos-only-throwaway-key",
            "ALLOWED_HOSTS": "digest.example.org",
            "VAR_DIR": str(work),
            "DATABASE_URL": cluster.url,
            "CELERY_BROKER_URL": broker.url,
            "REDIS_URL": broker.url,
            "EMAIL_BACKEND": "digest.delivery.mail_backends.SMTPBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink.port),
            "EMAIL_TIMEOUT": "10",
            "SITE_URL": "https://digest.example.org",
            "SEND_RATE_PER_SECOND": str(args.rate),
            "DELIVERY_SENDING_TIMEOUT": "60",
            "LOG_LEVEL": "WARNING",
        }
        day = date.today() - timedelta(days=1)
        print(f"seeding {args.subscribers} subscribers on a private PostgreSQL ({cluster.url})")
        subprocess.run(
            [PYTHON, "-m", "tests.integration.seed", "--day", str(day),
             "--subscribers", str(args.subscribers)],
            cwd=ROOT, env=env, check=True,
        )  # fmt: skip
        worker = WorkerGroup(env, work / "worker.log", args.safe_worker)
        worker.start()
        first = subprocess.run(
            [PYTHON, "manage.py", "send_digests", "--date", str(day)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        print("send_digests:", " / ".join(first.stdout.split("\n")).strip(" /"))
        while sink.count() == 0:
            time.sleep(0.1)
        started = time.monotonic()

        def kill() -> None:
            assert worker is not None
            worker.kill()
            worker.start()

        lost = ", queue lost" if args.redis == "none" else ""
        faults: list[tuple[float, str, Any]] = [
            (6, "SIGKILL worker group", kill),
            (14, f"Redis restart (2 s down{lost})", broker.restart),
            (22, "SIGKILL worker group", kill),
            (28, "PostgreSQL restart (fast stop, 5 s down)", cluster.restart),
            (38, f"Redis restart (2 s down{lost})", broker.restart),
            (46, "SIGKILL worker group", kill),
            (54, f"Redis restart (2 s down{lost})", broker.restart),
            (60, "SIGKILL worker group", kill),
        ]
        last_fault = started
        for at, what, action in faults:
            while time.monotonic() - started < at:
                worker.supervise()
                time.sleep(0.2)
            print(f"  t={time.monotonic() - started:5.1f}s  {sink.count():5d} delivered  {what}")
            action()
            last_fault = time.monotonic()
        time.sleep(5)
        worker.supervise()
        print(f"  t={time.monotonic() - started:5.1f}s  {sink.count():5d} delivered  "
              "operator reruns send_digests --wait")  # fmt: skip
        rerun_at = time.monotonic()
        left_at_rerun = args.subscribers - sink.count()
        rerun = subprocess.Popen(
            [PYTHON, "manage.py", "send_digests", "--date", str(day), "--wait", "--timeout", "600"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        while rerun.poll() is None:
            worker.supervise()
            time.sleep(0.5)
        settled_at = time.monotonic()
        assert rerun.stdout is not None
        for line in rerun.stdout.read().splitlines():
            print(f"  | {line}")
        time.sleep(2)  # a message still on the wire

        with psycopg.connect(cluster.url.replace("postgres://", "postgresql://", 1)) as conn:
            by_status: dict[str, int] = dict(
                conn.execute(
                    "SELECT status, count(*) FROM digest_delivery GROUP BY status"
                ).fetchall()
            )
        with sink.lock:
            received = list(sink.received)
        per_recipient = Counter(rcpt for _, rcpt in received)
        duplicates = sum(1 for n in per_recipient.values() if n > 1)
        undecided = by_status.get("sending", 0) + by_status.get("unknown", 0)
        missing = args.subscribers - by_status.get("sent", 0) - undecided
        last_delivery = max(at for at, _ in received)
        print()
        print(f"rows: {dict(sorted(by_status.items()))}")
        print(f"delivered: {len(per_recipient)} of {args.subscribers} subscribers "
              f"({len(received)} messages)")  # fmt: skip
        print(f"duplicates: {duplicates}")
        print(f"undecided (sending/unknown): {undecided}  (allowed: 2 per kill, 8)")
        print(f"neither sent nor undecided: {missing}")
        print(f"worker deaths (not our kills): {worker.deaths}")
        print(f"last fault -> last delivery: {last_delivery - last_fault:.1f} s")
        print(f"rerun -> last delivery: {max(0.0, last_delivery - rerun_at):.1f} s "
              f"({left_at_rerun} left at the rerun: at least {left_at_rerun / args.rate:.1f} s "
              f"at {args.rate}/s)")  # fmt: skip
        print(f"rerun -> --wait settled: {settled_at - rerun_at:.1f} s (a killed worker's row "
              "becomes unknown 60 s after its claim: DELIVERY_SENDING_TIMEOUT)")  # fmt: skip
    finally:
        if worker is not None:
            worker.kill()
        sink.controller.stop()
        broker.stop()
        cluster.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=40, help="SEND_RATE_PER_SECOND")
    parser.add_argument("--safe-worker", action="store_true")
    parser.add_argument(
        "--redis",
        choices=["aof", "none"],
        default="aof",
        help="aof: as docker/compose.yaml runs it; none: a restart loses the queue",
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
