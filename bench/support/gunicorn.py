"""gunicorn for bench/web.py: the server with production settings on a throwaway database,
and the CPU time of its workers, the load generator and the rest of the machine (Linux /proc)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from support.django_env import ROOT


def request(  # one request on a new connection, as gunicorn's sync workers close each one
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


# --- the server ---------------------------------------------------------------------------------
def server_environment(var_dir: Path, port: int) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Real services and anything that would change the settings under test stay out.
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CSRF_TRUSTED_ORIGINS"}
        and not key.startswith(("ANYMAIL_", "EMAIL_", "SECURE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        VAR_DIR=str(var_dir),
        DEBUG="0",
        SECRET_KEY="bench-web-only-not-a-real-secret-key-0123456789abcdef",
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=f"http://127.0.0.1:{port}",
        SECURE_SSL_REDIRECT="0",
        SIGNUP_RATE_PER_IP="1000000/m",
        SIGNUP_RATE_PER_EMAIL="1000000/m",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


class Gunicorn:
    """`gunicorn digest.wsgi` in its own process group; stop() sends SIGTERM, waits, then kills."""

    def __init__(self, env: dict[str, str], port: int, workers: int, log_path: Path):
        self.port = port
        self.log_path = log_path
        self.log = log_path.open("wb")
        command = [sys.executable, "-m", "gunicorn", "digest.wsgi", "-w", str(workers)]
        command += ["-b", f"127.0.0.1:{port}", "--log-level", "warning"]
        self.popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, workers: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.popen.returncode}:\n{self.tail()}")
            try:
                status, _, _ = request(self.port, "GET", "/healthz")
                if status == 200 and len(self.worker_pids()) >= workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {timeout:.0f} s:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        return [pid for pid, ppid in _processes() if ppid == self.popen.pid]

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 30.0) -> str:
        """SIGTERM (gunicorn finishes its requests), wait, SIGKILL the group as a last resort."""
        try:
            if self.popen.poll() is not None:
                return f"had exited ({self.popen.returncode})"
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
                return f"stopped by SIGTERM ({self.popen.returncode})"
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
                return "killed (did not stop within the grace period)"
        finally:
            self.log.close()


# --- CPU accounting (Linux /proc; figures are left out elsewhere) -------------------------------
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) "


def _processes() -> list[tuple[int, int]]:
    """(pid, parent pid) of every process visible in /proc."""
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            found.append((int(entry.name), int(fields[1])))
    return found


def process_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes."""
    total = 0
    for pid in pids:
        if fields := _stat_fields(pid):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def machine_busy() -> float | None:
    """CPU seconds the whole machine has spent not idle (all cores)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS
