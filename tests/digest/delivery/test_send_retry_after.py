"""A provider's Retry-After, and waiting out a database restart: the pieces the fault tests
(tests/integration/test_delivery_faults.py) rely on, at their edges."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from anymail.exceptions import AnymailRequestsAPIError
from django.db import OperationalError

from digest.delivery import batch
from digest.delivery.sending_errors import SendOutcome, send_error_outcome, send_error_retry_after
from digest.tasks import retry_countdown


def api_error(status: int, retry_after: str | None = None) -> AnymailRequestsAPIError:
    response = requests.Response()
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return AnymailRequestsAPIError("Postmark API response", response=response)


def test_retry_after_in_seconds_or_as_a_date():
    now = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC)
    assert send_error_retry_after(api_error(429, "7")) == 7
    assert send_error_retry_after(api_error(503, "Fri, 04 Dec 2026 10:00:30 GMT"), now=now) == 30
    assert send_error_retry_after(api_error(503, "Fri, 04 Dec 2026 09:00:00 GMT"), now=now) == 0
    assert send_error_retry_after(api_error(429, "99999999")) == 3600  # not believed beyond
    assert send_error_retry_after(api_error(429, "soon")) is None
    assert send_error_retry_after(api_error(500)) is None
    assert send_error_retry_after(OSError("refused")) is None
    assert send_error_outcome(api_error(429, "7")) is SendOutcome.TRANSIENT


def test_a_retry_waits_at_least_what_the_provider_asked_and_at_most_the_cap(settings):
    settings.DELIVERY_RETRY_BACKOFF, settings.DELIVERY_RETRY_BACKOFF_MAX = 1, 900
    assert all(retry_countdown(0, retry_after=40) >= 40 for _ in range(20))
    assert retry_countdown(0, retry_after=5000) == 900
    assert all(retry_countdown(0) <= 1 for _ in range(20))


def test_work_is_run_again_while_the_database_is_away(monkeypatch):
    monkeypatch.setattr(batch.time, "sleep", lambda seconds: None)
    calls = []

    def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("the database system is shutting down")
        return "done"

    assert batch.when_database_is_back(work, what="testing") == "done"
    assert len(calls) == 3


def test_the_error_goes_up_once_the_wait_is_over(monkeypatch):
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(batch.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(batch.time, "sleep", lambda seconds: None)

    def work() -> None:
        raise OperationalError("connection refused")

    with pytest.raises(OperationalError):
        batch.when_database_is_back(work, what="testing", wait=30)
