"""The container tier: the image built from this tree, its roles run by the local Docker engine
with the commands of docker/compose.yaml, against a PostgreSQL, a Redis and an SMTP sink of the
test's own, all on loopback (host networking; no other address is a target).

    .venv/bin/pytest -m containers        # root, or a user allowed to use the engine

Skipped without a Docker engine on a laptop; under CI=true a missing engine is a failure.
The figures (build, time to healthy, the day's job) are printed at the end of the run.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller

from tests.containers import engine as eng
from tests.support.pgcluster import PostgresCluster, postgres_bin
from tests.support.real_services import free_port, unavailable, wait_for

FIGURES = eng.FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("container tier figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="session")
def docker() -> eng.Docker:
    try:
        return eng.engine()
    except eng.EngineUnavailable as exc:
        unavailable(f"container tests need a Docker engine: {exc}")
        raise


@pytest.fixture(scope="session")
def base_image(docker: eng.Docker) -> str:
    return eng.base_image(docker)


@pytest.fixture(scope="session")
def image(docker: eng.Docker, base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """This tree's image, built like an operator would (from the lock, BuildKit secrets)."""
    tag = "paper-digest:containers-test"
    log = tmp_path_factory.mktemp("build") / "build.log"
    took = eng.build(docker, eng.ROOT, tag, python_image=base_image, log=log)
    steps = log.read_text().count("CACHED")
    FIGURES["image build"] = f"{took:.1f} s ({steps} steps from BuildKit's cache)"
    FIGURES["image size"] = f"{eng.image_size_mb(docker, tag):.0f} MB"
    return tag


# --- PostgreSQL and Redis of our own --------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    binaries = postgres_bin()
    if binaries is None:
        unavailable("PostgreSQL server binaries are not installed")
        raise AssertionError
    cluster = PostgresCluster(binaries)
    cluster.init()
    yield cluster
    cluster.destroy()


@pytest.fixture
def database_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh database on the test's own cluster, dropped afterwards."""
    name = f"c_{uuid.uuid4().hex[:10]}"
    admin = f"postgres://postgres@127.0.0.1:{pg_cluster.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"postgres://postgres@127.0.0.1:{pg_cluster.port}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def redis_port() -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port, socket_timeout=1)

    def ping() -> bool:
        with contextlib.suppress(redis.RedisError):
            return bool(client.ping())
        return False

    wait_for(ping, what="the test's redis-server", timeout=15)
    yield port
    process.terminate()
    process.wait(10)


@pytest.fixture
def redis_url(redis_port: int) -> str:
    redis.Redis(port=redis_port).flushall()
    return f"redis://127.0.0.1:{redis_port}/0"


# --- the SMTP sink --------------------------------------------------------------------------------
@dataclass
class Sink:
    port: int = 0
    delay: float = 0.0  # seconds before each reply: a slower relay, to catch a batch mid-way
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def recipients(self) -> list[str]:
        with self.lock:
            return [str(m["To"]) for m in self.messages]


@pytest.fixture
def sink() -> Iterator[Sink]:
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    handler = Sink(port=free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    # Containers run as uid 10001: what they read from the host must be readable by others.
    tmp_path.chmod(0o755)
    return tmp_path


# --- a deployment: compose's roles started with docker run ----------------------------------------
@dataclass
class Deployment:
    """web, worker and beat of one image as compose starts them, .env.example's environment with
    the test's services in place of compose's."""

    docker: eng.Docker
    image: str
    env: dict[str, str]
    env_file: Path
    prefix: str
    web_port: int = field(default_factory=free_port)
    started: list[str] = field(default_factory=list)

    def container(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    def role(self, name: str) -> eng.Role:
        options = {"--bind": f"127.0.0.1:{self.web_port}"} if name == "web" else None
        return eng.Role.from_compose(name, self.env, options=options, volume_prefix=self.prefix)

    def start(self, name: str) -> str:
        extra = {"HEALTHCHECK_URL": f"http://127.0.0.1:{self.web_port}/healthz"}
        container = eng.run_role(
            self.docker,
            self.role(name),
            image=self.image,
            container=self.container(name),
            env_file=self.env_file,
            extra_env=extra,
        )
        if container not in self.started:
            self.started.append(container)
        return container

    def wait_healthy(self, timeout: float = 150) -> float:
        """Seconds until the web container's HEALTHCHECK says healthy."""
        import time

        started = time.monotonic()
        name = self.container("web")

        def healthy() -> bool:
            state = eng.health(self.docker, name)
            assert state["Running"], f"web exited:\n{eng.logs(self.docker, name)[-3000:]}"
            return bool(state.get("Health", {}).get("Status") == "healthy")

        wait_for(healthy, what="web's HEALTHCHECK to report healthy", timeout=timeout, every=1)
        return time.monotonic() - started

    def wait_worker_ready(self, timeout: float = 90) -> None:
        name = self.container("worker")

        def ready() -> bool:
            state = eng.health(self.docker, name)
            assert state["Running"], f"worker exited:\n{eng.logs(self.docker, name)[-3000:]}"
            return " ready." in eng.logs(self.docker, name)

        wait_for(ready, what="the worker's 'ready'", timeout=timeout, every=1)

    def manage(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return eng.manage(self.docker, self.image, self.env_file, *args, **kwargs)

    def stop(self, name: str) -> subprocess.CompletedProcess[str]:
        # No -t: the container's own stop timeout, compose's stop_grace_period.
        return self.docker("stop", self.container(name), timeout=300)

    def remove(self) -> None:
        for container in reversed(self.started):
            self.docker("rm", "-f", container, check=False)
        self.started.clear()

    def dump_logs(self) -> None:
        for container in self.started:
            print(f"\n===== {container}:\n{eng.logs(self.docker, container)[-4000:]}")


@pytest.fixture
def deploy(docker: eng.Docker, workdir: Path, database_url: str, redis_url: str, sink: Sink):
    """deploy(image) -> a Deployment on the test's services; containers and volumes removed
    afterwards (their logs printed when the test fails)."""
    from tests.production.compose import env_file_values

    made: list[Deployment] = []
    prefix = f"pdtest-{uuid.uuid4().hex[:6]}"

    def make(image: str, **overrides: str) -> Deployment:
        env = env_file_values()
        env.update(
            DATABASE_URL=database_url,
            CELERY_BROKER_URL=redis_url,
            REDIS_URL=redis_url,
            EMAIL_BACKEND="digest.delivery.mail_backends.SMTPBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(sink.port),
            # The example's placeholders replaced, as an operator must (digest.E101).
            POSTGRES_PASSWORD=uuid.uuid4().hex,
            SECRET_KEY=uuid.uuid4().hex * 2,
            ANYMAIL_WEBHOOK_SECRET=f"hook:{uuid.uuid4().hex}",
            DB_WAIT_TIMEOUT="30",
        )
        env.update(overrides)
        env_file = eng.write_env_file(workdir / f"{prefix}-{len(made)}.env", env)
        deployment = Deployment(docker, image, env, env_file, prefix)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.dump_logs()
        deployment.remove()
    for volume in docker("volume", "ls", "-q").stdout.split():
        if volume.startswith(prefix):
            docker("volume", "rm", "-f", volume, check=False)


def write_readers(path: Path, count: int, *, domain: str = "example.net") -> list[str]:
    emails = [f"reader{i:02d}@{domain}" for i in range(count)]
    lines = ["email,topics,cadence,timezone"]
    lines += [f"{e},diffusion;language models,daily,UTC" for e in emails]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o644)
    return emails


def delivery_statuses(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute("SELECT status, count(*) FROM digest_delivery GROUP BY status")
        return {status: count for status, count in rows.fetchall()}
