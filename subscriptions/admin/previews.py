"""What an editor sees of a subscriber's digest: the day they would get now, its preview as
they would see it, and a test copy to the editor's own address. Built by :mod:`digest.composing`,
which is why they sit here in the admin, above the pipeline."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from digest.composing.build import digest_preview, public_links
from digest.emails.render import RenderedEmail
from digest.papers.selectors import latest_listing_day
from subscriptions.models import Subscriber


def subscriber_digest_day(
    *, subscriber: Subscriber, now: dt.datetime | None = None
) -> dt.date | None:
    """The day whose digest the subscriber would get now: the latest listing on or before their
    local date (as the planner picks it)."""
    now = now or timezone.now()
    try:
        local = now.astimezone(ZoneInfo(subscriber.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = now.astimezone(dt.UTC)
    return latest_listing_day(on_or_before=local.date())


def subscriber_digest_preview(*, subscriber: Subscriber, day: dt.date) -> RenderedEmail | None:
    """The digest `subscriber` would get for `day`, with their own links, or None."""
    return digest_preview(subscriber=subscriber, day=day)


def digest_send_test(*, subscriber: Subscriber, day: dt.date, to: str) -> bool:
    """Send `subscriber`'s digest of `day` to `to` (an editor), marked as a test. Returns False
    when there is nothing to send that day."""
    # The editor's copy must not carry the subscriber's own manage and unsubscribe links: a
    # click (or a forwarded copy) would act on the subscriber's subscription.
    rendered = digest_preview(subscriber=subscriber, day=day, links=public_links(day))
    if rendered is None:
        return False
    message = EmailMultiAlternatives(
        subject=f"[Test for {subscriber.email}] {rendered.subject}",
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        # No List-Unsubscribe here: a one-click unsubscribe from the editor's mail client would
        # act on the subscriber's address.
        headers={"Auto-Submitted": "auto-generated", "X-Digest-Test": subscriber.email},
    )
    message.attach_alternative(rendered.html, "text/html")
    message.send()
    return True
