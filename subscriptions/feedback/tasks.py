"""The feedback's Celery task: the Follow-link email asked for on a paper's archive page."""

from __future__ import annotations

import smtplib

from celery import shared_task
from django.db import transaction

from subscriptions.feedback import follow_links


@shared_task(
    name="subscriptions.send_follow_link",
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=3,
)
def send_follow_link(email: str, arxiv_id: str) -> str:
    """A subscriber's Follow link for one paper, asked for on its archive page (or nothing,
    see the service). A retry after a failed send may send it; a sent one is not sent again."""
    return follow_links.follow_link_send(email=email, arxiv_id=arxiv_id).value


def enqueue_follow_link(email: str, arxiv_id: str) -> None:
    """Queue the Follow-link email, whatever the address (as enqueue_signup_email)."""
    transaction.on_commit(lambda: send_follow_link.delay(email, arxiv_id), robust=True)
