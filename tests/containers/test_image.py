"""The image as shipped: built from this tree on the local Debian base, its roles started with
docker/compose.yaml's commands, the day's job run through the containers.

    .venv/bin/pytest -m containers tests/containers/test_image.py
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from tests.containers import engine as eng
from tests.containers.conftest import delivery_statuses, write_readers
from tests.containers.engine import FIGURES
from tests.support.real_services import wait_for

pytestmark = pytest.mark.containers

APP_UID = "10001"  # docker/Dockerfile's `app` user
READERS = 12


def test_roles_start_healthy_unprivileged_and_deliver_the_day(
    docker, image, deploy, workdir, sink, database_url
):
    site = deploy(image)
    started = time.monotonic()
    web = site.start("web")
    to_healthy = site.wait_healthy()
    FIGURES["web: docker run to healthy (HEALTHCHECK interval 30 s)"] = f"{to_healthy:.1f} s"
    worker, beat = site.start("worker"), site.start("beat")
    site.wait_worker_ready()
    time.sleep(3)  # beat's first lines

    # An operator's first look: no ERROR in any role's start (gunicorn's control server was one).
    for container in (web, worker, beat):
        assert eng.health(docker, container)["Running"], container
        log = eng.logs(docker, container)
        assert "ERROR" not in log, f"{container} logged an ERROR at start:\n{log[-3000:]}"
    assert "Listening at: http://127.0.0.1:" in eng.logs(docker, web)

    # Every process of every role runs as the app user; the source tree is read-only to it,
    # var/ (and beat's volume) is its writable place.
    for container in (web, worker, beat):
        processes = eng.process_uids(docker, container)
        assert processes and all(uid == APP_UID for uid, _ in processes), (container, processes)
        probe = docker(
            "exec", container, "sh", "-c",
            "for p in /app /app/digest /app/manage.py /app/templates /opt/venv/lib; do"
            " test -w $p && echo writable: $p; done; touch /app/var/probe && echo var-ok",
        )  # fmt: skip
        assert probe.stdout.strip() == "var-ok", (container, probe.stdout)
    assert "beat: Starting" in eng.logs(docker, beat)

    # The day's job through the containers: the bundled snapshot, readers imported, sent.
    day = datetime.now(UTC).date().isoformat()
    csv = workdir / "readers.csv"
    readers = write_readers(csv, READERS)
    job_started = time.monotonic()
    fetched = site.manage("fetch_papers", "--source", "snapshot", "--date", day)
    mount = f"{csv}:/data/readers.csv:ro"
    imported = site.manage("import_subscribers", "/data/readers.csv", "--confirmed", mounts=[mount])
    sent = site.manage("send_digests", "--date", day, "--wait", timeout=300)
    job = time.monotonic() - job_started
    FIGURES[f"the day's job through the containers ({READERS} readers)"] = f"{job:.1f} s"
    FIGURES["start to a delivered day"] = f"{time.monotonic() - started:.1f} s"

    print(fetched.stdout, imported.stdout, sent.stdout)
    wait_for(lambda: len(sink.recipients()) >= READERS, what="every digest", timeout=60)
    time.sleep(1)  # nothing more may arrive
    assert Counter(sink.recipients()) == dict.fromkeys(readers, 1)
    assert delivery_statuses(database_url) == {"sent": READERS}
    message = sink.messages[0]
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "https://arxiv.org/abs/" in html.get_content()

    # Run again, as after an incident: nobody gets a second copy.
    site.manage("send_digests", "--date", day, "--wait", timeout=300)
    time.sleep(1)
    assert len(sink.recipients()) == READERS

    # The web container serves the site through whitenoise's static files.
    page = docker("exec", web, "python", "-c",
                  "import urllib.request as u;"
                  f"r=u.urlopen(u.Request('http://127.0.0.1:{site.web_port}/',"
                  " headers={'Host':'digest.example.org','X-Forwarded-Proto':'https'}));"
                  "print(r.status)")  # fmt: skip
    assert page.stdout.strip() == "200"

    for name in ("beat", "worker", "web"):
        site.stop(name)
        assert eng.health(docker, site.container(name))["ExitCode"] == 0, name


def test_docker_stop_lets_the_worker_finish_its_batch(
    docker, image, deploy, workdir, sink, database_url
):
    """compose's stop_grace_period: `docker stop` of a worker mid-batch is a warm shutdown that
    finishes the batch (no row left `sending`, none `unknown`)."""
    readers_count = 16
    sink.delay = 0.5  # a slow relay: one batch of 16 takes ~8 s
    site = deploy(image)
    worker_role = site.role("worker")
    assert worker_role.stop_grace >= 60, "compose gives the worker time to finish a batch"
    site.start("web")
    site.wait_healthy()
    site.start("worker")
    site.wait_worker_ready()

    day = datetime.now(UTC).date().isoformat()
    csv = workdir / "readers.csv"
    readers = write_readers(csv, readers_count)
    site.manage("fetch_papers", "--source", "snapshot", "--date", day)
    mount = f"{csv}:/data/readers.csv:ro"
    site.manage("import_subscribers", "/data/readers.csv", "--confirmed", mounts=[mount])
    site.manage("send_digests", "--date", day)  # enqueues the batch and returns

    wait_for(lambda: len(sink.recipients()) >= 2, what="the batch to be under way", timeout=60)
    assert delivery_statuses(database_url).get("sending", 0) >= 1
    stopping = time.monotonic()
    site.stop("worker")  # SIGTERM, then SIGKILL only after the container's stop timeout
    took = time.monotonic() - stopping
    FIGURES["docker stop of a worker mid-batch"] = (
        f"{took:.1f} s (grace {worker_role.stop_grace} s)"
    )

    state = eng.health(docker, site.container("worker"))
    assert state["ExitCode"] == 0 and not state["OOMKilled"], state  # not 137: not killed
    assert took < worker_role.stop_grace
    # The running batches finished; batches not yet started wait in the queue, untouched.
    statuses = delivery_statuses(database_url)
    assert set(statuses) <= {"sent", "queued"}, statuses
    assert statuses["sent"] == len(sink.recipients())
    assert max(Counter(sink.recipients()).values()) == 1

    # A new worker sends the rest: one digest per reader, none twice.
    sink.delay = 0
    site.start("worker")
    site.manage("send_digests", "--date", day, "--wait", timeout=300)
    assert delivery_statuses(database_url) == {"sent": readers_count}
    assert Counter(sink.recipients()) == dict.fromkeys(readers, 1)


def test_a_copied_env_example_is_refused_at_start(docker, image, workdir):
    """`cp .env.example .env` and `up`: the role exits at once, naming what to change."""
    from tests.production.compose import ENV_EXAMPLE

    done = docker(
        "run", "--rm", "--network", "none", "--env-file", str(ENV_EXAMPLE), image,
        "celery", "-A", "digest", "worker",
        check=False, timeout=120,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "digest.E101" in output and "SECRET_KEY" in output
    assert "digest.E102" in output and "STAGING=1" in output
    assert "celery@" not in output  # the worker never started
