"""Writes about people and consent: every state change of a subscriber happens here."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from subscriptions.models import Subscriber, Suppression, Topic


def normalize_email(email: str) -> str:
    """Trim and lower-case the whole address: one row per mailbox, whatever the casing typed."""
    return email.strip().lower()


def email_hash(email: str) -> str:
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()


def is_suppressed(email: str) -> bool:
    return Suppression.objects.filter(email_hash=email_hash(email)).exists()


def topics_replace(*, subscriber: Subscriber, queries: Iterable[str]) -> list[Topic]:
    """Make the subscriber's topics exactly `queries` (in order, duplicates dropped)."""
    wanted = list(dict.fromkeys(q.strip() for q in queries if q.strip()))
    with transaction.atomic():
        subscriber.topics.exclude(query__in=wanted).delete()
        existing = set(subscriber.topics.values_list("query", flat=True))
        Topic.objects.bulk_create(
            [Topic(subscriber=subscriber, query=q) for q in wanted if q not in existing]
        )
    return list(subscriber.topics.all())


def subscriber_unsubscribe(*, subscriber: Subscriber, at: datetime | None = None) -> Subscriber:
    """Stop all mail to this subscriber now; queued deliveries are suppressed at send time."""
    if subscriber.status != Subscriber.Status.UNSUBSCRIBED:
        subscriber.status = Subscriber.Status.UNSUBSCRIBED
        subscriber.unsubscribed_at = at or timezone.now()
        subscriber.save(update_fields=["status", "unsubscribed_at", "updated_at"])
    return subscriber
