"""Build a subscriber's digest for a day: pick the papers, render them, make the message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from email.utils import make_msgid
from functools import lru_cache

from django.conf import settings
from django.urls import reverse

from digest.composing.assemble import DayRenderer
from digest.composing.cards import Links
from digest.composing.content import DigestContent, Update
from digest.composing.mime import DigestMessage
from digest.composing.recommended import recommended_select
from digest.composing.selection import (
    DayContext,
    digest_select,
    sent_papers_by_subscriber,
    updates_by_subscriber,
)
from digest.emails.links import absolute_url
from digest.emails.render import RenderedEmail, render_email
from subscriptions.library.selectors import ReaderPositives, positives_by_subscriber
from subscriptions.models import Subscriber
from subscriptions.readers.feeds import feed_token
from subscriptions.readers.tokens import Purpose, make_token


class DayBuilder:
    """Everything a day's digests share (papers, index, rendered cards), built once per batch."""

    def __init__(self, day: date) -> None:
        self.day = day
        self.context = DayContext(day)
        self.renderer = DayRenderer(day)

    def select(
        self,
        subscriber: Subscriber,
        *,
        history: tuple[set[str], date | None] | None = None,
        topics: list[str] | None = None,
        positives: ReaderPositives | None = None,
        updates: list[Update] | None = None,
    ) -> DigestContent:
        """The subscriber's papers; a batch passes its `history`, `topics`, `positives` and
        `updates`, read for all its subscribers at once (sent_papers_by_subscriber,
        topics_by_subscriber, positives_by_subscriber, updates_by_subscriber)."""
        if history is None:
            history = sent_papers_by_subscriber(subscriber_ids=[subscriber.pk], day=self.day).get(
                subscriber.pk, (set(), None)
            )
        sent, last_day = history
        if topics is None:
            topics = [t.query for t in subscriber.topics.all()]
        if positives is None:
            found_positives = positives_by_subscriber(subscriber_ids=[subscriber.pk])
            positives = found_positives.get(subscriber.pk, ReaderPositives())
        if updates is None:
            found = updates_by_subscriber(subscriber_ids=[subscriber.pk], context=self.context)
            updates = found.get(subscriber.pk, [])
        if positives.owned:
            # A paper in the reader's library counts as read: neither listed nor recommended.
            sent = sent | positives.owned
        content = digest_select(
            subscriber=subscriber,
            topics=topics,
            context=self.context,
            already_sent=sent,
            last_digest_day=last_day,
            updates=updates,
        )
        recommended_select(
            content=content,
            positives=positives,
            topics=topics,
            context=self.context,
            already_sent=sent,
        )
        return content

    def render(
        self,
        content: DigestContent,
        *,
        delivery_id: int | None = None,
        links: Links | None = None,
    ) -> RenderedEmail:
        if links is None:
            links = subscriber_links(content.subscriber, day=self.day, delivery_id=delivery_id)
        if content.is_empty:
            return render_email(
                "quiet",
                {
                    "reason": content.quiet_reason,
                    "manage_url": links.manage_url,
                    "unsubscribe_url": links.unsubscribe_url,
                },
            )
        return self.renderer.render(content, links)


def subscriber_links(subscriber: Subscriber, *, day: date, delivery_id: int | None) -> Links:
    if delivery_id is not None:
        view_url = absolute_url(
            "digest:view", make_token(subscriber, Purpose.VIEW, extra=delivery_id)
        )
    else:
        view_url = absolute_url("digest:archive", day.isoformat())
    return Links(
        view_url=view_url,
        manage_url=absolute_url("subscriptions:manage", make_token(subscriber, Purpose.MANAGE)),
        unsubscribe_url=unsubscribe_url(subscriber),
        feed_url=absolute_url("feeds:reader", feed_token(subscriber)),
        card_bases=card_bases(subscriber),
    )


def card_bases(subscriber: Subscriber) -> dict[str, str]:
    """The reader's prefixes of the per-card links (cards.CARD_ACTIONS): one token per kind
    signed per digest; the card's paper (and vote) go after it (`<prefix><arxiv_id>/?v=more`)."""
    return {
        kind: _card_prefix(settings.SITE_URL, kind) + make_token(subscriber, purpose) + "/"
        for kind, purpose in (("feedback", Purpose.FEEDBACK), ("follow", Purpose.FOLLOW))
    }


_SLOT = "XPDSLOTX"  # letters only: reverse() leaves it as is


@lru_cache(maxsize=8)
def _card_prefix(site_url: str, kind: str) -> str:
    """SITE_URL + the path before the token in `subscriptions:<kind>`."""
    path = reverse(f"subscriptions:{kind}", args=[_SLOT, "0000.00000"])
    return site_url + path.partition(_SLOT)[0]


def unsubscribe_url(subscriber: Subscriber) -> str:
    return absolute_url("subscriptions:unsubscribe", make_token(subscriber, Purpose.UNSUBSCRIBE))


def list_headers(subscriber: Subscriber, *, unsubscribe: str | None = None) -> dict[str, str]:
    """RFC 2369 / RFC 8058 headers: one HTTPS one-click URI (`unsubscribe`, when the body's
    link is already signed); a mailto only where inbound mail is wired to it."""
    uris = [f"<{unsubscribe or unsubscribe_url(subscriber)}>"]
    if settings.UNSUBSCRIBE_MAILTO:
        token = make_token(subscriber, Purpose.UNSUBSCRIBE)
        uris.append(f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject={token}>")
    return {
        "List-Unsubscribe": ", ".join(uris),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        # One list, its name in the reader's cadence ("Paper Digest weekly digest").
        "List-Id": f"{settings.SITE_NAME} {subscriber.cadence} digest "
        f"<digest.{settings.MAIL_DOMAIN}>",
    }


def digest_message(
    *,
    subscriber: Subscriber,
    email: RenderedEmail,
    delivery_id: int | None,
    day: date,
    links: Links | None = None,
) -> DigestMessage:
    """The message to send: bare To address, both parts, list headers (with the unsubscribe
    link of `links`, those the body was rendered with), our own Message-ID."""
    message_id = make_msgid(
        idstring=f"digest.{day:%Y%m%d}.{delivery_id or 'preview'}", domain=settings.MAIL_DOMAIN
    )
    message = DigestMessage(
        subject=email.subject,
        body=email.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        headers={
            **list_headers(subscriber, unsubscribe=links.unsubscribe_url if links else None),
            "Message-ID": message_id,
        },
        tags=["digest"],
        metadata={"delivery_id": str(delivery_id or ""), "digest_date": day.isoformat()},
    )
    message.attach_alternative(email.html, "text/html")
    if settings.POSTMARK_MESSAGE_STREAM and "postmark" in settings.EMAIL_BACKEND:
        # Postmark takes bulk mail only on a broadcast stream; other ESPs would reject the key.
        message.esp_extra = {"MessageStream": settings.POSTMARK_MESSAGE_STREAM}
    return message


@dataclass(frozen=True, slots=True)
class Preview:
    content: DigestContent
    email: RenderedEmail | None


def digest_preview_content(
    *, subscriber: Subscriber, day: date, links: Links | None = None
) -> Preview:
    builder = DayBuilder(day)
    content = builder.select(subscriber)
    if content.is_empty and not subscriber.quiet_day_note:
        return Preview(content, None)
    return Preview(content, builder.render(content, links=links))


def digest_preview(
    *, subscriber: Subscriber, day: date, links: Links | None = None
) -> RenderedEmail | None:
    """Exactly what `subscriber` would get for `day` (None: nothing would be sent); with
    `links`, those in place of the subscriber's own signed links."""
    return digest_preview_content(subscriber=subscriber, day=day, links=links).email


def public_links(day: date) -> Links:
    """Links that act on nobody's subscription, for a copy sent to someone else (an editor's
    test): the day's public digest and the home page."""
    home = settings.SITE_URL + reverse("home")
    return Links(
        view_url=absolute_url("digest:archive", day.isoformat()),
        manage_url=home,
        unsubscribe_url=home,
        feed_url=settings.SITE_URL + reverse("feeds:trending"),
    )
