"""The Docker side of the container tier: the engine, the base image, image builds, and the
roles of docker/compose.yaml turned into `docker run` arguments. No pytest here.

No image registry is reachable on these machines, so the base is made locally with debootstrap
(docker/base-image.sh, cached under /var/cache/paper-digest-containers) and every build uses the
engine's built-in Dockerfile frontend (no `# syntax=` image to pull).
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.production.commands import interpolate
from tests.production.compose import load_compose

ROOT = Path(__file__).resolve().parents[2]
# Figures printed at the end of the run (conftest's pytest_terminal_summary).
FIGURES: dict[str, str] = {}
LOG_DIR = Path(os.environ.get("CONTAINERS_LOG_DIR", "/var/log/paper-digest-containers"))


class EngineUnavailable(Exception):
    pass


def docker_client() -> str | None:
    """Debian's docker.io client matches its engine and builds with BuildKit without buildx."""
    for candidate in ("/usr/bin/docker", shutil.which("docker")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class Docker:
    client: str

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 600, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.client, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
        if check and done.returncode:
            raise RuntimeError(
                f"docker {' '.join(args[:3])} failed ({done.returncode}):\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def answers(self) -> bool:
        done = self("info", "--format", "{{.ServerVersion}}", check=False, timeout=20)
        return done.returncode == 0


def engine() -> Docker:
    """The local engine, started (data under /var/lib/docker, log in LOG_DIR) if none answers."""
    client = docker_client()
    if client is None:
        raise EngineUnavailable("no docker client installed")
    docker = Docker(client)
    if docker.answers():
        return docker
    dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    if not os.access(dockerd, os.X_OK):
        raise EngineUnavailable("no Docker engine (dockerd) installed")
    if os.geteuid() != 0:
        raise EngineUnavailable("dockerd is not running and only root may start it")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with (LOG_DIR / "dockerd.log").open("ab") as log:
        subprocess.Popen(
            [dockerd, "--data-root", "/var/lib/docker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the test run: the next run finds it up
        )
    deadline = time.monotonic() + 60
    while not docker.answers():
        if time.monotonic() > deadline:
            raise EngineUnavailable(f"dockerd did not answer within 60 s (see {LOG_DIR})")
        time.sleep(1)
    return docker


def base_image(docker: Docker) -> str:
    """docker/base-image.sh's tag (debootstrap once, then cached on the machine)."""
    done = subprocess.run(
        [str(ROOT / "docker" / "base-image.sh")],
        env={**os.environ, "DOCKER": docker.client},
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"docker/base-image.sh failed:\n{done.stderr[-4000:]}")
    return done.stdout.strip().splitlines()[-1]


# --- the host's pip: its CA bundle and index, handed to the build as secrets ----------------------
def _pip_config() -> dict[str, str]:
    done = subprocess.run(
        ["python3", "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    values = {}
    for line in done.stdout.splitlines():
        key, _, value = line.partition("=")
        values[key.split(".", 1)[-1]] = value.strip().strip("'\"")
    return values


def host_ca_bundle() -> Path | None:
    """The CA bundle the host's pip trusts (PIP_CERT, pip's `cert`, then the usual variables)."""
    config = _pip_config()
    for candidate in (
        os.environ.get("PIP_CERT"),
        config.get("cert"),
        os.environ.get("REQUESTS_CA_BUNDLE"),
        os.environ.get("SSL_CERT_FILE"),
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def host_pip_conf(directory: Path) -> Path | None:
    """A pip.conf with the host's index settings that can work inside a build (http/https only:
    local directories and file:// indexes are not in the build)."""
    config = _pip_config()
    env_index = os.environ.get("PIP_INDEX_URL")
    index = env_index or config.get("index-url", "")
    extra = os.environ.get("PIP_EXTRA_INDEX_URL") or config.get("extra-index-url", "")
    remote = [u for u in extra.split() if u.startswith(("http://", "https://"))]
    if not index.startswith(("http://", "https://")) and not remote:
        return None
    parser = configparser.ConfigParser()
    parser["global"] = {}
    if index.startswith(("http://", "https://")):
        parser["global"]["index-url"] = index
    if remote:
        parser["global"]["extra-index-url"] = " ".join(remote)
    path = directory / "pip.conf"
    with path.open("w") as out:
        parser.write(out)
    return path


def build(
    docker: Docker,
    context: Path,
    tag: str,
    *,
    python_image: str,
    log: Path,
    buildkit: bool = True,
) -> float:
    """docker build of `context`'s docker/Dockerfile, with the host's CA bundle and index as
    build secrets (BuildKit); returns the seconds it took. The legacy builder (buildkit=False)
    is for an older release whose Dockerfile names a `# syntax=` image (no registry here)."""
    args = ["build", "--network", "host", "-f", "docker/Dockerfile", "-t", tag]
    args += ["--build-arg", f"PYTHON_IMAGE={python_image}"]
    with tempfile.TemporaryDirectory() as scratch:
        if buildkit:
            ca = host_ca_bundle()
            if ca is not None:
                args += ["--secret", f"id=ca_bundle,src={ca}"]
            pip_conf = host_pip_conf(Path(scratch))
            if pip_conf is not None:
                args += ["--secret", f"id=pip_conf,src={pip_conf}"]
        started = time.monotonic()
        done = docker(
            *args,
            ".",
            cwd=context,
            env={**os.environ, "DOCKER_BUILDKIT": "1" if buildkit else "0"},
            timeout=1800,
            check=False,
        )
        took = time.monotonic() - started
    log.write_text(done.stdout + done.stderr)
    if done.returncode:
        raise RuntimeError(f"build of {tag} failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return took


def trusting_base(docker: Docker, python_image: str) -> str:
    """`python_image` whose pip trusts the host's CA bundle and index, for building a release
    from before the build secrets existed (its Dockerfile cannot take them)."""
    ca = host_ca_bundle()
    tag = f"{python_image}-hostpip"
    with tempfile.TemporaryDirectory() as scratch:
        context = Path(scratch)
        lines = [f"FROM {python_image}"]
        if ca is not None:
            shutil.copy(ca, context / "extra-ca.pem")
            lines += [
                "COPY extra-ca.pem /usr/local/share/host-ca.pem",
                "RUN cat /etc/ssl/certs/ca-certificates.crt /usr/local/share/host-ca.pem"
                " > /usr/local/share/pip-ca.pem",
                "ENV PIP_CERT=/usr/local/share/pip-ca.pem",
            ]
        pip_conf = host_pip_conf(context)
        if pip_conf is not None:
            lines += ["COPY pip.conf /etc/pip.conf"]
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        docker("build", "--network", "host", "-t", tag, ".", cwd=context, timeout=600,
               env={**os.environ, "DOCKER_BUILDKIT": "0"})  # fmt: skip
    return tag


def image_size_mb(docker: Docker, tag: str) -> float:
    size = docker("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip()
    return int(size) / 1_000_000


# --- compose's roles as docker run arguments ------------------------------------------------------
def _seconds(duration: str) -> int:
    """compose durations: 90s, 2m, 1m30s, 1h."""
    total, number = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1}
    for char in str(duration):
        if char.isdigit() or char == ".":
            number += char
        elif char in units:
            total += float(number) * units[char]
            number = ""
    return int(total + (float(number) if number else 0))


@dataclass
class Role:
    """One service of docker/compose.yaml: what `docker run` needs to start it as compose
    would (command, environment, health check, stop grace period, volumes)."""

    name: str
    command: list[str]
    environment: dict[str, str]
    run_options: list[str]
    stop_grace: int

    @classmethod
    def from_compose(
        cls,
        name: str,
        env: Mapping[str, str],
        *,
        options: Mapping[str, str] | None = None,
        volume_prefix: str = "",
    ) -> Role:
        service = load_compose()["services"][name]
        command = [interpolate(str(a), env) for a in service["command"]]
        for option, value in (options or {}).items():
            command[command.index(option) + 1] = value
        declared = service.get("environment", {})
        if isinstance(declared, list):  # the `- NAME=value` form
            declared = dict(str(item).partition("=")[::2] for item in declared)
        environment = {k: interpolate(str(v), env) for k, v in declared.items()}
        run: list[str] = []
        check = service.get("healthcheck") or {}
        if check.get("disable") or check.get("test") in (["NONE"], "NONE"):
            run.append("--no-healthcheck")
        elif check.get("test"):
            test = check["test"]
            # A string and CMD-SHELL run in a shell; CMD is an exec form (docker run takes a
            # shell string, so its arguments are joined).
            if isinstance(test, str):
                shell = test
            else:
                shell = test[1] if test[0] == "CMD-SHELL" else " ".join(test[1:])
            run += ["--health-cmd", shell.replace("$$", "$")]
            for key, flag in (
                ("interval", "--health-interval"),
                ("timeout", "--health-timeout"),
                ("start_period", "--health-start-period"),
            ):
                if key in check:
                    run += [flag, f"{_seconds(check[key])}s"]
            if "retries" in check:
                run += ["--health-retries", str(check["retries"])]
        for volume in service.get("volumes", []):
            source, _, target = str(volume).partition(":")
            run += ["-v", f"{volume_prefix}{source}:{target}"]
        grace = _seconds(service.get("stop_grace_period", "10s"))
        run += ["--stop-timeout", str(grace)]
        return cls(name, command, environment, run, grace)


def write_env_file(path: Path, values: Mapping[str, str]) -> Path:
    """The `env_file: ../.env` compose passes (NAME=value lines, verbatim)."""
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def run_role(
    docker: Docker,
    role: Role,
    *,
    image: str,
    container: str,
    env_file: Path,
    extra_env: Mapping[str, str] | None = None,
) -> str:
    env = {**role.environment, **(extra_env or {})}
    flags = [f"--env={k}={v}" for k, v in env.items()]
    docker("rm", "-f", container, check=False)
    docker(
        "run", "-d", "--name", container, "--network", "host", "--env-file", str(env_file),
        *flags, *role.run_options, image, *role.command,
    )  # fmt: skip
    return container


def manage(
    docker: Docker,
    image: str,
    env_file: Path,
    *args: str,
    mounts: Sequence[str] = (),
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """`python manage.py ...` in a one-off container of `image` (compose's `run --rm web ...`),
    through the entrypoint (waits for the database)."""
    volumes = [f"-v={m}" for m in mounts]
    return docker(
        "run", "--rm", "--network", "host", "--env-file", str(env_file), *volumes,
        image, "python", "/app/manage.py", *args,
        timeout=timeout, check=check,
    )  # fmt: skip


def health(docker: Docker, container: str) -> dict[str, Any]:
    state = docker("inspect", "--format", "{{json .State}}", container).stdout
    return dict(json.loads(state))


def logs(docker: Docker, container: str) -> str:
    done = docker("logs", container, check=False)
    return done.stdout + done.stderr


def process_uids(docker: Docker, container: str) -> list[tuple[str, str]]:
    """(uid, command) of every process in the container, as the host's kernel sees them."""
    out = docker("top", container, "-eo", "pid,uid,args").stdout.splitlines()[1:]
    return [(line.split(None, 2)[1], line.split(None, 2)[2]) for line in out if line.strip()]
