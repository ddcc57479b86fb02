"""The production processes, natively: the commands docker/compose.yaml runs (through
docker/entrypoint.sh, with .env.example's environment) against this machine's PostgreSQL and
Redis, a local SMTP server and a local server with recorded listings.

A reader signs up over HTTP, confirms from the email, beat triggers the fetch and the planner,
and the digest reaches the SMTP server. Every wait is bounded; the processes are stopped with
SIGTERM (SIGKILL only as a last resort) and their logs are printed when the test fails.

    .venv/bin/pytest tests/production/test_end_to_end.py
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.production.commands import BEAT, WEB, WORKER, native
from tests.production.compose import ROOT, env_file_documented, env_file_values
from tests.support.real_services import free_port, unavailable, wait_for

pytestmark = pytest.mark.services

BIN = Path(sys.executable).parent
FIXTURES = ROOT / "tests" / "digest" / "sources" / "fixtures"
ENTRYPOINT = str(ROOT / "docker" / "entrypoint.sh")
E2E_DATABASE = "e2e_digest"
REDIS_URL = "redis://127.0.0.1:6379/13"  # a database of the shared Redis, flushed before and after
READER = "reader@example.net"
WAIT = 90.0  # the longest any single step may take


# --- services: PostgreSQL, Redis ------------------------------------------------------------------
@pytest.fixture
def database_url() -> Iterator[str]:
    """A database of our own on this machine's PostgreSQL, dropped afterwards."""
    try:
        admin = psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {exc}")
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {E2E_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {E2E_DATABASE}")
        try:
            yield f"postgres://postgres@127.0.0.1:5432/{E2E_DATABASE}"
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {E2E_DATABASE} WITH (FORCE)")


@pytest.fixture
def redis_url() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable(f"Redis on 127.0.0.1:6379 is unreachable: {exc}")
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        client.flushdb()
        client.close()


# --- a local SMTP server --------------------------------------------------------------------------
@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def find(self, predicate: Callable[[EmailMessage], bool]) -> EmailMessage | None:
        with self.lock:
            return next((m for m in self.messages if predicate(m)), None)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


# --- recorded listings ----------------------------------------------------------------------------
HF_ITEMS = json.loads((FIXTURES / "hf_daily_papers_2024-09-17.json").read_bytes())
ARXIV_PAGES = {
    0: "arxiv_2024-09-16_page0.atom",
    3: "arxiv_2024-09-16_page1.atom",
    6: "arxiv_2024-09-16_page2.atom",
}


def hf_page(request: Request) -> Response:
    """The day's list, paged by `p` and `limit` like the API (whatever the date asked)."""
    limit, page = int(request.args.get("limit", 50)), int(request.args.get("p", 0))
    items = HF_ITEMS[page * limit : (page + 1) * limit]
    return Response(json.dumps(items), content_type="application/json")


def arxiv_page(request: Request) -> Response:
    name = ARXIV_PAGES.get(int(request.args.get("start", 0)), "arxiv_empty.atom")
    return Response((FIXTURES / name).read_bytes(), content_type="application/atom+xml")


@pytest.fixture
def listings(httpserver: HTTPServer) -> dict[str, str]:
    httpserver.expect_request("/api/daily_papers").respond_with_handler(hf_page)
    httpserver.expect_request("/api/query").respond_with_handler(arxiv_page)
    return {
        "HF_PAPERS_URL": httpserver.url_for("/api/daily_papers"),
        "ARXIV_API_URL": httpserver.url_for("/api/query"),
    }


# --- processes ------------------------------------------------------------------------------------
@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    outcome: str = ""

    def stop(self, timeout: float = 30.0) -> str:
        """SIGTERM (a warm shutdown), then SIGKILL to the whole group as a last resort; the
        group is killed in any case so no child outlives the test."""
        if self.outcome:
            return self.outcome
        how = "exited by itself"
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
                how = "stopped by SIGTERM"
            except subprocess.TimeoutExpired:
                how = "killed (SIGKILL) after SIGTERM timed out"
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        self.outcome = how
        return how


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(name: str, command: list[str], env: dict[str, str]) -> Process:
        log = tmp_path / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as a whole
            )
        process = Process(name, popen, log)
        started.append(process)
        return process

    try:
        yield start
    finally:
        # Reverse order: beat first (no new work), then the worker, then web.
        outcomes = {p.name: p.stop() for p in reversed(started)}
        for process in started:
            print(f"\n===== {process.name}: {outcomes[process.name]}, last lines:")
            print(process.tail())


def production_environment(**overrides: str) -> dict[str, str]:
    """.env.example as compose would pass it, this machine's services instead of compose's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ANYMAIL_"))}
    for name in env_file_documented():
        env.pop(name, None)
    env.update(env_file_values())
    # An operator replaces the example's placeholders (DEBUG=0 refuses them: digest.E101).
    env.update(
        SECRET_KEY="e2e-" + "k" * 60,
        POSTGRES_PASSWORD="e2e-postgres-password",
        ANYMAIL_WEBHOOK_SECRET="e2e-hook:e2e-webhook-password",
    )
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # `python`, `gunicorn`, `celery`
    env.update(overrides)
    return env


# --- the reader's side, over HTTP -----------------------------------------------------------------
class Browser:
    """Requests as the TLS proxy forwards them (Host, X-Forwarded-Proto), cookies by hand
    because they are Secure and this hop is plain HTTP."""

    def __init__(self, port: int, site_url: str):
        self.site = urlsplit(site_url)
        self.cookies: dict[str, str] = {}
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Host": self.site.netloc, "X-Forwarded-Proto": self.site.scheme},
            timeout=15,
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.client.request(method, path, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response

    def get(self, path: str) -> httpx.Response:
        return self._send("GET", path)

    def post_form(self, path: str, page: httpx.Response, data: dict[str, Any]) -> httpx.Response:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert match, f"no CSRF token on {path}"
        origin = f"{self.site.scheme}://{self.site.netloc}"
        return self._send(
            "POST",
            path,
            data={"csrfmiddlewaretoken": match[1], **data},
            headers={"Origin": origin, "Referer": origin + path},
        )


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


# --- the test -------------------------------------------------------------------------------------
def test_signup_confirm_fetch_plan_and_digest(
    tmp_path, database_url, redis_url, smtp, listings, processes
):
    mailbox, smtp_port = smtp
    web_port = free_port()
    env = production_environment(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=redis_url,
        REDIS_URL=redis_url,
        EMAIL_BACKEND="digest.delivery.mail_backends.SMTPBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        ARXIV_REQUEST_INTERVAL="0",
        HTTP_RETRIES="1",
        VAR_DIR=str(tmp_path / "var"),
        DB_WAIT_TIMEOUT="30",
        # The schedule, every few seconds instead of daily and hourly (settings BEAT_*).
        BEAT_FETCH_EVERY_SECONDS="4",
        BEAT_PLAN_EVERY_SECONDS="2",
        **listings,
    )
    site_url = env["SITE_URL"]

    # The image's build step, then the web container: entrypoint (wait, migrate) + gunicorn.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=WAIT,
    )
    web_command = native(WEB, env=env, options={"--bind": f"127.0.0.1:{web_port}"})
    assert web_command[:2] == ["gunicorn", "digest.wsgi"] and "2" in web_command  # -w 2
    web = processes("web", [ENTRYPOINT, *web_command], {**env, "MIGRATE_ON_START": "1"})

    def healthy() -> bool:
        assert web.popen.poll() is None, "web exited"
        check = subprocess.run(
            [sys.executable, str(ROOT / "docker" / "healthcheck.py")],
            env={**env, "HEALTHCHECK_URL": f"http://127.0.0.1:{web_port}/healthz"},
            capture_output=True,
            text=True,
            timeout=15,
        )
        return check.returncode == 0

    wait_for(healthy, what="web's /healthz (migrations, gunicorn)")
    browser = Browser(web_port, site_url)
    assert browser.get("/healthz").json() == {"database": "ok", "broker": "ok"}

    # Worker and beat start once web is healthy (compose's depends_on).
    beat_schedule = str(tmp_path / "celerybeat-schedule")
    worker = processes("worker", [ENTRYPOINT, *native(WORKER, env=env)], env)
    beat = processes(
        "beat", [ENTRYPOINT, *native(BEAT, env=env, options={"--schedule": beat_schedule})], env
    )

    # A reader signs up, due at the current UTC hour.
    form = browser.get("/subscribe/")
    assert form.status_code == 200
    signup = browser.post_form(
        "/subscribe/",
        form,
        {
            "email": READER,
            "topics": "",
            "cadence": "daily",
            "weekday": "0",
            "delivery_hour": str(datetime.now(UTC).hour),
            "timezone": "UTC",
            "max_papers": "10",
            "website": "",  # the honeypot stays empty
        },
    )
    assert signup.status_code == 302, signup.text[:2000]
    assert signup.headers["location"].endswith("/subscribe/check-your-inbox/")

    # ...confirms from the email the worker sent...
    def confirmation() -> EmailMessage | None:
        assert worker.popen.poll() is None, "worker exited"
        return mailbox.find(lambda m: m["To"] == READER and "/confirm/" in text_of(m))

    confirm_email = wait_for(confirmation, what="the confirmation email")
    link = re.search(re.escape(site_url) + r"(/confirm/[^\s/]+/)", text_of(confirm_email))
    assert link, text_of(confirm_email)
    page = browser.get(link[1])
    assert page.status_code == 200  # GET only shows the button
    confirmed = browser.post_form(link[1], page, {})
    assert confirmed.status_code == 200, confirmed.text[:2000]

    # ...and beat's fetch and planner send the digest.
    def digest() -> EmailMessage | None:
        assert beat.popen.poll() is None, "beat exited"
        assert worker.popen.poll() is None, "worker exited"
        return mailbox.find(lambda m: m["To"] == READER and m["List-Unsubscribe"] is not None)

    message = wait_for(digest, what="the digest email")
    assert message["To"] == READER
    assert f"<{site_url}/unsubscribe/" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "https://arxiv.org/abs/" in html.get_content()

    with psycopg.connect(database_url, autocommit=True) as connection:

        def delivery_statuses() -> list[tuple[str]]:
            return connection.execute(
                "SELECT d.status FROM digest_delivery d JOIN subscriptions_subscriber s"
                " ON s.id = d.subscriber_id WHERE s.email = %s",
                [READER],
            ).fetchall()

        # The sink has the message before the worker reads its "250" and commits the mark.
        wait_for(lambda: delivery_statuses() != [("sending",)], what="the sent mark", timeout=30)
        rows = delivery_statuses()
        runs = connection.execute("SELECT source, status FROM digest_fetchrun").fetchall()
    assert rows == [("sent",)]
    assert {source for source, _ in runs} == {"hf", "arxiv"}

    # LOG_FORMAT=json from .env.example: the worker's log lines are JSON objects.
    logged = [line for line in worker.log.read_text().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in logged]
    assert any(e["logger"] == "celery.apps.worker" for e in entries)
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)

    # A clean stop: each process exits on SIGTERM (the fixture kills only as a last resort).
    for process in (beat, worker, web):
        assert process.stop() == "stopped by SIGTERM", process.name
