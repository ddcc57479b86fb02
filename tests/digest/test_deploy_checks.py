"""The start-up checks for a copied .env.example (digest/deploy_checks.py)."""

from __future__ import annotations

import pytest

from digest.deploy_checks import check_example_placeholders, check_mail_to_the_staging_catcher


@pytest.fixture
def production(settings, monkeypatch):
    settings.DEBUG = False
    settings.SECRET_KEY = "a-real-key-" + "k" * 50
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:real"}
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.EMAIL_HOST = "localhost"
    monkeypatch.delenv("STAGING", raising=False)
    return settings


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_real_values_pass(production):
    assert check_example_placeholders() == []
    assert check_mail_to_the_staging_catcher() == []


def test_each_placeholder_is_named(production, monkeypatch):
    production.SECRET_KEY = "change-me-to-a-long-random-value-0123456789"
    production.ANYMAIL = {"WEBHOOK_SECRET": "change-me-webhook-user:change-me-webhook-password"}
    monkeypatch.setenv("POSTGRES_PASSWORD", "change-me-postgres-password")
    [error] = check_example_placeholders()
    assert error.id == "digest.E101"
    for name in ("SECRET_KEY", "ANYMAIL_WEBHOOK_SECRET", "POSTGRES_PASSWORD"):
        assert name in error.msg


def test_mail_to_the_catcher_needs_staging(production, monkeypatch):
    production.EMAIL_BACKEND = "digest.delivery.mail_backends.SMTPBackend"
    production.EMAIL_HOST = "mailpit"
    assert ids(check_mail_to_the_staging_catcher()) == ["digest.E102"]
    monkeypatch.setenv("STAGING", "1")
    assert check_mail_to_the_staging_catcher() == []


def test_the_laptop_is_left_alone(production, monkeypatch):
    production.DEBUG = True
    production.SECRET_KEY = "change-me"
    production.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    production.EMAIL_HOST = "mailpit"
    assert check_example_placeholders() == [] and check_mail_to_the_staging_catcher() == []
