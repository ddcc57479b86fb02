"""What a send error means for the delivery row: rejected, retry later, or failed for good.

One table for every backend the project supports: django-anymail's ESP backends in production,
Django's SMTP backend in development and in the integration tests. See
shared/reference/email-rules.md ("Delivery webhooks") and anymail's exceptions
(https://anymail.dev/en/stable/sending/exceptions/).
"""

from __future__ import annotations

import smtplib
from datetime import datetime
from enum import StrEnum

import requests
from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused

from digest.sources.http import retry_after_seconds


class SendOutcome(StrEnum):
    # The provider refused the recipient: retrying would be refused again (and hurts reputation).
    REJECTED = "rejected"
    # The provider (or the path to it) is unavailable for now: re-queue the row, retry with backoff.
    TRANSIENT = "transient"
    # The request itself is wrong (bad credentials, bad payload): retrying cannot help.
    FAILED = "failed"


# 429 is a 4xx but means "slow down", the one client error that a later retry fixes.
_RETRYABLE_HTTP = frozenset({408, 429})


def send_error_outcome(exc: BaseException) -> SendOutcome:
    """Classify an exception raised by `connection.send_messages` (or `connection.open`)."""
    if isinstance(exc, AnymailRecipientsRefused):
        return SendOutcome.REJECTED
    if isinstance(exc, AnymailAPIError):
        return _anymail_api_outcome(exc)
    if isinstance(exc, AnymailError):
        # Serialization, unsupported feature, invalid address, configuration: our side, for good.
        return SendOutcome.FAILED
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _smtp_refused_outcome(exc)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendOutcome.TRANSIENT
    if isinstance(exc, smtplib.SMTPResponseException):
        # RFC 5321 4.2.1: 4yz is a transient negative completion, 5yz a permanent one.
        return SendOutcome.TRANSIENT if 400 <= exc.smtp_code < 500 else SendOutcome.FAILED
    if isinstance(exc, smtplib.SMTPException):
        return SendOutcome.FAILED
    if isinstance(exc, (OSError, requests.ConnectionError, requests.Timeout)):
        # Connection refused or reset, DNS failure, socket timeout: the server may be back soon.
        return SendOutcome.TRANSIENT
    return SendOutcome.FAILED


def _anymail_api_outcome(exc: AnymailAPIError) -> SendOutcome:
    # anymail re-raises a requests failure as a class deriving from both AnymailRequestsAPIError
    # and the original requests exception, so a timeout is still a requests.Timeout.
    if isinstance(exc, (requests.Timeout, requests.ConnectionError)):
        return SendOutcome.TRANSIENT
    if isinstance(exc.__cause__, (requests.Timeout, requests.ConnectionError, OSError)):
        return SendOutcome.TRANSIENT
    status = exc.status_code
    if status is None:
        # No HTTP answer and no network error: an unparseable response. Treat as the provider's
        # fault, like a 5xx.
        return SendOutcome.TRANSIENT
    if status >= 500 or status in _RETRYABLE_HTTP:
        return SendOutcome.TRANSIENT
    return SendOutcome.FAILED


def _smtp_refused_outcome(exc: smtplib.SMTPRecipientsRefused) -> SendOutcome:
    # Every recipient was refused (a digest has one). A 4xx refusal is greylisting or a full
    # mailbox: try again later. A 5xx refusal (or none given) is a rejection.
    codes = [code for code, _ in exc.recipients.values()]
    if codes and all(400 <= code < 500 for code in codes):
        return SendOutcome.TRANSIENT
    return SendOutcome.REJECTED


# A Retry-After longer than this is not believed (a misconfigured proxy); the task's own backoff
# cap applies anyway.
_RETRY_AFTER_MAX = 3600.0


def send_error_retry_after(exc: BaseException, *, now: datetime | None = None) -> float | None:
    """Seconds the provider asked us to wait (an HTTP `Retry-After` on a 429 or 503, as
    delta-seconds or an HTTP date; RFC 9110 10.2.3), or None when it said nothing usable."""
    response = getattr(exc, "response", None)
    if getattr(response, "status_code", None) not in (429, 503):
        return None
    headers = getattr(response, "headers", None)
    seconds = retry_after_seconds(
        headers.get("Retry-After") if headers is not None else None, now=now
    )
    return None if seconds is None else min(seconds, _RETRY_AFTER_MAX)


def send_error_text(exc: BaseException, limit: int = 500) -> str:
    """A short reason for the row's `error` column (anymail's str() includes the response)."""
    try:
        text = str(exc)
    except Exception:
        # anymail's __str__ describes the HTTP response, and fails when there was none.
        text = " ".join(str(arg) for arg in exc.args)
    return f"{type(exc).__name__}: {text}"[:limit]
