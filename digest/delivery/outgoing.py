"""What a batch sends and how it went: a row's built digest, and the batch's report."""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from digest.composing.content import DigestContent
from digest.emails.render import RenderedEmail


@dataclass(slots=True)
class SendReport:
    counts: Counter[str] = field(default_factory=Counter)
    # Rows left `queued` by this run (re-queued after a transient error, or not reached because
    # the batch stopped): the task retries the batch for them.
    pending: int = 0
    # The longest Retry-After the provider asked for (seconds; 0: none): the retry waits as long.
    retry_after: float = 0.0

    def add(self, other: SendReport) -> None:
        self.counts.update(other.counts)
        self.pending += other.pending
        self.retry_after = max(self.retry_after, other.retry_after)

    def summary(self) -> str:
        order = [
            "sent",
            "published to feeds",
            "suppressed",
            "empty",
            "rejected",
            "failed",
            "retrying",
            "skipped",
        ]
        return (
            ", ".join(f"{self.counts[k]} {k}" for k in order if self.counts[k]) or "nothing to do"
        )


@dataclass(slots=True)
class Built:
    """A row's digest, built before its claim; no message when there is nothing to send."""

    content: DigestContent | None = None
    email: RenderedEmail | None = None
    message: EmailMessage | None = None
    outgoing: object = None  # what the connection takes: the message, or its SMTP envelope
    error: Exception | None = None
    # A feed-only reader's digest: built and recorded on the row (with the subject its email
    # would have had, for the manage page's list), never mailed.
    feed_only: bool = False
    subject: str = ""


def close_quietly(connection: BaseEmailBackend) -> None:
    # Closing a dead connection can fail too; there is nothing more to do about it.
    with contextlib.suppress(Exception):
        connection.close()


def provider_message_id(message: object) -> str:
    status = getattr(message, "anymail_status", None)
    if status is not None and status.message_id is not None:
        return str(status.message_id)
    return str(message.extra_headers.get("Message-ID", ""))  # type: ignore[attr-defined]


class Sending(Protocol):
    """A message being handed over: address() may start it (it never raises), commit() sends
    it, wait() raises if it was refused, abort() instead of commit() leaves it unsent
    (digest.delivery.mail_backends.SplitSendmail)."""

    def address(self) -> None: ...
    def commit(self) -> None: ...
    def wait(self) -> None: ...
    def abort(self) -> None: ...


class WholeSend:
    """A connection that sends a message in one call (anymail's, Django's): it has its verdict
    by the time commit() returns, and nothing went before."""

    def __init__(self, connection: BaseEmailBackend, message: object) -> None:
        self.connection, self.message = connection, message

    def address(self) -> None:
        pass

    def commit(self) -> None:
        self.connection.send_messages([self.message])  # type: ignore[list-item]

    def wait(self) -> None:
        pass

    def abort(self) -> None:
        pass
