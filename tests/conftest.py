"""Shared fixtures. Tests run against the embedded defaults unless a test asks for a real service."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _outbox_in_tmp(settings, tmp_path):
    # Never write into the developer's var/outbox from a test.
    settings.EMAIL_FILE_PATH = str(tmp_path / "outbox")
    settings.SITE_URL = "https://digest.example.org"
