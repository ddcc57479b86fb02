"""An upgrade, as docs/operations.md "Upgrading" tells an operator to do it: a database migrated
and filled by the previous release's image, then backup, stop beat and the workers, migrate with
the new image, start the new image's roles. Nothing is lost, no digest is sent twice, and the
next day is delivered.

The previous release is main at PREVIOUS_RELEASE, built the same way on the same base; its
Dockerfile predates the build secrets, so the host's CA bundle and index reach its pip through a
derived base image instead, and the legacy builder ignores its `# syntax=` line (no registry).
The built release is kept (a release's image does not change), so later runs reuse it.
"""

from __future__ import annotations

import dataclasses
import subprocess
import tarfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.containers import engine as eng
from tests.containers.conftest import delivery_statuses, write_readers
from tests.containers.engine import FIGURES
from tests.support.pgcluster import postgres_bin
from tests.support.real_services import unavailable

pytestmark = pytest.mark.containers

PREVIOUS_RELEASE = "8150ebe"
READERS = 8


@pytest.fixture(scope="session")
def previous_image(docker, base_image, tmp_path_factory) -> str:
    tag = f"paper-digest:release-{PREVIOUS_RELEASE}"
    if docker("image", "inspect", tag, check=False).returncode == 0:
        return tag
    found = subprocess.run(
        ["git", "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"], cwd=eng.ROOT, check=False
    )
    if found.returncode:
        unavailable(f"the previous release {PREVIOUS_RELEASE} is not in this clone's history")
    tree = tmp_path_factory.mktemp("previous-release")
    archive = tree / "release.tar"
    subprocess.run(
        ["git", "archive", "--format=tar", "-o", str(archive), PREVIOUS_RELEASE],
        cwd=eng.ROOT,
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(tree / "src", filter="data")
    took = eng.build(
        docker,
        tree / "src",
        tag,
        python_image=eng.trusting_base(docker, base_image),
        log=tree / "build.log",
        buildkit=False,
    )
    FIGURES[f"previous release ({PREVIOUS_RELEASE}) build"] = f"{took:.1f} s"
    return tag


def counts(database_url: str) -> dict[str, int]:
    tables = ("subscriptions_subscriber", "subscriptions_topic", "digest_paper", "digest_delivery")
    found = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in tables:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 (constants)
            found[table] = row[0] if row else 0
    return found


def test_upgrade_from_the_previous_release_by_the_runbook(
    docker, image, previous_image, deploy, workdir, sink, database_url, pg_cluster
):
    FIGURES[f"image size, previous release ({PREVIOUS_RELEASE})"] = (
        f"{eng.image_size_mb(docker, previous_image):.0f} MB"
    )
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    today = datetime.now(UTC).date().isoformat()

    # The previous release in production: migrated by its web container, a day delivered.
    old = deploy(previous_image)
    old.start("web")
    old.wait_healthy()
    old.start("worker")
    old.start("beat")
    old.wait_worker_ready()
    csv = workdir / "readers.csv"
    readers = write_readers(csv, READERS)
    old.manage("fetch_papers", "--source", "snapshot", "--date", yesterday)
    mount = f"{csv}:/data/readers.csv:ro"
    old.manage("import_subscribers", "/data/readers.csv", "--confirmed", mounts=[mount])
    old.manage("send_digests", "--date", yesterday, "--wait", timeout=300)
    assert Counter(sink.recipients()) == dict.fromkeys(readers, 1)
    before = counts(database_url)
    assert before["digest_delivery"] == READERS

    # --- the runbook (docs/operations.md "Upgrading") ---
    upgrade_started = time.monotonic()
    # 1. Backup.
    binaries = postgres_bin()
    assert binaries is not None
    backup = workdir / "backup.dump"
    subprocess.run(
        [str(binaries / "pg_dump"), "--format=custom", "--file", str(backup), database_url],
        check=True,
        timeout=120,
    )
    assert backup.stat().st_size > 10_000
    # 2. Stop beat, then the workers (a warm shutdown finishes their batches).
    old.stop("beat")
    old.stop("worker")
    # 3. Migrate with the new image, in a one-off container (the old web still serves).
    new = dataclasses.replace(old, image=image, started=[])
    migrated = new.manage("migrate", "--noinput")
    assert "ERROR" not in migrated.stdout + migrated.stderr
    # 4. Start the new image's roles: web replaces the old one, then the workers and beat.
    new.start("web")
    new.wait_healthy()
    new.start("worker")
    new.start("beat")
    new.wait_worker_ready()
    FIGURES["upgrade by the runbook (backup to the new roles running)"] = (
        f"{time.monotonic() - upgrade_started:.1f} s"
    )
    for role in ("web", "worker", "beat"):
        running = docker("inspect", "--format", "{{.Config.Image}}", new.container(role))
        assert running.stdout.strip() == image, role

    # Nothing lost; the day already delivered is not sent again.
    assert counts(database_url) == before
    new.manage("send_digests", "--date", yesterday, "--wait", timeout=300)
    assert len(sink.recipients()) == READERS
    assert delivery_statuses(database_url) == {"sent": READERS}

    # The day goes on: today's listing, one digest per reader by the new image.
    new.manage("fetch_papers", "--source", "snapshot", "--date", today)
    new.manage("send_digests", "--date", today, "--wait", timeout=300)
    assert Counter(sink.recipients()) == dict.fromkeys(readers, 2)
    assert delivery_statuses(database_url) == {"sent": 2 * READERS}
    for role in ("web", "worker", "beat"):
        log = eng.logs(docker, new.container(role))
        assert "ERROR" not in log, f"{role} after the upgrade:\n{log[-3000:]}"
