"""Keeping only what consent allows: purge unconfirmed signups, erase a reader on request.

An erased or purged address leaves nothing but, for erasure, a hash on the suppression list,
so the address is never mailed again (and a new signup with it is answered but ignored).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from subscriptions.models import Subscriber, Suppression
from subscriptions.readers.services import email_hash


def subscriber_erase(*, subscriber: Subscriber) -> None:
    """Delete the reader, their topics, votes, follows, library and delivery history (all
    cascade from the subscriber row); keep only the hashed address."""
    with transaction.atomic():
        Suppression.objects.get_or_create(
            email_hash=email_hash(subscriber.email), defaults={"reason": "erased"}
        )
        subscriber.delete()


def subscribers_purge_unconfirmed(*, now: datetime | None = None) -> int:
    """Delete signups never confirmed within UNCONFIRMED_RETENTION_DAYS (default a week)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.UNCONFIRMED_RETENTION_DAYS)
    stale = Subscriber.objects.filter(status=Subscriber.Status.PENDING, confirmed_at__isnull=True)
    stale = stale.filter(
        Q(requested_at__lt=cutoff) | Q(requested_at__isnull=True, created_at__lt=cutoff)
    )
    _, per_model = stale.delete()
    return per_model.get(Subscriber._meta.label, 0)
