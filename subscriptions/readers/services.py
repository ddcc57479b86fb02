"""Writes about people and consent: every state change of a subscriber happens here."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from digest.emails.links import absolute_url
from digest.emails.render import render_email
from subscriptions.models import Subscriber, Suppression, Topic
from subscriptions.readers.tokens import Purpose, make_token


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


# --- Signup, confirmation and preferences ------------------------------------------------------
# Statuses of someone who confirmed once and has not left: a new signup sends them a manage link.
_CONFIRMED = (Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED)


class SubscriberStateError(Exception):
    """The change asked for does not apply to the subscriber's current status."""


@dataclass(frozen=True, slots=True)
class Preferences:
    """What a reader chooses on the signup and manage forms."""

    topics: tuple[str, ...] = ()
    cadence: str = Subscriber.Cadence.DAILY
    weekday: int = 0
    delivery_hour: int = 7
    timezone: str = "UTC"
    max_papers: int = 10
    min_upvotes: int = 0
    quiet_day_note: bool = False


def _apply_preferences(subscriber: Subscriber, preferences: Preferences) -> None:
    subscriber.cadence = preferences.cadence
    subscriber.weekday = preferences.weekday
    subscriber.delivery_hour = preferences.delivery_hour
    subscriber.timezone = preferences.timezone
    subscriber.max_papers = preferences.max_papers
    subscriber.min_upvotes = preferences.min_upvotes
    subscriber.quiet_day_note = preferences.quiet_day_note


def subscriber_request(
    *,
    email: str,
    preferences: Preferences,
    consent_ip: str | None,
    consent_text: str,
    consent_source: str = "form",
    at: datetime | None = None,
) -> Subscriber | None:
    """A signup from the form. The caller answers the same way whatever happens here, and always
    queues `signup_email_send` for the address, which decides which email (if any) goes out.

    - new, pending, bounced, or unsubscribed before ever confirming: pending with these
      preferences and fresh consent provenance; they must confirm (again).
    - active, paused, or unsubscribed after confirming: nothing changes here (an anonymous form
      must not rewrite a reader's saved topics and settings); they get a manage link by email
      instead, where a former reader can resubscribe with them.
    - suppressed or complained: nothing is stored, nothing is sent. Returns None.
    """
    email = normalize_email(email)
    at = at or timezone.now()
    if is_suppressed(email):
        return None
    with transaction.atomic():
        subscriber, _ = Subscriber.objects.select_for_update().get_or_create(
            email=email, defaults={"status": Subscriber.Status.PENDING}
        )
        if subscriber.status == Subscriber.Status.COMPLAINED:
            return None
        if subscriber.status in _CONFIRMED or _former_reader(subscriber):
            return subscriber
        subscriber.status = Subscriber.Status.PENDING
        subscriber.requested_at = at
        subscriber.consent_ip = consent_ip
        subscriber.consent_source = consent_source
        subscriber.consent_text = consent_text
        _apply_preferences(subscriber, preferences)
        subscriber.full_clean(validate_unique=False)
        subscriber.save()
        topics_replace(subscriber=subscriber, queries=preferences.topics)
    return subscriber


def _former_reader(subscriber: Subscriber) -> bool:
    """Confirmed once, then unsubscribed: their settings wait for them on the manage page."""
    return (
        subscriber.status == Subscriber.Status.UNSUBSCRIBED and subscriber.confirmed_at is not None
    )


def subscriber_confirm(*, subscriber: Subscriber, at: datetime | None = None) -> Subscriber:
    """Double opt-in: a pending subscriber becomes active. Confirming twice changes nothing."""
    if subscriber.status in _CONFIRMED:
        return subscriber
    if subscriber.status != Subscriber.Status.PENDING or is_suppressed(subscriber.email):
        raise SubscriberStateError("This subscription can no longer be confirmed.")
    subscriber.status = Subscriber.Status.ACTIVE
    subscriber.confirmed_at = at or timezone.now()
    subscriber.save(update_fields=["status", "confirmed_at", "updated_at"])
    return subscriber


def subscriber_update_preferences(
    *, subscriber: Subscriber, preferences: Preferences
) -> Subscriber:
    with transaction.atomic():
        _apply_preferences(subscriber, preferences)
        subscriber.full_clean(validate_unique=False)
        subscriber.save()
        topics_replace(subscriber=subscriber, queries=preferences.topics)
    return subscriber


def subscriber_preferences(*, subscriber: Subscriber) -> Preferences:
    """The reader's current choices, as the manage form would submit them unchanged."""
    return Preferences(
        topics=tuple(t.query for t in subscriber.topics.all()),
        cadence=subscriber.cadence,
        weekday=subscriber.weekday,
        delivery_hour=subscriber.delivery_hour,
        timezone=subscriber.timezone,
        max_papers=subscriber.max_papers,
        min_upvotes=subscriber.min_upvotes,
        quiet_day_note=subscriber.quiet_day_note,
    )


def subscriber_add_topic(*, subscriber: Subscriber, query: str) -> bool:
    """Add one topic (already validated by the caller's form) to the reader's preferences, as
    the manage form would; False if they already have it."""
    current = subscriber_preferences(subscriber=subscriber)
    query = query.strip()
    if query in current.topics:
        return False
    subscriber_update_preferences(
        subscriber=subscriber,
        preferences=dataclasses.replace(current, topics=(*current.topics, query)),
    )
    return True


def subscriber_pause(*, subscriber: Subscriber) -> Subscriber:
    """Stop digests without leaving; planning skips anyone not active."""
    if subscriber.status == Subscriber.Status.PAUSED:
        return subscriber
    if subscriber.status != Subscriber.Status.ACTIVE:
        raise SubscriberStateError("Only an active subscription can be paused.")
    subscriber.status = Subscriber.Status.PAUSED
    subscriber.save(update_fields=["status", "updated_at"])
    return subscriber


def subscriber_resume(*, subscriber: Subscriber) -> Subscriber:
    if subscriber.status == Subscriber.Status.ACTIVE:
        return subscriber
    if subscriber.status != Subscriber.Status.PAUSED:
        raise SubscriberStateError("Only a paused subscription can be resumed.")
    subscriber.status = Subscriber.Status.ACTIVE
    subscriber.save(update_fields=["status", "updated_at"])
    return subscriber


def subscriber_resubscribe(*, subscriber: Subscriber) -> Subscriber:
    """Undo an unsubscribe from the page that confirmed it.

    Someone who confirmed before goes straight back to active: the button is behind a signed,
    expiring manage link that only their inbox received, and their original consent record is
    kept. Someone who never confirmed goes back to pending (the caller sends a confirmation).
    """
    if subscriber.status in _CONFIRMED:
        return subscriber
    if subscriber.status != Subscriber.Status.UNSUBSCRIBED or is_suppressed(subscriber.email):
        raise SubscriberStateError("This address can't be resubscribed from here.")
    subscriber.status = (
        Subscriber.Status.ACTIVE if subscriber.confirmed_at else Subscriber.Status.PENDING
    )
    subscriber.unsubscribed_at = None
    subscriber.save(update_fields=["status", "unsubscribed_at", "updated_at"])
    return subscriber


# --- One-off emails ----------------------------------------------------------------------------
class SignupEmail(StrEnum):
    CONFIRM = "confirm"
    MANAGE_LINK = "manage_link"
    NONE = "none"


def _absolute(name: str, token: str) -> str:
    return absolute_url(name, token)


def signup_email_send(*, email: str, asked: str = "signup") -> SignupEmail:
    """Send whatever a signup (`asked="signup"`) or a request for a new link (`"link"`) for
    `email` calls for: a confirmation link to a pending subscriber, a manage link to a confirmed
    or former reader, nothing to anyone else (suppressed, gone)."""
    email = normalize_email(email)
    subscriber = Subscriber.objects.filter(email=email).first()
    if subscriber is None or is_suppressed(email):
        return SignupEmail.NONE
    if subscriber.status == Subscriber.Status.PENDING:
        kind = SignupEmail.CONFIRM
        context: dict[str, object] = {
            "confirm_url": _absolute(
                "subscriptions:confirm", make_token(subscriber, Purpose.CONFIRM)
            ),
            "max_age_days": settings.CONFIRM_MAX_AGE_DAYS,
        }
    elif subscriber.status in _CONFIRMED or _former_reader(subscriber):
        kind = SignupEmail.MANAGE_LINK
        context = {
            "manage_url": _absolute("subscriptions:manage", make_token(subscriber, Purpose.MANAGE)),
            "max_age_days": settings.MANAGE_MAX_AGE_DAYS,
        }
    else:
        return SignupEmail.NONE
    context.update(
        asked=asked,
        subscriber=subscriber,
        topics=[t.query for t in subscriber.topics.all()],
        unsubscribe_url=_absolute(
            "subscriptions:unsubscribe", make_token(subscriber, Purpose.UNSUBSCRIBE)
        ),
    )
    transactional_send(to=subscriber.email, template=kind.value, context=context)
    return kind


def transactional_send(*, to: str, template: str, context: dict[str, object]) -> None:
    """One transactional email (a link the reader asked for): the `template` prefix's subject,
    plain text and HTML, through the configured email backend."""
    rendered = render_email(template, context)
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()


# --- Delivery feedback (webhooks) --------------------------------------------------------------
_SUPPRESSION_STATUS = {
    "bounced": Subscriber.Status.BOUNCED,
    "complained": Subscriber.Status.COMPLAINED,
}


def subscriber_suppress(*, subscriber: Subscriber, reason: str) -> Subscriber:
    """A hard bounce or a complaint: never mail this address again.

    `reason` is "bounced" or "complained". The status stops the planner and the send-time check;
    the hashed Suppression row outlives erasure and blocks a new signup. A complaint is never
    downgraded to a bounce.
    """
    status = _SUPPRESSION_STATUS[reason]
    with transaction.atomic():
        Suppression.objects.get_or_create(
            email_hash=email_hash(subscriber.email), defaults={"reason": reason}
        )
        if subscriber.status != Subscriber.Status.COMPLAINED:
            subscriber.status = status
            subscriber.save(update_fields=["status", "updated_at"])
    return subscriber
