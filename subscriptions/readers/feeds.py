"""The address of a reader's private Atom feed: signing it, reading it back, replacing it.

A feed token is like an unsubscribe token (subscriptions.readers.tokens): it never expires,
ignores the token version (so revoking the manage links leaves the feed reader alone), survives a
SECRET_KEY rotation through SECRET_KEY_FALLBACKS, and carries no address, only the subscriber's
id and their feed generation. It can only read that reader's feed. "New feed address" on the
manage page bumps the generation, which revokes the old address and nothing else.

What a request with a bad address gets (digest.web.feeds): a tampered, truncated, foreign or
replaced token is FeedNotFound (404, no hint whose it was); a token we signed for a reader who has
left (unsubscribed, bounced, complained, or erased: the row is gone) is FeedGone (410).
"""

from __future__ import annotations

from django.core import signing
from django.db.models import F

from subscriptions.models import Subscriber

# A salt of its own: no other link of ours reads as a feed address, nor this one as another.
SALT = "subscriptions.readers.feeds"

GONE = (Subscriber.Status.UNSUBSCRIBED, Subscriber.Status.BOUNCED, Subscriber.Status.COMPLAINED)


class FeedNotFound(Exception):
    """Not one of our feed addresses, or one that was replaced."""


class FeedGone(Exception):
    """One of our feed addresses, for a reader who has left: feed readers should stop polling."""


def feed_token(subscriber: Subscriber) -> str:
    # Signer, not TimestampSigner: nothing reads an age, and the address stays shorter.
    return signing.Signer(salt=SALT).sign_object(
        [subscriber.pk, subscriber.feed_generation], compress=False
    )


def feed_subscriber(token: str) -> Subscriber:
    """The reader whose feed this is, or FeedNotFound / FeedGone."""
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError) as exc:
        raise FeedNotFound from exc
    if not (
        isinstance(payload, list)
        and len(payload) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in payload)
    ):
        raise FeedNotFound
    subscriber = Subscriber.objects.filter(pk=payload[0]).first()
    if subscriber is None:
        # The signature is ours, so the reader existed: erased (see retention's erase).
        raise FeedGone
    if payload[1] != subscriber.feed_generation:
        raise FeedNotFound
    if subscriber.status in GONE:
        raise FeedGone
    return subscriber


def feed_address_renew(*, subscriber: Subscriber) -> Subscriber:
    """Revoke the reader's feed address and give them a new one."""
    Subscriber.objects.filter(pk=subscriber.pk).update(feed_generation=F("feed_generation") + 1)
    subscriber.refresh_from_db(fields=["feed_generation"])
    return subscriber


def deliver_by_set(*, subscriber: Subscriber, deliver_by: str) -> Subscriber:
    """Email, feed, or both; a feed-only reader's digest is still built on their schedule."""
    subscriber.deliver_by = Subscriber.DeliverBy(deliver_by)
    subscriber.save(update_fields=["deliver_by", "updated_at"])
    return subscriber
