"""Delivery-webhook receivers: bounces, complaints and unsubscribes reported by the provider.

anymail authenticates the request (ANYMAIL["WEBHOOK_SECRET"] basic auth, plus the provider's
signature where it has one), parses it into `AnymailTrackingEvent`s and sends the `tracking`
signal once per event: https://anymail.dev/en/stable/sending/tracking/ (the URL, and a
malformed body answered 400: digest/web/webhooks.py)
"""

from __future__ import annotations

import hashlib
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, tracking
from django.db import transaction
from django.dispatch import receiver

from digest.models import Delivery, DeliveryEvent
from subscriptions.models import Subscriber
from subscriptions.readers.services import (
    normalize_email,
    subscriber_suppress,
    subscriber_unsubscribe,
)


@receiver(tracking, dispatch_uid="subscriptions.delivery_event_received")
def delivery_event_received(
    sender: object, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any
) -> None:
    delivery_event_process(event=event, esp_name=esp_name)


def delivery_event_process(*, event: AnymailTrackingEvent, esp_name: str) -> bool:
    """Record the event once and apply its effect on the subscriber; False for a duplicate.

    The record and the effect share a transaction: if the effect fails the webhook answers 500,
    nothing is recorded, and the provider's retry processes the event again.
    """
    delivery = _delivery_of(event)
    with transaction.atomic():
        _, created = DeliveryEvent.objects.get_or_create(
            event_id=_event_id(event, esp_name),
            defaults={
                "event_type": str(event.event_type or "unknown")[:32],
                "delivery": delivery,
                "recipient": (event.recipient or "")[:254],
                "esp_name": esp_name[:32],
                "description": event.description or event.mta_response or "",
                "occurred_at": event.timestamp,
            },
        )
        if not created:
            return False  # providers retry and sometimes send twice: the first one counted
        subscriber = _subscriber_of(event, delivery)
        if subscriber is not None:
            _apply(event, subscriber)
    return True


def _apply(event: AnymailTrackingEvent, subscriber: Subscriber) -> None:
    if event.event_type == EventType.BOUNCED and not _is_soft_bounce(event):
        subscriber_suppress(subscriber=subscriber, reason="bounced")
    elif event.event_type == EventType.COMPLAINED:
        subscriber_suppress(subscriber=subscriber, reason="complained")
    elif event.event_type == EventType.UNSUBSCRIBED:
        subscriber_unsubscribe(subscriber=subscriber, at=event.timestamp)
    # deferred, delivered, opened, ...: recorded, nothing changes for the subscriber. A soft
    # bounce is reported by anymail as `deferred` for most providers.


def _is_soft_bounce(event: AnymailTrackingEvent) -> bool:
    # anymail maps Postmark's "SoftBounce" to `bounced` (Postmark may send a HardBounce later);
    # a full mailbox must not cost a reader their subscription. Every other `bounced` is hard.
    esp_event = event.esp_event
    return isinstance(esp_event, dict) and esp_event.get("Type") == "SoftBounce"


def _event_id(event: AnymailTrackingEvent, esp_name: str) -> str:
    if event.event_id:
        return f"{esp_name}:{event.event_id}"[:255]
    # Some events carry no id (Postmark's opens and deliveries): the same report twice still
    # hashes to the same key, so duplicates are still processed once.
    parts = [
        esp_name,
        str(event.event_type),
        str(event.message_id),
        event.recipient or "",
        event.timestamp.isoformat() if event.timestamp else "",
    ]
    return f"{esp_name}:sha256:{hashlib.sha256('|'.join(parts).encode()).hexdigest()}"


def _delivery_of(event: AnymailTrackingEvent) -> Delivery | None:
    # Every digest carries metadata={"delivery_id": ...} (digest.composing.build.digest_message).
    raw = (event.metadata or {}).get("delivery_id")
    try:
        delivery_id = int(str(raw))
    except ValueError:
        return None
    if not 0 < delivery_id < 2**63:  # a forged id beyond a primary key's range is no delivery
        return None
    return Delivery.objects.select_related("subscriber").filter(pk=delivery_id).first()


def _subscriber_of(event: AnymailTrackingEvent, delivery: Delivery | None) -> Subscriber | None:
    if delivery is not None and (
        not event.recipient or normalize_email(event.recipient) == delivery.subscriber.email
    ):
        return delivery.subscriber
    # Not a digest (a confirmation email), or a forged delivery id: go by the address.
    if not event.recipient:
        return None
    return Subscriber.objects.filter(email=normalize_email(event.recipient)).first()
