"""The readers' Celery tasks: the signup email and the daily purge of unconfirmed signups."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.db import transaction

from subscriptions.readers import retention, services


@shared_task(
    name="subscriptions.send_signup_email",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=3,
)
def send_signup_email(email: str, asked: str = "signup") -> str:
    """The confirmation or manage-link email after a signup or a request for a new link (or
    nothing, see the service). Safe to run twice: the worst case is a second copy of a link."""
    return services.signup_email_send(email=email, asked=asked).value


@shared_task(name="subscriptions.purge_unconfirmed")
def purge_unconfirmed() -> int:
    """Daily: delete signups never confirmed within UNCONFIRMED_RETENTION_DAYS."""
    return retention.subscribers_purge_unconfirmed()


def enqueue_signup_email(email: str, *, asked: str = "signup") -> None:
    """Queue the signup email once the signup is committed. Always called, whatever the
    address, so the answer's timing does not depend on it; a broker outage is logged rather
    than turned into an error page that would differ from the usual answer."""
    transaction.on_commit(lambda: send_signup_email.delay(email, asked), robust=True)
