"""What editors do to subscribers from the admin: suppress, reactivate, resend a confirmation,
export, and preview or test-send a digest. The admin only parses input and calls these."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Iterator

from django.db import transaction
from django.utils import timezone

from subscriptions.models import Subscriber, Suppression
from subscriptions.readers.importing import spreadsheet_safe
from subscriptions.readers.services import SubscriberStateError, email_hash, is_suppressed

# Suppression reasons written here. An editor can lift only their own suppression of someone who
# was still receiving mail, or a bounce; a reader's own unsubscribe, a complaint or an erasure is
# theirs to undo, not ours.
SUPPRESSED_BY_EDITOR = "editor"
SUPPRESSED_AFTER_OPT_OUT = "editor-after-opt-out"
LIFTABLE_REASONS = (SUPPRESSED_BY_EDITOR, "bounced")

_RECEIVING = (Subscriber.Status.PENDING, Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED)

EXPORT_COLUMNS = ("email", "status", "topics", "cadence", "weekday", "hour", "timezone", "cap")


def _locked(subscriber: Subscriber) -> Subscriber:
    return Subscriber.objects.select_for_update().get(pk=subscriber.pk)


def _refresh(subscriber: Subscriber, locked: Subscriber) -> Subscriber:
    for name in ("status", "unsubscribed_at", "updated_at"):
        setattr(subscriber, name, getattr(locked, name))
    return subscriber


def subscriber_suppress_by_editor(*, subscriber: Subscriber, at: dt.datetime | None = None) -> bool:
    """Never mail this address again (until an editor reactivates it). Someone still receiving
    mail is unsubscribed now; queued deliveries are suppressed at send time. Returns whether
    anything changed. (services.subscriber_suppress is the webhooks' version, for bounces and
    complaints.)"""
    with transaction.atomic():
        locked = _locked(subscriber)
        receiving = locked.status in _RECEIVING
        _, created = Suppression.objects.get_or_create(
            email_hash=email_hash(locked.email),
            defaults={"reason": SUPPRESSED_BY_EDITOR if receiving else SUPPRESSED_AFTER_OPT_OUT},
        )
        if receiving:
            locked.status = Subscriber.Status.UNSUBSCRIBED
            locked.unsubscribed_at = at or timezone.now()
            locked.save(update_fields=["status", "unsubscribed_at", "updated_at"])
        _refresh(subscriber, locked)
        return created or receiving


def subscriber_reactivate(*, subscriber: Subscriber) -> bool:
    """Back to active, for someone who confirmed once and whose stop was not their own choice:
    paused, bounced, or suppressed by an editor. Raises SubscriberStateError saying why not
    otherwise. Returns whether anything changed."""
    with transaction.atomic():
        locked = _locked(subscriber)
        if locked.status == Subscriber.Status.ACTIVE:
            return False
        if locked.status == Subscriber.Status.COMPLAINED:
            raise SubscriberStateError("reported the digest as spam: only their own signup counts")
        if locked.status == Subscriber.Status.PENDING or not locked.confirmed_at:
            raise SubscriberStateError("never confirmed: resend the confirmation instead")
        suppression = Suppression.objects.filter(email_hash=email_hash(locked.email)).first()
        if locked.status == Subscriber.Status.UNSUBSCRIBED and (
            suppression is None or suppression.reason != SUPPRESSED_BY_EDITOR
        ):
            raise SubscriberStateError("unsubscribed themselves: they can resubscribe from a link")
        if suppression is not None:
            if suppression.reason not in LIFTABLE_REASONS:
                raise SubscriberStateError(f"on the suppression list ({suppression.reason})")
            suppression.delete()
        locked.status = Subscriber.Status.ACTIVE
        locked.unsubscribed_at = None
        locked.save(update_fields=["status", "unsubscribed_at", "updated_at"])
        _refresh(subscriber, locked)
        return True


def subscriber_resend_confirmation(*, subscriber: Subscriber) -> bool:
    """Queue the confirmation email again, through the task the signup form uses. Only a pending
    subscriber who is not suppressed gets one; returns whether it was queued."""
    if subscriber.status != Subscriber.Status.PENDING or is_suppressed(subscriber.email):
        return False
    from subscriptions.readers.tasks import enqueue_signup_email  # the task module imports Celery

    enqueue_signup_email(subscriber.email)
    return True


def subscribers_export_rows(*, subscribers: Iterable[Subscriber]) -> Iterator[list[str]]:
    """The header and one row per subscriber, in the columns `import_subscribers` reads (plus
    status, which it ignores), so an export can be edited and imported back.

    A cell that a spreadsheet would run as a formula (a topic such as "-survey", an address
    starting with "=") gets a leading "'", which the importer removes again.
    """
    yield list(EXPORT_COLUMNS)
    for subscriber in subscribers:
        yield [
            spreadsheet_safe(value)
            for value in (
                subscriber.email,
                subscriber.status,
                ";".join(topic.query for topic in subscriber.topics.all()),
                subscriber.cadence,
                calendar.day_name[subscriber.weekday].lower(),
                str(subscriber.delivery_hour),
                subscriber.timezone,
                str(subscriber.max_papers),
            )
        ]
