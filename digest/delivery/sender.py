"""Send one batch of delivery rows, each row exactly once.

For each row: build its digest (while the relay still reads the previous message), claim it
(one UPDATE, committed with the previous rows' outcomes), hand the message to the connection,
and keep how it went for the next commit. Over SMTP (one connection, one message in flight) the
claim runs while the relay answers MAIL FROM and commits while it answers the first RCPT TO, and
a row that is not ours after all gets a RSET instead of its message. A provider's HTTP API
(anymail) is waited on by up to SEND_CONCURRENCY sending threads, each with its own connection:
this thread still builds, claims and marks every row, and a message goes to a sending thread
only once its claim has committed, so at most SEND_CONCURRENCY rows per process are ever
`sending`. See docs/delivery.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from digest.composing.build import DayBuilder, digest_message, subscriber_links
from digest.composing.content import Update
from digest.composing.selection import (
    sent_papers_by_subscriber,
    topics_by_subscriber,
    updates_by_subscriber,
)
from digest.delivery.claims import (
    SUPPRESSED,
    RowUpdate,
    claim_row,
    claim_rows,
    requeue_row,
    row_update,
    run_updates,
)
from digest.delivery.mail_backends import Envelope, SMTPBackend
from digest.delivery.outgoing import (
    Built,
    Sending,
    SendReport,
    WholeSend,
    close_quietly,
    provider_message_id,
)
from digest.delivery.send_rate import MAX_PAUSE_SECONDS, SendRateLimiter
from digest.delivery.sending_errors import (
    SendOutcome,
    send_error_outcome,
    send_error_retry_after,
    send_error_text,
)
from digest.logging import log_context
from digest.models import Delivery
from subscriptions.library.selectors import ReaderPositives, positives_by_subscriber
from subscriptions.models import Subscriber

logger = logging.getLogger("digest.delivery")

Status = Delivery.Status

# The message id of a `sent` row that went to the reader's feed, not to a mail server.
FEED_MESSAGE_ID = "feed"


class BatchSender:
    """The loop over one batch's rows, sharing one connection (or one pool of sending threads),
    one limiter and one report.

    The rows' outcomes are written in the same transaction as the next row's claim (one commit
    per message, not two); `settle()` writes the last ones. At any moment at most
    `concurrency` rows of the batch are `sending` (one over SMTP): a row is claimed only when a
    message slot is free, and the outcomes of the messages that came back commit with that
    claim.
    """

    def __init__(
        self, connection: BaseEmailBackend, limiter: SendRateLimiter, report: SendReport
    ) -> None:
        self.connection = connection
        self.limiter = limiter
        self.report = report
        self.transient_in_a_row = 0
        self._outcomes: list[RowUpdate] = []
        self._in_flight: _InFlight | None = None
        # Over SMTP a message is sent in parts (SplitSendmail); other backends take it whole.
        self._smtp = connection if isinstance(connection, SMTPBackend) else None

    def _finish(self, row: Delivery, status: str, **fields: object) -> None:
        """Record how a claimed row ended, at the next claim's commit or in `settle()`."""
        self._keep(_outcome(row, status, **fields))

    def _keep(self, outcome: RowUpdate) -> None:
        self._outcomes.append(outcome)

    def _write_outcome(self) -> None:
        outcomes, self._outcomes = self._outcomes, []
        run_updates(outcomes)

    def settle(self) -> None:
        """Wait for the messages in flight and write the last rows' outcomes.

        On PostgreSQL this commit does not wait for the WAL flush: if the database server itself
        crashed before the flush, the rows would only fall back to `sending` and then `unknown`,
        never to `queued`, so no message could go out twice; claims, which guard against that,
        stay synchronous commits."""
        self._land()
        self._collect(until_empty=True)
        self._write_marks()

    def _write_marks(self) -> None:
        """Commit the outcomes kept so far on their own (no claim to go with them)."""
        if not self._outcomes:
            return
        outcomes = list(self._outcomes)
        try:
            with transaction.atomic():
                if db_connection.vendor == "postgresql":
                    with db_connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit TO OFF")
                self._write_outcome()
        except BaseException:
            self._outcomes = outcomes + self._outcomes  # rolled back: written again later
            raise

    def close(self) -> None:
        """Release what the sender holds besides the batch's connection (after `settle()`)."""

    def _collect(self, *, block: bool = False, until_empty: bool = False) -> None:
        """Take the verdicts of messages sent by other threads: none here (in_flight.py)."""

    def _claim(self, row: Delivery, sending: Sending | None) -> int | None:
        """Write the previous rows' outcomes and claim `row`, in one transaction."""
        outcomes = list(self._outcomes)
        try:
            if db_connection.vendor == "postgresql" and not db_connection.in_atomic_block:
                # One statement and its commit (claim_rows); the relay answers MAIL FROM
                # meanwhile, and the first RCPT TO goes once the row is ours.
                self._outcomes = []
                claim = claim_rows([row], marks=outcomes)[row.pk]
                if sending is not None and claim is not None and claim != SUPPRESSED:
                    sending.address()
                return claim
            with transaction.atomic():
                self._write_outcome()
                claim = claim_row(row)
                if sending is not None and claim is not None and claim != SUPPRESSED:
                    sending.address()  # the relay answers the recipient while this commits
                return claim
        except BaseException:
            self._outcomes = outcomes  # rolled back with the claim: settle() writes them again
            raise

    def send_day(self, builder: DayBuilder, rows: list[Delivery]) -> bool:
        """Send `rows` (all of the builder's day); False when the provider looks down and the
        batch stops."""
        subscriber_ids = [r.subscriber_id for r in rows]
        history = sent_papers_by_subscriber(subscriber_ids=subscriber_ids, day=builder.day)
        topics = topics_by_subscriber(subscriber_ids=subscriber_ids)
        positives = positives_by_subscriber(subscriber_ids=subscriber_ids)
        updates = updates_by_subscriber(subscriber_ids=subscriber_ids, context=builder.context)

        def build(row: Delivery) -> Built:
            with log_context(delivery_id=row.pk):
                return self._build(
                    row,
                    builder,
                    history.get(row.subscriber_id, (set(), None)),
                    topics.get(row.subscriber_id, []),
                    positives.get(row.subscriber_id, ReaderPositives()),
                    updates.get(row.subscriber_id, []),
                )

        return self._send_rows(rows, build)

    def _send_rows(self, rows: list[Delivery], build: Callable[[Delivery], Built]) -> bool:
        """One message at a time on the batch's connection (PooledBatchSender: many)."""
        for index, row in enumerate(rows):
            built = build(row)  # while the relay takes the previous message's DATA
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

    def _not_to_send(self, row: Delivery, built: Built, claim: int | None) -> bool:
        """Settle a row that gets no message: not ours, its subscriber gone, nothing new for
        them, or a digest that could not be built. True if it was one of those."""
        report = self.report
        if claim is None or claim == SUPPRESSED:
            report.counts["skipped" if claim is None else "suppressed"] += 1
            return True
        if built.feed_only and built.content is not None and not built.content.is_empty:
            # The row is claimed, so this is its one delivery: published to the reader's feed,
            # which reads the `sent` rows' papers (FEED_MESSAGE_ID tells it from an email).
            self._finish(
                row,
                Status.SENT,
                message_id=FEED_MESSAGE_ID,
                subject=built.subject,
                papers=built.content.as_json(),
            )
            report.counts["published to feeds"] += 1
            return True
        if built.message is not None:
            return False
        if built.error is None:
            self._finish(row, Status.SUPPRESSED, error="nothing new to send")
            report.counts["empty"] += 1
        else:  # nothing was sent, so `failed` is exact
            self._finish(row, Status.FAILED, error=f"build: {send_error_text(built.error)}")
            report.counts["failed"] += 1
        return True

    def _build(
        self,
        row: Delivery,
        builder: DayBuilder,
        history: tuple[set[str], date | None],
        topics: list[str],
        positives: ReaderPositives,
        updates: list[Update],
    ) -> Built:
        """The row's digest and the bytes to send, before its claim: nothing here writes, and
        the claim decides whether it is used."""
        try:
            content = builder.select(
                row.subscriber, history=history, topics=topics, positives=positives, updates=updates
            )
            if row.subscriber.deliver_by == Subscriber.DeliverBy.FEED:
                # The same selection, no email.
                subject = "" if content.is_empty else builder.renderer.subject(content)
                return Built(content, feed_only=True, subject=subject)
            if content.is_empty and not row.subscriber.quiet_day_note:
                return Built(content)
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
            return Built(content, email, message, outgoing)
        except Exception as exc:
            # A bug or bad data for one subscriber must not hold up the rest of the batch.
            logger.exception("delivery %s: could not build the digest", row.pk)
            return Built(error=exc)

    def _send_one(self, row: Delivery, built: Built) -> None:
        # Wait for the rate slot before the claim, so that a row is `sending` only for the
        # moment its message is handed to the provider: that is the whole window a killed
        # worker leaves undecided. The previous rows' marks would otherwise wait with it.
        if built.message is not None:  # a feed-only row takes no sending slot
            if self.limiter.interval:
                self._land()
                self._write_marks()
            self.limiter.wait()
        # Over SMTP the transaction's first commands go around the claim, so that the relay
        # answers them while the claim runs; the message itself only goes once the row is ours.
        sending, error = self._start(built)
        try:
            claim = self._claim(row, sending)
        except BaseException:
            self._abort(sending)
            raise
        self._hand_over(row, built, claim, sending, error)

    def _start(self, built: Built) -> tuple[Sending | None, Exception | None]:
        """Begin the message's transaction (over SMTP, MAIL FROM), before its claim is known;
        an error is recorded against the row once it is ours."""
        if built.message is None:
            return None, None
        try:
            # open() is a no-op on an open connection; it reconnects after a transient error,
            # so the whole batch still shares one connection in the normal case.
            self.connection.open()
            return self._begin(built.outgoing), None
        except Exception as exc:
            return None, exc

    def _hand_over(
        self,
        row: Delivery,
        built: Built,
        claim: int | None,
        sending: Sending | None,
        error: Exception | None,
    ) -> None:
        """Send the row's message if the claim made it ours, else withdraw what began."""
        if claim is None or claim == SUPPRESSED:
            self._abort(sending)
        if self._not_to_send(row, built, claim):
            return
        assert claim is not None
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
            message_id=provider_message_id(built.message),
            subject=built.email.subject,
            papers=built.content.as_json(),
        )
        self._in_flight = _InFlight(row, claim, sending, sent)

    def _begin(self, outgoing: object) -> Sending:
        if self._smtp:
            assert isinstance(outgoing, Envelope)
            return self._smtp.begin_sending(outgoing)
        return WholeSend(self.connection, outgoing)

    def _abort(self, sending: Sending | None) -> None:
        if sending is None:
            return
        try:
            sending.abort()
        except Exception:
            close_quietly(self.connection)  # a connection that did not survive; open() reconnects

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
        self.limiter.pause_for(exc)  # the provider's Retry-After holds for every worker
        outcome = send_error_outcome(exc)
        reason = send_error_text(exc)
        if outcome is SendOutcome.TRANSIENT:
            self.transient_in_a_row += 1
            retry_after = send_error_retry_after(exc)
            if retry_after is not None:
                # The provider said when to come back (429/503 Retry-After). Every worker's claims
                # wait that long (pause_for above); longer than such a pause, the batch stops now
                # and the task retries it no sooner than asked.
                report.retry_after = max(report.retry_after, retry_after)
                if retry_after > MAX_PAUSE_SECONDS:
                    self.transient_in_a_row = settings.DELIVERY_STOP_AFTER_TRANSIENT
            close_quietly(self.connection)  # a broken SMTP session is not reusable
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
class _InFlight:
    row: Delivery
    attempt: int
    sending: Sending
    sent: RowUpdate  # the row's mark if the provider takes the message


def _outcome(row: Delivery, status: str, **fields: object) -> RowUpdate:
    return row_update(row.pk, Status.SENDING, status=status, finished_at=timezone.now(), **fields)
