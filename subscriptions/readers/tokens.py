"""Signed links, one salt per purpose, so a token for one purpose is refused by the others.

https://docs.djangoproject.com/en/5.2/topics/signing/
Confirm and manage tokens expire and carry the subscriber's token version, so bumping the version
revokes them. Unsubscribe tokens never expire and ignore the version: they can only unsubscribe,
and a link in an old email must keep working (RFC 8058; providers expect at least 60 days).
Feedback tokens (the "More / Less like this" links) behave like unsubscribe tokens: they can only
vote (or add a topic), and a card in an old email keeps working. One is signed per reader per
digest; the card's paper and the vote travel beside it in the URL, so nothing is signed per card.
Follow tokens are the same kind: they can only follow or unfollow a paper for their reader.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from functools import lru_cache

from django.conf import settings
from django.core import signing

from subscriptions.models import Subscriber


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"
    VIEW = "view"  # the personal "view in browser" page of one delivery
    FEEDBACK = "feedback"  # votes on papers from the email's cards
    FOLLOW = "follow"  # follow a paper from a card (the paper is in the URL, not the token)


class TokenError(Exception):
    """The link is expired, tampered with, revoked, or meant for another purpose."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


# Links that must keep working in old emails: no expiry, and a token-version bump leaves them be.
_NEVER_REVOKED = (Purpose.UNSUBSCRIBE, Purpose.FEEDBACK, Purpose.FOLLOW)


def _salt(purpose: Purpose) -> str:
    # The salts name the module where tokens were first made: links in sent emails carry them, so
    # they never change when the code moves.
    return f"subscriptions.tokens.{purpose.value}"


def _max_age(purpose: Purpose) -> timedelta | None:
    if purpose is Purpose.CONFIRM:
        return timedelta(days=settings.CONFIRM_MAX_AGE_DAYS)
    if purpose is Purpose.MANAGE:
        return timedelta(days=settings.MANAGE_MAX_AGE_DAYS)
    return None


def make_token(subscriber: Subscriber, purpose: Purpose, *, extra: int | None = None) -> str:
    """The same token as signing.dumps(payload, salt=...), with the signer made once per
    purpose: a day's send signs several links per reader."""
    payload: list[int] = [subscriber.pk, subscriber.token_version]
    if extra is not None:
        payload.append(extra)
    return _signer(purpose, settings.SECRET_KEY).sign_object(payload, compress=False)


@lru_cache(maxsize=16)
def _signer(purpose: Purpose, key: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(key=key, salt=_salt(purpose))


def read_token(token: str, purpose: Purpose) -> tuple[Subscriber, int | None]:
    """Return the subscriber (and the extra value, e.g. a delivery id) or raise TokenError."""
    try:
        payload = signing.loads(token, salt=_salt(purpose), max_age=_max_age(purpose))
    except signing.SignatureExpired as exc:
        raise TokenError("This link has expired.", expired=True) from exc
    except signing.BadSignature as exc:
        raise TokenError("This link is not valid.") from exc
    if not (isinstance(payload, list) and 2 <= len(payload) <= 3):
        raise TokenError("This link is not valid.")
    subscriber = Subscriber.objects.filter(pk=payload[0]).first()
    if subscriber is None:
        raise TokenError("This link is not valid.")
    if purpose not in _NEVER_REVOKED and payload[1] != subscriber.token_version:
        raise TokenError("This link has been replaced by a newer one.")
    return subscriber, payload[2] if len(payload) == 3 else None
