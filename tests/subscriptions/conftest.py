"""Fixtures for the reader's pages: mail in memory, a clean rate-limit cache, helpers."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache

CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture(autouse=True)
def mailoutbox_locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def mask_csrf() -> Callable[[bytes], bytes]:
    return lambda body: CSRF.sub(b'name="csrfmiddlewaretoken" value="MASKED"', body)


def signup_data(email: str = "new@example.org", **overrides: str) -> dict[str, str]:
    data = {
        "email": email,
        "topics": "diffusion transformer\ncat:cs.CL",
        "cadence": "daily",
        "weekday": "0",
        "delivery_hour": "7",
        "timezone": "Europe/Paris",
        "max_papers": "10",
        "website": "",
    }
    data.update(overrides)
    return data
