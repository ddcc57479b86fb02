"""Issue 15's web faults, reproduced as an operator met them: gunicorn with production settings
(DEBUG off, Postmark configured with its webhook secret, ADMINS set), released with `migrate`
alone on a fresh database, then the webhook URLs and a first signup over HTTP."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.real_services import free_port, wait_for

pytestmark = pytest.mark.services

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
SECRET = "hookuser:long-random-password"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    dropped = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env |= {
        "VAR_DIR": str(tmp_path),
        "DEBUG": "0",
        "SECRET_KEY": "a-long-random-production-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "SECURE_SSL_REDIRECT": "0",
        "ADMINS": "ops@example.org",
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "server-token",
        # The Postmark API is never reached: the signup email waits for its task, and tasks run
        # in-process here; point the API at a closed port so nothing leaves the machine.
        "ANYMAIL_POSTMARK_API_URL": f"http://127.0.0.1:{free_port()}/",
        "ANYMAIL_WEBHOOK_SECRET": SECRET,
    }
    manage = [str(BIN / "python"), "manage.py"]
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"]):
        result = subprocess.run(
            [*manage, *step], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
        )
        assert result.returncode == 0, result.stdout + result.stderr
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "digest.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, what="gunicorn", timeout=60)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def auth(credentials: str = SECRET) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def test_webhooks_and_first_signup_after_migrate_alone(site, tmp_path):
    with httpx.Client(base_url=site, timeout=30) as http:
        # Providers not configured: no such URL, whoever asks.
        for esp in ("mailgun", "amazon_ses", "sendgrid"):
            for headers in ({}, auth()):
                response = http.post(f"/anymail/{esp}/tracking/", content=b"{}", headers=headers)
                assert response.status_code == 404, (esp, response.status_code)
        tracking = "/anymail/postmark/tracking/"
        assert http.post(tracking, content=b"{}").status_code == 400
        assert http.post(tracking, content=b"{}", headers=auth("hook:wrong")).status_code == 400
        for body in (b"", b"{", b"[]", b"null", b"\xff\xfe\x00\x01binary"):
            response = http.post(
                tracking, content=body, headers={**auth(), "Content-Type": "application/json"}
            )
            assert response.status_code == 400, (body, response.status_code)

        # The first signup after `migrate` alone (the rate limits' cache table exists).
        form = http.get("/subscribe/")
        assert form.status_code == 200
        assert "script-src 'self'" in form.headers["content-security-policy"]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token
        signup = {
            "csrfmiddlewaretoken": token[1],
            "email": "reader@example.org",
            "topics": "diffusion",
            "cadence": "daily",
            "delivery_hour": "7",
            "timezone": "UTC",
            "max_papers": "10",
        }
        # The CSRF cookie is Secure (DEBUG off): sent back by hand over this plain-HTTP socket.
        cookie = (
            form.cookies.get("csrftoken")
            or re.search(r"csrftoken=([^;]+)", form.headers["set-cookie"])[1]
        )
        response = http.post("/subscribe/", data=signup, headers={"Cookie": f"csrftoken={cookie}"})
        assert response.status_code == 302, response.text[:500]
        assert response.headers["location"] == "/subscribe/check-your-inbox/"

        # A bounce for that address suppresses it, once however often Postmark sends it.
        bounce = {
            "RecordType": "Bounce",
            "ID": 42,
            "Type": "HardBounce",
            "Email": "reader@example.org",
            "BouncedAt": "2026-11-24T07:33:54Z",
            "Metadata": {},
        }
        for _ in range(2):
            response = http.post(
                tracking,
                content=json.dumps(bounce).encode(),
                headers={**auth(), "Content-Type": "application/json"},
            )
            assert response.status_code == 200
    database = sqlite3.connect(tmp_path / "digest.sqlite3")
    (status,) = database.execute(
        "SELECT status FROM subscriptions_subscriber WHERE email = 'reader@example.org'"
    ).fetchone()
    assert status == "bounced"
    assert database.execute("SELECT count(*) FROM digest_deliveryevent").fetchone() == (1,)
