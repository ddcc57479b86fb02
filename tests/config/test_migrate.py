"""`manage.py migrate` alone is enough for a fresh site: the rate limits' cache table exists."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from django.conf import settings

MANAGE = str(Path(settings.BASE_DIR) / "manage.py")


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, MANAGE, *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _fresh_site(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"VAR_DIR": str(tmp_path), "DEBUG": "0", "SECRET_KEY": "test-" + "k" * 50}
    env |= {"SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1,testserver"}
    env |= {"EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    return env


SIGNUP = """
from django.test import Client
client = Client(raise_request_exception=False)
response = client.post("/subscribe/", {
    "email": "new@example.org", "topics": "diffusion", "cadence": "daily",
    "delivery_hour": "7", "timezone": "UTC", "max_papers": "10",
})
print(response.status_code, response.get("Location"))
"""


def test_migrate_alone_then_a_signup_works(tmp_path):
    env = _fresh_site(tmp_path)
    _run(env, "migrate", "--noinput")
    tables = {
        name
        for (name,) in sqlite3.connect(tmp_path / "digest.sqlite3").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert "django_cache" in tables
    answer = _run(env, "shell", "--no-imports", "-c", SIGNUP).splitlines()[-1]
    assert answer.split() == ["302", "/subscribe/check-your-inbox/"]
    # Again (every release runs it): the table is kept, rate limit counts included.
    _run(env, "migrate", "--noinput")
    rows = sqlite3.connect(tmp_path / "digest.sqlite3").execute("SELECT count(*) FROM django_cache")
    assert rows.fetchone()[0] > 0


FOLLOW_BEFORE = """
import datetime as dt
from django.db import connection
from django.db.migrations.loader import MigrationLoader
# The models as they were before the move (Follow in digest), written through their own state.
state = MigrationLoader(connection).project_state(
    [
        ("digest", "0004_paper_ai_summary_label"),
        ("subscriptions", "0002_votes_and_recommendations_switch"),
    ]
)
apps = state.apps
now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
paper = apps.get_model("digest", "Paper").objects.create(
    arxiv_id="2412.00001", title="A followed paper", listed_on=now.date()
)
reader = apps.get_model("subscriptions", "Subscriber").objects.create(
    email="ada@example.org", status="active", delivery_hour=7, max_papers=10
)
apps.get_model("digest", "Follow").objects.create(
    subscriber=reader, paper=paper, followed_at=now, expires_at=now + dt.timedelta(days=60)
)
"""

FOLLOW_AFTER = """
from subscriptions.models import Follow
follow = Follow.objects.select_related("subscriber", "paper").get()
print(follow.subscriber.email, follow.paper.arxiv_id)
"""


def test_follows_survive_the_move_of_their_model_to_subscriptions(tmp_path):
    # A site migrated before Follow moved from digest to subscriptions keeps its follows: the
    # move changes Django's state only, the table and its rows stay.
    env = _fresh_site(tmp_path)
    _run(env, "migrate", "--noinput", "digest", "0004")
    _run(env, "migrate", "--noinput", "subscriptions", "0002")
    _run(env, "shell", "--no-imports", "-c", FOLLOW_BEFORE)
    _run(env, "migrate", "--noinput")
    assert _run(env, "shell", "--no-imports", "-c", FOLLOW_AFTER).split() == [
        "ada@example.org",
        "2412.00001",
    ]
