"""Real parts for the delivery tests: PostgreSQL, a redis-server of our own, a local SMTP sink,
and `celery -A digest worker` as a separate process.

Run them with PostgreSQL as the database (pytest-django then creates and drops `test_<name>`):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/pytest -m services

`make test` does. Missing services skip these tests on a laptop and fail them under CI=true.
The worker is another process, so tests commit their data (`transaction=True`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import kombu.exceptions
import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from digest.models import Delivery
from tests.integration.seed import load_listing, make_subscribers
from tests.support.real_services import free_port, unavailable, wait_for

__all__ = ["make_subscribers"]  # the tests import it from here

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


@pytest.fixture(scope="session", autouse=True)
def _services_required() -> None:
    """PostgreSQL as the test database and a redis-server binary; checked before pytest-django
    creates the database (session autouse fixtures run first)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        unavailable(
            "integration tests need PostgreSQL: "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/test pytest -m services"
        )
    try:
        psycopg.connect(
            host=db.get("HOST") or "127.0.0.1",
            port=int(db.get("PORT") or 5432),
            user=db.get("USER") or "postgres",
            password=db.get("PASSWORD") or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        unavailable(f"PostgreSQL unreachable: {exc}")
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")


# --- Redis ---------------------------------------------------------------------------------------
@dataclass
class RedisServer:
    """A redis-server of our own on a free port, without persistence: a restart loses the queue,
    like a broker that lost its data."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)

        def ping() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_for(ping, timeout=10, what="redis-server")
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # no SHUTDOWN SAVE: the data is gone, as after a crash
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        client = redis.Redis.from_url(self.url, socket_timeout=2)
        client.flushall()
        client.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


# --- SMTP sink -----------------------------------------------------------------------------------
class SinkHandler:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()
        self.delay = 0.0  # seconds before each message's reply: a slower relay
        # Run with the count of messages received, before the 250 reply (a fault at that moment).
        self.on_message: Callable[[int], None] | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
            received = len(self.messages)
        if self.on_message is not None:
            self.on_message(received)
        return "250 Message accepted for delivery"


@dataclass
class SmtpSink:
    handler: SinkHandler
    port: int

    def count(self) -> int:
        with self.handler.lock:
            return len(self.handler.messages)

    def parsed(self) -> list[EmailMessage]:
        with self.handler.lock:
            raw = [content for _, content in self.handler.messages]
        return [message_from_bytes(content, policy=policy.default) for content in raw]

    def recipients(self) -> list[str]:
        with self.handler.lock:
            return [rcpt for rcpts, _ in self.handler.messages for rcpt in rcpts]


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSink(handler, port)
    controller.stop()


# --- The worker ----------------------------------------------------------------------------------
@dataclass
class Worker:
    """`celery -A digest worker`, exactly: no queue or concurrency option, so the settings alone
    must make it consume every queue."""

    env: dict[str, str]
    log: Path
    client: Celery
    process: subprocess.Popen[bytes] | None = None
    args: list[str] = field(default_factory=list)  # e.g. ["--loglevel", "INFO"]

    def start(self) -> None:
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [CELERY, "-A", "digest", "worker", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a kill reaches the pool too
        )
        log.close()

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"worker exited:\n{self.log.read_text()[-3000:]}")
            return self.ping()

        wait_for(ready, timeout=60, what="the celery worker to answer a ping")

    def ping(self) -> bool:
        try:
            return bool(self.client.control.ping(timeout=0.5))
        except (OSError, redis.RedisError, kombu.exceptions.OperationalError):
            return False  # the broker is restarting; the client reconnects on the next try

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the worker and its pool processes at once (no warm shutdown)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # it died by itself
            os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=20)
        self.kill()

    def call(self, task: str, *args: Any, queue: str = "celery") -> None:
        self.client.send_task(task, args=list(args), queue=queue)


@pytest.fixture
def worker(
    transactional_db: None, redis_server: RedisServer, smtp_sink: SmtpSink, tmp_path: Path
) -> Iterator[Worker]:
    """A worker (not yet started) on the test database, our Redis and the SMTP sink."""
    redis_server.flush()
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    database_url = (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_server.url,
        "REDIS_URL": redis_server.url,
        "EMAIL_BACKEND": "digest.delivery.mail_backends.SMTPBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_sink.port),
        "EMAIL_TIMEOUT": "10",
        "SITE_URL": "https://digest.example.org",
        "MAIL_DOMAIN": "digest.example.org",
        # Short clocks so a test sees the planner recover lost and interrupted rows.
        "DELIVERY_REQUEUE_AFTER": "3",
        "DELIVERY_SENDING_TIMEOUT": "3",
        "DIGEST_BATCH_SIZE": "50",
        "LOG_LEVEL": "WARNING",
    }
    client = Celery("integration-client", broker=redis_server.url)
    client.conf.broker_connection_retry_on_startup = True
    the_worker = Worker(env=env, log=tmp_path / "worker.log", client=client)
    yield the_worker
    the_worker.stop()
    client.close()


# --- Data ----------------------------------------------------------------------------------------
@pytest.fixture
def listing_day(transactional_db: None):
    """The bundled listing, listed yesterday (UTC): the latest listing day for everyone."""
    day = timezone.now().date() - timedelta(days=1)
    load_listing(day)
    return day


def statuses() -> dict[str, int]:
    rows = Delivery.objects.values_list("status", flat=True)
    counts: dict[str, int] = {}
    for status in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts


# --- Running commands as an operator would ------------------------------------------------
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run a management command as an operator would; its output (fails on a non-zero exit)."""
    done = subprocess.run(
        [*MANAGE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def send_digests_waiting(env: dict[str, str], day: date) -> subprocess.Popen[str]:
    """`send_digests --date DAY --wait` started in the background, as an operator would leave
    it running; `communicate()` gives its output."""
    return subprocess.Popen(
        [*MANAGE, "send_digests", "--date", str(day), "--wait", "--timeout", "150"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def no_second_copies(recipients: list[str]) -> set[str]:
    doubles = {address: n for address, n in Counter(recipients).items() if n > 1}
    assert not doubles, f"second copies: {doubles}"
    return set(recipients)


def settled(expected: int) -> Callable[[], bool]:
    def check() -> bool:
        open_rows = Delivery.objects.filter(
            status__in=[Delivery.Status.QUEUED, Delivery.Status.SENDING]
        ).count()
        return Delivery.objects.count() == expected and open_rows == 0

    return check
