"""Send one batch of delivery rows over one connection, each row exactly once.

For each row: build its digest (while the relay still reads the previous message), claim it
(one UPDATE, committed with the previous row's outcome), hand the message to the connection,
and keep how it went for the next commit, so at most one row per worker is ever `sending`.
Over SMTP the claim runs while the relay answers MAIL FROM and commits while it answers the
first RCPT TO, and a row that is not ours after all gets a RSET instead of its message. See
docs/delivery.md.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from digest.composing.build import DayBuilder, digest_message, subscriber_links
from digest.composing.render import RenderedEmail
from digest.composing.selection import (
    DigestContent,
    Update,
    sent_papers_by_subscriber,
    topics_by_subscriber,
    updates_by_subscriber,
)
from digest.delivery.claims import (
    SUPPRESSED,
    RowUpdate,
    claim_row,
    requeue_row,
    row_update,
    run_update,
)
from digest.delivery.mail_backends import Envelope, SMTPBackend
from digest.delivery.send_rate import SendRateLimiter
from digest.delivery.sending_errors import SendOutcome, send_error_outcome, send_error_text
from digest.logging import log_context
from digest.models import Delivery

logger = logging.getLogger("digest.delivery")

Status = Delivery.Status


@dataclass(slots=True)
class SendReport:
    counts: Counter[str] = field(default_factory=Counter)
    # Rows left `queued` by this run (re-queued after a transient error, or not reached because
    # the batch stopped): the task retries the batch for them.
    pending: int = 0

    def add(self, other: SendReport) -> None:
        self.counts.update(other.counts)
        self.pending += other.pending

    def summary(self) -> str:
        order = ["sent", "suppressed", "empty", "rejected", "failed", "retrying", "skipped"]
        return (
            ", ".join(f"{self.counts[k]} {k}" for k in order if self.counts[k]) or "nothing to do"
        )


class BatchSender:
    """The loop over one batch's rows, sharing one connection, one limiter and one report.

    A row's outcome is written in the same transaction as the next row's claim (one commit per
    message, not two); `settle()` writes the last one. At any moment at most one row of the
    batch is `sending`: the claim of the next row and the outcome of the previous one commit
    together.
    """

    def __init__(self, connection: BaseEmailBackend, limiter: SendRateLimiter, report: SendReport):
        self.connection = connection
        self.limiter = limiter
        self.report = report
        self.transient_in_a_row = 0
        self._outcome: RowUpdate | None = None
        self._in_flight: _InFlight | None = None
        # Over SMTP a message is sent in parts (SplitSendmail); other backends take it whole.
        self._smtp = connection if isinstance(connection, SMTPBackend) else None

    def _finish(self, row: Delivery, status: str, **fields: object) -> None:
        """Record how a claimed row ended, at the next claim's commit or in `settle()`."""
        self._keep(_outcome(row, status, **fields))

    def _keep(self, outcome: RowUpdate) -> None:
        assert self._outcome is None, "the previous outcome was not written"
        self._outcome = outcome

    def _write_outcome(self) -> None:
        if self._outcome is not None:
            run_update(self._outcome)
            self._outcome = None

    def settle(self) -> None:
        """Wait for the message in flight and write the last row's outcome.

        On PostgreSQL this commit does not wait for the WAL flush: if the database server itself
        crashed before the flush, the row would only fall back to `sending` and then `unknown`,
        never to `queued`, so no message could go out twice; claims, which guard against that,
        stay synchronous commits."""
        self._land()
        if self._outcome is None:
            return
        with transaction.atomic():
            if db_connection.vendor == "postgresql":
                with db_connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            self._write_outcome()

    def _claim(self, row: Delivery, sending: _Sending | None) -> int | None:
        """Write the previous row's outcome and claim `row`, in one transaction."""
        outcome = self._outcome
        try:
            with transaction.atomic():
                self._write_outcome()
                claim = claim_row(row)
                if sending is not None and claim is not None and claim != SUPPRESSED:
                    sending.address()  # the relay answers the recipient while this commits
                return claim
        except BaseException:
            self._outcome = outcome  # rolled back with the claim: settle() writes it again
            raise

    def send_day(self, builder: DayBuilder, rows: list[Delivery]) -> bool:
        """Send `rows` (all of the builder's day); False when the provider looks down and the
        batch stops."""
        subscriber_ids = [r.subscriber_id for r in rows]
        history = sent_papers_by_subscriber(subscriber_ids=subscriber_ids, day=builder.day)
        topics = topics_by_subscriber(subscriber_ids=subscriber_ids)
        updates = updates_by_subscriber(subscriber_ids=subscriber_ids, context=builder.context)
        for index, row in enumerate(rows):
            with log_context(delivery_id=row.pk):
                # While the relay takes the previous message's DATA.
                built = self._build(
                    row,
                    builder,
                    history.get(row.subscriber_id, (set(), None)),
                    topics.get(row.subscriber_id, []),
                    updates.get(row.subscriber_id, []),
                )
            self._land()
            if self.transient_in_a_row >= settings.DELIVERY_STOP_AFTER_TRANSIENT:
                # Several transient errors in a row: the provider is down, not one message bad.
                # The rest stay `queued` and untouched (no attempt spent) for the task's retry.
                self.report.pending += len(rows) - index
                return False
            with log_context(delivery_id=row.pk):
                self._send_one(row, built)
        self._land()
        return True

    def _build(
        self,
        row: Delivery,
        builder: DayBuilder,
        history: tuple[set[str], date | None],
        topics: list[str],
        updates: list[Update],
    ) -> _Built:
        """The row's digest and the bytes to send, before its claim: nothing here writes, and
        the claim decides whether it is used."""
        try:
            content = builder.select(
                row.subscriber, history=history, topics=topics, updates=updates
            )
            if content.is_empty and not row.subscriber.quiet_day_note:
                return _Built(content)
            links = subscriber_links(row.subscriber, day=builder.day, delivery_id=row.pk)
            email = builder.render(content, links=links)
            message = digest_message(
                subscriber=row.subscriber,
                email=email,
                delivery_id=row.pk,
                day=row.digest_date,
                links=links,  # the List-Unsubscribe header's link is the body's
            )
            outgoing = self._smtp.envelope(message) if self._smtp else message
            return _Built(content, email, message, outgoing)
        except Exception as exc:
            # A bug or bad data for one subscriber must not hold up the rest of the batch.
            logger.exception("delivery %s: could not build the digest", row.pk)
            return _Built(error=exc)

    def _send_one(self, row: Delivery, built: _Built) -> None:
        report = self.report
        # Wait for the rate slot before the claim, so that a row is `sending` only for the
        # moment its message is handed to the provider: that is the whole window a killed
        # worker leaves undecided. The previous row's mark would otherwise wait with it.
        if self.limiter.interval:
            self.settle()
        self.limiter.wait()
        # Over SMTP the transaction's first commands go around the claim, so that the relay
        # answers them while the claim runs; the message itself only goes once the row is ours.
        sending: _Sending | None = None
        error: Exception | None = None
        if built.message is not None:
            try:
                # open() is a no-op on an open connection; it reconnects after a transient
                # error, so the whole batch still shares one connection in the normal case.
                self.connection.open()
                sending = self._begin(built.outgoing)
            except Exception as exc:
                error = exc  # recorded against the row once it is ours
        try:
            claim = self._claim(row, sending)
        except BaseException:
            self._abort(sending)
            raise
        if claim is None or claim == SUPPRESSED:
            self._abort(sending)
            report.counts["skipped" if claim is None else "suppressed"] += 1
            return
        if built.message is None:
            if built.error is None:
                self._finish(row, Status.SUPPRESSED, error="nothing new to send")
                report.counts["empty"] += 1
            else:  # nothing was sent, so `failed` is exact
                self._finish(row, Status.FAILED, error=f"build: {send_error_text(built.error)}")
                report.counts["failed"] += 1
            return
        if error is None:
            assert sending is not None
            try:
                sending.commit()
            except Exception as exc:
                error = exc
        if error is not None:
            self._send_failed(row, claim, error)
            return
        assert sending is not None and built.content is not None and built.email is not None
        # The row's `sent` mark is written out now, while the provider reads the message.
        sent = _outcome(
            row,
            Status.SENT,
            message_id=_provider_message_id(built.message),
            subject=built.email.subject,
            papers=built.content.as_json(),
        )
        self._in_flight = _InFlight(row, claim, sending, sent)

    def _begin(self, outgoing: object) -> _Sending:
        if self._smtp:
            assert isinstance(outgoing, Envelope)
            return self._smtp.begin_sending(outgoing)
        return _Whole(self.connection, outgoing)

    def _abort(self, sending: _Sending | None) -> None:
        if sending is None:
            return
        try:
            sending.abort()
        except Exception:
            _close_quietly(self.connection)  # a connection that did not survive; open() reconnects

    def _land(self) -> None:
        """Wait for the provider's verdict on the message in flight and keep it for the next
        commit."""
        flight, self._in_flight = self._in_flight, None
        if flight is None:
            return
        row = flight.row
        with log_context(delivery_id=row.pk):
            try:
                flight.sending.wait()
            except Exception as exc:
                self._send_failed(row, flight.attempt, exc)
                return
        self.transient_in_a_row = 0
        self._keep(flight.sent)
        self.report.counts["sent"] += 1

    def _send_failed(self, row: Delivery, attempt: int, exc: Exception) -> None:
        report = self.report
        outcome = send_error_outcome(exc)
        reason = send_error_text(exc)
        if outcome is SendOutcome.TRANSIENT:
            self.transient_in_a_row += 1
            _close_quietly(self.connection)  # a broken SMTP session is not reusable
            attempt = Delivery.objects.values_list("attempts", flat=True).get(pk=row.pk)
            if attempt < settings.DELIVERY_MAX_ATTEMPTS:
                requeue_row(row, error=f"attempt {attempt}: {reason}")
                report.counts["retrying"] += 1
                report.pending += 1
                logger.info("delivery %s: transient error, will retry: %s", row.pk, reason)
                return
            reason = f"gave up after {attempt} attempts: {reason}"
        else:
            self.transient_in_a_row = 0
        status = Status.REJECTED if outcome is SendOutcome.REJECTED else Status.FAILED
        self._finish(row, status, error=reason[:500])
        report.counts[status.value] += 1
        logger.warning("delivery %s %s: %s", row.pk, status.value, reason)


@dataclass(slots=True)
class _Built:
    """A row's digest, built before its claim; no message when there is nothing to send."""

    content: DigestContent | None = None
    email: RenderedEmail | None = None
    message: EmailMessage | None = None
    outgoing: object = None  # what the connection takes: the message, or its SMTP envelope
    error: Exception | None = None


class _Sending(Protocol):
    """A message being handed over: address() may start it (it never raises), commit() sends
    it, wait() raises if it was refused, abort() instead of commit() leaves it unsent
    (digest.delivery.mail_backends.SplitSendmail)."""

    def address(self) -> None: ...
    def commit(self) -> None: ...
    def wait(self) -> None: ...
    def abort(self) -> None: ...


class _Whole:
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


@dataclass(slots=True)
class _InFlight:
    row: Delivery
    attempt: int
    sending: _Sending
    sent: RowUpdate  # the row's mark if the provider takes the message


def _outcome(row: Delivery, status: str, **fields: object) -> RowUpdate:
    return row_update(row.pk, Status.SENDING, status=status, finished_at=timezone.now(), **fields)


def _close_quietly(connection: BaseEmailBackend) -> None:
    # Closing a dead connection can fail too; there is nothing more to do about it.
    with contextlib.suppress(Exception):
        connection.close()


def _provider_message_id(message: object) -> str:
    status = getattr(message, "anymail_status", None)
    if status is not None and status.message_id is not None:
        return str(status.message_id)
    return str(message.extra_headers.get("Message-ID", ""))  # type: ignore[attr-defined]
