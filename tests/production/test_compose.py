"""docker/compose.yaml runs the commands the end-to-end test runs natively, keeps one beat, waits
for healthy dependencies, and takes every setting from the .env file that .env.example
documents; that environment passes Django's deployment checklist."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.production.commands import COMMANDS, interpolate, native
from tests.production.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    env_file_documented,
    env_file_values,
    load_compose,
    parse_yaml_subset,
    settings_variables,
)
from tests.support.real_services import unavailable

APP_SERVICES = ("web", "worker", "beat")


@pytest.fixture(scope="module")
def services() -> dict:
    return load_compose()["services"]


def test_services_run_the_shared_commands(services):
    assert set(services) >= {"postgres", "redis", "web", "worker", "beat", "mailpit"}
    for role, command in COMMANDS.items():
        assert services[role]["command"] == list(command), role


def test_worker_concurrency_comes_from_the_environment():
    worker = native(COMMANDS["worker"], env={"WORKER_CONCURRENCY": "8"})
    assert worker[worker.index("--concurrency") + 1] == "8"
    assert interpolate("${WORKER_CONCURRENCY:-2}", {}) == "2"


def test_exactly_one_beat(services):
    beat = services["beat"]
    assert beat.get("scale", 1) == 1
    assert (beat.get("deploy") or {}).get("replicas", 1) == 1
    # A single beat is the only process with the schedule.
    assert all("beat" not in services[name]["command"] for name in ("web", "worker"))


def test_app_services_take_settings_from_the_env_file_and_wait_for_healthy_services(services):
    for name in APP_SERVICES:
        service = services[name]
        env_files = service["env_file"]
        env_files = [env_files] if isinstance(env_files, str) else env_files
        assert "../.env" in env_files, name
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name
        depends = service["depends_on"]
        assert "redis" in depends, name
        assert all(d["condition"] == "service_healthy" for d in depends.values()), name
        assert all(services[d].get("healthcheck", {}).get("test") for d in depends), name
    assert {"postgres", "redis"} <= set(services["web"]["depends_on"])
    # Only web migrates (compose starts the others once it is healthy).
    assert services["web"]["environment"]["MIGRATE_ON_START"] == "1"
    assert all(
        "MIGRATE_ON_START" not in (services[n].get("environment") or {}) for n in ("worker", "beat")
    )


def test_web_healthcheck_is_healthz_and_postgres_keeps_its_data(services):
    assert services["web"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "/app/docker/healthcheck.py",
    ]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    mailpit_ports = " ".join(services["mailpit"]["ports"] + services["mailpit"]["expose"])
    assert "8025" in mailpit_ports and "1025" in mailpit_ports
    # The catcher only with `--profile staging`; everything else starts with a plain `up`.
    assert services["mailpit"]["profiles"] == ["staging"]
    assert [name for name, s in services.items() if s.get("profiles")] == ["mailpit"]


def test_subset_reader_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    text = COMPOSE_FILE.read_text()
    assert parse_yaml_subset(text) == yaml.safe_load(text)


def test_env_example_documents_every_variable_the_settings_read():
    names, prefixes = settings_variables()
    assert {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "LOG_FORMAT"} <= names
    assert "ANYMAIL_" in prefixes
    documented = env_file_documented()
    missing = sorted(names - documented)
    assert not missing, f".env.example does not mention {missing}; add them with a comment"
    for prefix in prefixes:
        assert any(name.startswith(prefix) for name in documented), prefix
    assert "ANYMAIL_WEBHOOK_SECRET" in env_file_values()


def test_env_example_values_are_safe_for_compose():
    for name, value in env_file_values().items():
        assert "$" not in value, f"{name}: compose would read `$` as a variable"
        assert value[:1] not in "\"'", f"{name}: quotes would be part of the value"


def test_dockerfile_builds_a_slim_non_root_image():
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "python:3.11-slim" in dockerfile
    # The pinned, hashed lock (make lock), never the dev extras; tests/containers builds it.
    assert "pip install --require-hashes" in dockerfile and "requirements.lock" in dockerfile
    assert "[dev]" not in dockerfile
    assert "collectstatic --noinput" in dockerfile
    assert "\nUSER app\n" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "healthcheck.py" in dockerfile
    assert 'CMD ["gunicorn", "digest.wsgi"' in dockerfile
    for copied in ("manage.py", "config", "digest", "subscriptions", "templates", "docker"):
        assert f"COPY {copied} " in dockerfile, copied
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "var", ".env"} <= set(ignored)


def test_docker_compose_validates_the_file(tmp_path):
    """Debian's docker-compose validates offline (no engine needed); skipped where absent,
    except under CI=true, whose script installs it."""
    binary = shutil.which("docker-compose")
    if binary is None:
        unavailable("docker-compose is not installed (apt-get install docker-compose)")
    # compose wants ../.env to exist: lay the file out in a scratch tree, never in the repo.
    (tmp_path / "docker").mkdir()
    shutil.copy(COMPOSE_FILE, tmp_path / "docker" / "compose.yaml")
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    result = subprocess.run(
        [
            binary,
            "--env-file",
            str(tmp_path / ".env"),
            "-f",
            str(tmp_path / "docker" / "compose.yaml"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _env_example_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ANYMAIL_"))}
    for name in env_file_documented():
        env.pop(name, None)
    env.update(env_file_values())
    # No PostgreSQL needed for the checklist: a throwaway SQLite file.
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'check.sqlite3'}", VAR_DIR=str(tmp_path))
    return env


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_env_example_copied_as_is_is_refused(tmp_path: Path):
    """DEBUG=0 with the example's placeholders and its staging mail path: the checks name each
    placeholder and the catcher, and the command fails."""
    result = _check(_env_example_environment(tmp_path))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "digest.E101" in output and "digest.E102" in output
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD", "ANYMAIL_WEBHOOK_SECRET"):
        assert name in output, name


def test_check_deploy_passes_with_the_env_example_filled_in(tmp_path: Path):
    """The example with its placeholders replaced passes Django's deployment checklist: as
    staging (STAGING=1, mail to Mailpit) and as production (a provider instead of Mailpit)."""
    env = _env_example_environment(tmp_path)
    for name, value in env_file_values().items():
        if "change-me" in value:
            env[name] = value.replace("change-me", "filled-in-" + "x" * 20)
    staging = _check({**env, "STAGING": "1"})
    assert staging.returncode == 0, staging.stdout + staging.stderr
    refused = _check(env)
    assert refused.returncode != 0 and "digest.E102" in refused.stdout + refused.stderr
    production = _check(
        {
            **env,
            "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
            "ANYMAIL_POSTMARK_SERVER_TOKEN": "server-token",
        }
    )
    assert production.returncode == 0, production.stdout + production.stderr


def test_beat_has_a_health_check_on_its_liveness_timestamp(services):
    # Beat writes a timestamp every minute (digest/monitoring/liveness.py); the check reads it,
    # and tests/integration/test_monitoring_services.py stops a real beat to see it fail.
    check = services["beat"]["healthcheck"]
    assert not check.get("disable")
    assert check["test"] == ["CMD", "python", "manage.py", "beat_alive"]
