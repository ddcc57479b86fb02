"""The dotted paths operators' files and process managers name keep working after the project
moved to `config/` (DESIGN: `digest.settings`, `digest.wsgi`, `-A digest`), as do the other
documented paths: mail backends, the rate limits' client IP, the task names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery.app.utils import find_app
from django.conf import settings
from django.utils.module_loading import import_string

import config.celery
import config.settings
import config.wsgi

ROOT = Path(__file__).resolve().parents[2]


def test_old_settings_module_is_the_same_settings():
    import digest.settings as old

    names = [name for name in dir(config.settings) if name.isupper()]
    assert len(names) > 50
    assert {name: getattr(old, name) for name in names} == {
        name: getattr(config.settings, name) for name in names
    }


def test_old_wsgi_module_serves_the_same_application():
    import digest.wsgi as old

    assert old.application is config.wsgi.application


@pytest.mark.parametrize("name", ["digest", "digest.celery", "config", "config.celery"])
def test_celery_dash_a_finds_the_one_app(name):
    assert find_app(name) is config.celery.app


def test_a_process_started_with_the_old_settings_module_runs(tmp_path):
    # What an operator's `.env` with DJANGO_SETTINGS_MODULE=digest.settings does at start.
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "digest.settings", "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "path",
    [
        "digest.delivery.mail_backends.SMTPBackend",
        "digest.delivery.mail_backends.OutboxEmailBackend",
        "digest.mail_backends.SMTPBackend",
        "digest.mail_backends.OutboxEmailBackend",
        "anymail.backends.postmark.EmailBackend",
    ],
)
def test_documented_email_backends_import(path):
    assert callable(import_string(path))


def test_the_rate_limits_client_ip_setting_resolves():
    assert callable(import_string(settings.RATELIMIT_IP_META_KEY))


@pytest.mark.parametrize(
    "task",
    [
        "digest.fetch_day",
        "digest.send_batch",
        "digest.plan_deliveries",
        "digest.check_health",
        "digest.refresh_trending",
        "digest.refresh_followed",
        "subscriptions.send_signup_email",
        "subscriptions.send_follow_link",
        "subscriptions.purge_unconfirmed",
    ],
)
def test_task_names_are_registered(task):
    # Queued messages name their task: a rename would strand them in Redis across an upgrade.
    app = config.celery.app
    app.loader.import_default_modules()  # what a worker does at start (autodiscovery)
    assert task in app.tasks


def test_beat_schedule_names_registered_tasks():
    app = config.celery.app
    app.loader.import_default_modules()
    app.finalize()
    schedule = app.conf.beat_schedule
    assert schedule
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)
