"""Shared fixtures: tests use the embedded defaults unless one asks for a real service."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _outbox_in_tmp(settings, tmp_path):
    # Never write into the developer's var/outbox from a test.
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox")
    settings.SITE_URL = "https://digest.example.org"
    settings.MAIL_DOMAIN = "digest.example.org"


@pytest.fixture
def file_outbox(settings, tmp_path):
    """The project's default backend (pytest-django swaps in locmem): .eml + .html files."""
    settings.EMAIL_BACKEND = "digest.delivery.mail_backends.OutboxEmailBackend"
    return tmp_path / "outbox"
