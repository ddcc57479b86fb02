"""Faults in the middle of a day's sending, with the real parts: the broker losing its queue, a
PostgreSQL restart, an SMTP relay and an HTTP provider (Postmark's API, served locally) that are
down for a while. What a reader notices: nobody gets two digests, and everyone gets theirs once
the fault is over; what an operator notices: the command says what it did, the admin says what
happened to each row. See docs/delivery.md ("Faults").
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller
from django.conf import settings
from django.utils import timezone

from digest.models import Delivery
from tests.integration.conftest import (
    ROOT,
    RedisServer,
    SinkHandler,
    SmtpSink,
    Worker,
    make_subscribers,
    statuses,
)
from tests.pgcluster import PostgresCluster, postgres_bin
from tests.services import free_port, unavailable, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

Status = Delivery.Status
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run a management command as an operator would; its output (fails on a non-zero exit)."""
    done = subprocess.run(
        [*MANAGE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def no_second_copies(recipients: list[str]) -> set[str]:
    doubles = {address: n for address, n in Counter(recipients).items() if n > 1}
    assert not doubles, f"second copies: {doubles}"
    return set(recipients)


# --- The broker lost its queue: a rerun by hand sends the rest now ------------------------------
def test_rerun_after_the_broker_lost_its_queue_sends_the_rest_at_once(
    worker: Worker, smtp_sink: SmtpSink, listing_day, redis_server: RedisServer
):
    subscribers = make_subscribers(300)
    emails = {s.email for s in subscribers}
    # Production clocks: a lost row would otherwise wait DELIVERY_REQUEUE_AFTER (10 minutes).
    worker.env |= {
        "SEND_RATE_PER_SECOND": "100",
        "DELIVERY_REQUEUE_AFTER": "600",
        "DELIVERY_SENDING_TIMEOUT": "900",
    }
    worker.start()
    first = manage(worker.env, "send_digests", "--date", str(listing_day))
    assert "300 deliveries to send" in first and "Enqueued 6 batches" in first, first
    assert "enqueued before" not in first  # nothing had a broker message yet

    wait_for(lambda: smtp_sink.count() >= 75, timeout=60, what="a quarter sent")
    worker.kill()  # the incident: the worker dies, and Redis comes back empty
    redis_server.restart()
    in_flight = Delivery.objects.filter(status=Status.SENDING).count()
    assert in_flight <= 2  # at most one per pool process
    worker.start()
    time.sleep(3)
    stalled_at = smtp_sink.count()
    assert stalled_at < 300, "the run finished before the incident; slow it down"
    left = Delivery.objects.filter(status=Status.QUEUED).count()
    assert left > 0

    started = time.monotonic()
    rerun = manage(worker.env, "send_digests", "--date", str(listing_day))
    assert f"{left} deliveries to send" in rerun, rerun
    assert f"{left} of them were enqueued before" in rerun and "enqueued again now" in rerun, rerun
    assert f"Enqueued {-(-left // 50)} batches" in rerun, rerun
    wait_for(
        lambda: not Delivery.objects.filter(status=Status.QUEUED).exists(),
        timeout=60,
        what="the rest to be sent after the rerun",
    )
    assert time.monotonic() - started < 60

    received = no_second_copies(smtp_sink.recipients())
    counts = statuses()
    undecided = set(
        Delivery.objects.filter(status=Status.SENDING).values_list("subscriber__email", flat=True)
    )
    assert counts.get(Status.SENT, 0) + len(undecided) == 300 and len(undecided) <= 2
    assert received | undecided == emails
    # A second rerun finds nothing left and sends nothing.
    again = manage(worker.env, "send_digests", "--date", str(listing_day))
    assert "0 deliveries to send" in again and "Enqueued 0 batches" in again
    time.sleep(1)
    assert len(smtp_sink.recipients()) == len(received)


def test_wait_enqueues_again_when_nothing_moves(
    worker: Worker, smtp_sink: SmtpSink, listing_day, redis_server: RedisServer
):
    """`send_digests --wait` started before the broker lost its queue: it notices the stall."""
    make_subscribers(120)
    worker.env |= {"DELIVERY_REQUEUE_AFTER": "600"}
    waiting = subprocess.Popen(
        [*MANAGE, "send_digests", "--date", str(listing_day), "--wait", "--timeout", "150"],
        cwd=ROOT,
        env=worker.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: (
                not Delivery.objects.filter(enqueued_at__isnull=True).exists()
                and Delivery.objects.count() == 120
            ),
            timeout=60,
            what="the batches to be enqueued",
        )
        # The rows are marked enqueued before the messages reach Redis (they are published after
        # the commit): wait until the broker holds all three, so the restart surely loses them.
        broker = redis.Redis.from_url(redis_server.url)
        wait_for(lambda: broker.llen(settings.SEND_QUEUE) >= 3, timeout=30, what="3 batch messages")
        broker.close()
        redis_server.restart()  # no worker has taken them yet: all three batches are lost
        worker.start()
        started = time.monotonic()
        output, _ = waiting.communicate(timeout=150)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, output
    assert "nothing settled for 30 s: enqueued the day's queued rows again (3 batches)" in output
    assert "every delivery settled (120 sent)" in output, output
    assert time.monotonic() - started < 60
    assert len(no_second_copies(smtp_sink.recipients())) == 120


# --- PostgreSQL restarted mid-send ---------------------------------------------------------------
@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    """A cluster of our own, which the test stops and starts (never the shared server)."""
    binaries = postgres_bin()
    if binaries is None:
        unavailable("PostgreSQL server binaries (initdb) are not installed")
    assert binaries is not None
    cluster = PostgresCluster(binaries)
    cluster.init()
    yield cluster
    cluster.destroy()


def rows_by_status(url: str) -> dict[str, list[str]]:
    dsn = url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT d.status, s.email FROM digest_delivery d "
            "JOIN subscriptions_subscriber s ON s.id = d.subscriber_id"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for status, email in rows:
        found.setdefault(status, []).append(email)
    return found


def test_postgres_restarted_mid_send_workers_and_send_digests_carry_on(
    worker: Worker, smtp_sink: SmtpSink, private_postgres: PostgresCluster
):
    day = timezone.now().date() - timedelta(days=1)
    worker.env |= {
        "DATABASE_URL": private_postgres.url,
        "SEND_RATE_PER_SECOND": "40",
        "DELIVERY_REQUEUE_AFTER": "600",
        # Short enough for --wait to end if a row were left undecided, long beside the restart.
        "DELIVERY_SENDING_TIMEOUT": "30",
    }
    worker.args = ["--loglevel", "INFO"]  # the task's retries are logged at INFO
    subprocess.run(
        [sys.executable, "-m", "tests.integration.seed", "--day", str(day), "--subscribers", "400"],
        cwd=ROOT,
        env=worker.env,
        check=True,
        timeout=120,
    )
    worker.start()
    waiting = subprocess.Popen(
        [*MANAGE, "send_digests", "--date", str(day), "--wait", "--timeout", "150"],
        cwd=ROOT,
        env=worker.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: smtp_sink.count() >= 60, timeout=60, what="the sending to start")
        private_postgres.stop()  # fast shutdown: every session is cut off mid-transaction
        at_stop = smtp_sink.count()
        time.sleep(5)
        private_postgres.start()
        restarted = time.monotonic()
        output, _ = waiting.communicate(timeout=170)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert at_stop < 300, "the run finished before the restart; slow it down"
    assert waiting.returncode == 0, output
    assert "every delivery settled" in output, output
    assert "database unavailable, retrying" in output, output  # --wait lived through it
    assert time.monotonic() - restarted < 60

    # The batches in hand waited for the database instead of failing; the others stayed in the
    # queue (no task was retried or failed for it).
    worker_log = worker.log.read_text()
    assert "database unavailable while sending a batch, retrying" in worker_log, worker_log[-3000:]
    assert "raised unexpected" not in worker_log and "retry: Retry in" not in worker_log

    received = no_second_copies(smtp_sink.recipients())
    rows = rows_by_status(private_postgres.url)
    sent = set(rows.get(Status.SENT, []))
    undecided = set(rows.get(Status.UNKNOWN, [])) | set(rows.get(Status.SENDING, []))
    # Rows in flight end as the crash table says: a row whose claim did not commit is still
    # queued and sent later; one the relay accepted is marked sent once the database is back
    # (the batch waits for it); at most one per process could be left undecided.
    assert len(undecided) <= 2, rows
    assert set(rows) <= {Status.SENT, Status.UNKNOWN}, {k: len(v) for k, v in rows.items()}
    assert len(sent) + len(undecided) == 400
    assert sent <= received and received <= sent | undecided


# --- The SMTP relay down: refusing connections, then 421, then 451 -------------------------------
class FlakyRelayHandler(SinkHandler):
    """An SMTP relay that answers 421 to MAIL FROM or 451 after DATA while told to."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self.refusals: list[str] = []

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options):
        if self.mode == "421":
            self.refusals.append("421")
            return "421 4.3.2 Service not available, closing transmission channel"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode == "451":
            with self.lock:
                self.refusals.append("451")
            return "451 4.3.0 Temporary local problem, try again later"
        return await super().handle_DATA(server, session, envelope)


class FlakyRelay(SmtpSink):
    handler: FlakyRelayHandler

    def __init__(self) -> None:
        super().__init__(FlakyRelayHandler(), free_port())
        self.controller: Controller | None = None

    def up(self, mode: str) -> None:
        self.handler.mode = mode
        if self.controller is None:
            self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def down(self) -> None:
        """Nothing listens on the port: connections are refused."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def admin_deliveries_page(client: Any) -> str:
    response = client.get("/admin/digest/delivery/?status__exact=sent")
    assert response.status_code == 200
    return response.content.decode()


def test_smtp_relay_down_for_30_seconds_then_back(worker: Worker, listing_day, admin_client):
    subscribers = make_subscribers(150)
    emails = {s.email for s in subscribers}
    relay = FlakyRelay()
    worker.env |= {
        "EMAIL_PORT": str(relay.port),
        "SEND_RATE_PER_SECOND": "20",  # slow enough for the relay to go down mid-send
        # Production backoff is 30 s doubling; 10 s keeps the test short with the same shape.
        "DELIVERY_RETRY_BACKOFF": "10",
    }
    try:
        relay.up("ok")
        worker.start()
        manage(worker.env, "send_digests", "--date", str(listing_day))
        wait_for(lambda: relay.count() >= 30, timeout=60, what="the sending to start")
        relay.down()  # refusing connections for 8 s
        wait_for(
            lambda: Delivery.objects.filter(attempts__gte=1, status=Status.QUEUED).exists(),
            timeout=30,
            what="a refused connection to put a row back to queued",
        )
        before = relay.count()
        time.sleep(6)
        relay.up("421")
        time.sleep(10)
        relay.handler.mode = "451"
        time.sleep(12)
        assert relay.count() == before < 150  # nothing was accepted during the outage
        assert {"421", "451"} <= set(relay.handler.refusals), relay.handler.refusals
        relay.handler.mode = "ok"
        back = time.monotonic()
        wait_for(
            lambda: statuses() == {Status.SENT: 150},
            timeout=90,
            what="every row sent once the relay is back",
        )
        recovered_in = time.monotonic() - back
    finally:
        worker.stop()
        relay.down()
    assert recovered_in < 80
    assert no_second_copies(relay.recipients()) == emails
    # What happened is on the rows: more than one attempt, and the last transient error.
    retried = Delivery.objects.filter(attempts__gt=1)
    assert retried.exists()
    errors = " ".join(retried.values_list("error", flat=True))
    assert "ConnectionRefusedError" in errors or "421" in errors or "451" in errors, errors
    page = admin_deliveries_page(admin_client)
    row = retried.first()
    assert row is not None
    attempt, error_class = row.error.split(": ")[:2]  # "attempt 2: SMTPSenderRefused: ..."
    assert attempt in page and error_class in page


# --- An HTTP provider down: 500, 503, then 429 with Retry-After ----------------------------------
class PostmarkStandIn(BaseHTTPRequestHandler):
    """Postmark's /email endpoint, answering the scripted statuses first, then accepting."""

    script: list[tuple[int, dict[str, str]]] = []
    log: list[tuple[float, int, str]] = []  # (time, status, To)
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        to = body.get("To", "")
        with self.lock:
            status, headers = self.script.pop(0) if self.script else (200, {})
            self.log.append((time.monotonic(), status, to))
        if status == 200:
            payload: dict[str, Any] = {
                "To": to,
                "SubmittedAt": "2026-12-04T10:00:00Z",
                "MessageID": str(uuid.uuid4()),
                "ErrorCode": 0,
                "Message": "OK",
            }
        else:
            payload = {"ErrorCode": 100 if status >= 500 else 429, "Message": "not now"}
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def postmark_api() -> Iterator[tuple[str, type[PostmarkStandIn]]]:
    class Handler(PostmarkStandIn):
        none: dict[str, str] = {}
        # Up for the first 10 messages, then down mid-send.
        script = [(200, none)] * 10 + [(500, none)] * 3 + [(503, none)] * 3
        script.append((429, {"Retry-After": "4"}))
        log: list[tuple[float, int, str]] = []
        lock = threading.Lock()

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", Handler
    server.shutdown()
    server.server_close()


def test_http_provider_errors_and_retry_after_then_back(
    worker: Worker, listing_day, postmark_api, tmp_path: Path
):
    url, api = postmark_api
    subscribers = make_subscribers(60)
    emails = {s.email for s in subscribers}
    worker.env |= {
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "test-token",
        "ANYMAIL_POSTMARK_API_URL": url,
        "DELIVERY_RETRY_BACKOFF": "1",  # so the only long wait is the one the provider asks for
    }
    worker.start()
    manage(worker.env, "send_digests", "--date", str(listing_day))
    wait_for(lambda: statuses() == {Status.SENT: 60}, timeout=90, what="every row sent")

    log = list(api.log)
    statuses_seen = Counter(status for _, status, _ in log)
    assert statuses_seen[500] == 3 and statuses_seen[503] == 3 and statuses_seen[429] == 1
    accepted = [to for _, status, to in log if status == 200]
    assert no_second_copies(accepted) == emails
    # Retry-After honoured: the row refused with 429 was not tried again before 4 s had passed.
    refused_at, _, refused_to = next(entry for entry in log if entry[1] == 429)
    next_try = min(at for at, _, to in log if to == refused_to and at > refused_at)
    assert next_try - refused_at >= 3.9
    # The rows that met the outage say so.
    retried = Delivery.objects.filter(attempts__gt=1)
    assert retried.count() >= 3
    errors = list(retried.values_list("error", flat=True))
    assert any("429" in e or "503" in e or "500" in e for e in errors), errors
