"""Send one batch of delivery rows over one connection, each row exactly once.

For each row: claim it (one UPDATE, committed with the previous row's outcome), build its
digest, hand the message to the connection, and keep how it went for the next commit, so at
most one row per worker is ever `sending`. See docs/delivery.md.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from digest.build import DayBuilder, digest_message
from digest.logging import log_context
from digest.models import Delivery
from digest.selection import sent_papers_by_subscriber
from digest.send_rate import SendRateLimiter
from digest.sending_errors import SendOutcome, send_error_outcome, send_error_text
from subscriptions.models import Subscriber

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
        self._outcome: tuple[int, str, dict[str, object]] | None = None

    def _finish(self, row: Delivery, status: str, **fields: object) -> None:
        """Record how a claimed row ended, at the next claim's commit or in `settle()`."""
        assert self._outcome is None, "the previous outcome was not written"
        self._outcome = (row.pk, status, fields)

    def _write_outcome(self) -> None:
        if self._outcome is not None:
            pk, status, fields = self._outcome
            _update_row(pk, Status.SENDING, status=status, finished_at=timezone.now(), **fields)
            self._outcome = None

    def settle(self) -> None:
        """Write the last row's outcome. On PostgreSQL this commit does not wait for the WAL
        flush: if the database server itself crashed before the flush, the row would only fall
        back to `sending` and then `unknown`, never to `queued`, so no message could go out
        twice; claims, which guard against that, stay synchronous commits."""
        if self._outcome is None:
            return
        with transaction.atomic():
            if db_connection.vendor == "postgresql":
                with db_connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            self._write_outcome()

    def _claim(self, row: Delivery) -> int | None:
        """Write the previous row's outcome and claim `row`, in one transaction."""
        outcome = self._outcome
        try:
            with transaction.atomic():
                self._write_outcome()
                return _claim(row)
        except BaseException:
            self._outcome = outcome  # rolled back with the claim: settle() writes it again
            raise

    def send_day(self, builder: DayBuilder, rows: list[Delivery]) -> bool:
        """Send `rows` (all of the builder's day); False when the provider looks down and the
        batch stops."""
        history = sent_papers_by_subscriber(
            subscriber_ids=[r.subscriber_id for r in rows], day=builder.day
        )
        for index, row in enumerate(rows):
            if self.transient_in_a_row >= settings.DELIVERY_STOP_AFTER_TRANSIENT:
                # Several transient errors in a row: the provider is down, not one message bad.
                # The rest stay `queued` and untouched (no attempt spent) for the task's retry.
                self.report.pending += len(rows) - index
                return False
            with log_context(delivery_id=row.pk):
                self._send_one(row, builder, history.get(row.subscriber_id, (set(), None)))
        return True

    def _send_one(
        self, row: Delivery, builder: DayBuilder, history: tuple[set[str], date | None]
    ) -> None:
        report = self.report
        # Wait for the rate slot before the claim, so that a row is `sending` only for the
        # moment its message is built and handed to the provider: that is the whole window a
        # killed worker leaves undecided. The previous row's mark would otherwise wait with it.
        if self.limiter.interval:
            self.settle()
        self.limiter.wait()
        claim = self._claim(row)
        if claim is None:
            report.counts["skipped"] += 1
            return
        if claim == _SUPPRESSED:
            report.counts["suppressed"] += 1
            return
        subscriber = row.subscriber
        try:
            content = builder.select(subscriber, history=history)
            if content.is_empty and not subscriber.quiet_day_note:
                self._finish(row, Status.SUPPRESSED, error="nothing new to send")
                report.counts["empty"] += 1
                return
            email = builder.render(content, delivery_id=row.pk)
            message = digest_message(
                subscriber=subscriber, email=email, delivery_id=row.pk, day=row.digest_date
            )
        except Exception as exc:
            # A bug or bad data for one subscriber must not hold up the rest of the batch; the
            # row records why, and nothing was sent, so `failed` is exact.
            logger.exception("delivery %s: could not build the digest", row.pk)
            self._finish(row, Status.FAILED, error=f"build: {send_error_text(exc)}")
            report.counts["failed"] += 1
            return
        try:
            # open() is a no-op on an open connection; it reconnects after a transient error,
            # so the whole batch still shares one connection in the normal case.
            self.connection.open()
            self.connection.send_messages([message])
        except Exception as exc:
            self._send_failed(row, claim, exc)
            return
        self.transient_in_a_row = 0
        self._finish(
            row,
            Status.SENT,
            message_id=_provider_message_id(message),
            subject=email.subject,
            papers=content.as_json(),
        )
        report.counts["sent"] += 1

    def _send_failed(self, row: Delivery, attempt: int, exc: Exception) -> None:
        report = self.report
        outcome = send_error_outcome(exc)
        reason = send_error_text(exc)
        if outcome is SendOutcome.TRANSIENT:
            self.transient_in_a_row += 1
            _close_quietly(self.connection)  # a broken SMTP session is not reusable
            attempt = Delivery.objects.values_list("attempts", flat=True).get(pk=row.pk)
            if attempt < settings.DELIVERY_MAX_ATTEMPTS:
                _requeue(row, error=f"attempt {attempt}: {reason}")
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


_SUPPRESSED = -1


def _claim(row: Delivery) -> int | None:
    """Take a queued row for this worker and return its attempt number (None: not ours).

    One UPDATE, run inside the caller's transaction (see `_CLAIM`). The subscriber's status is
    checked in the same statement, at send time: someone who left after planning gets no email
    and the row ends `suppressed` (returns _SUPPRESSED).
    """
    now = timezone.now()
    with db_connection.cursor() as cursor:
        sql = _CLAIM_POSTGRESQL if db_connection.vendor == "postgresql" else _CLAIM
        cursor.execute(
            sql.format(delivery=Delivery._meta.db_table, subscriber=Subscriber._meta.db_table),
            [
                Status.SENDING,
                _db_value("claimed_at", now),
                row.pk,
                Status.QUEUED,
                Subscriber.Status.ACTIVE,
            ],
        )
        if cursor.rowcount:
            # The count as the batch read it; only a retry decision needs the exact one (it
            # re-reads it: another worker may have claimed and re-queued the row since).
            return row.attempts + 1
    status = Subscriber.objects.filter(pk=row.subscriber_id).values_list("status", flat=True)
    subscriber_status = status.first()
    if subscriber_status == Subscriber.Status.ACTIVE:
        return None  # claimed by another worker, or no longer queued
    done = _update_row(
        row.pk,
        Status.QUEUED,
        status=Status.SUPPRESSED,
        finished_at=now,
        error=f"subscriber is {subscriber_status or 'deleted'}, no longer active",
    )
    return _SUPPRESSED if done else None


# The claim and the outcome are the two statements of every message, so they are plain SQL:
# the ORM spent about 0.4 ms compiling each, a large share of what a message may cost.
# The status condition is what makes a claim exactly once on every database; on PostgreSQL the
# row is also locked with SKIP LOCKED, so a second worker holding the same batch passes over it
# instead of waiting (SQLite serialises writers instead).
_CLAIM = """
UPDATE {delivery} SET status = %s, claimed_at = %s, attempts = attempts + 1
WHERE id = %s AND status = %s AND EXISTS (
    SELECT 1 FROM {subscriber} WHERE {subscriber}.id = {delivery}.subscriber_id
    AND {subscriber}.status = %s
)"""
_CLAIM_POSTGRESQL = _CLAIM.replace(
    "WHERE id = %s AND status = %s",
    "WHERE id = (SELECT id FROM {delivery} WHERE id = %s AND status = %s FOR UPDATE SKIP LOCKED)",
)


def _update_row(pk: int, expected: str, **values: object) -> int:
    """UPDATE one delivery row if its status is still `expected`; the number of rows changed."""
    fields = [Delivery._meta.get_field(name) for name in values]
    assignments = ", ".join(f"{f.column} = %s" for f in fields)  # type: ignore[union-attr]
    with db_connection.cursor() as cursor:
        cursor.execute(
            # Names come from the model's fields, values are parameters.
            f"UPDATE {Delivery._meta.db_table} SET {assignments} WHERE id = %s AND status = %s",  # noqa: S608
            [_db_value(name, value) for name, value in values.items()] + [pk, expected],
        )
        return cursor.rowcount


def _db_value(name: str, value: object) -> Any:
    """`value` as the database driver takes it for the field `name` (dates, JSON)."""
    return Delivery._meta.get_field(name).get_db_prep_save(value, db_connection)  # type: ignore[union-attr]


def _requeue(row: Delivery, *, error: str) -> None:
    # Nothing left the building (the provider said "not now"), so the row may be sent again.
    Delivery.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=Status.QUEUED, claimed_at=None, error=error[:500]
    )


def _close_quietly(connection: BaseEmailBackend) -> None:
    # Closing a dead connection can fail too; there is nothing more to do about it.
    with contextlib.suppress(Exception):
        connection.close()


def _provider_message_id(message: object) -> str:
    status = getattr(message, "anymail_status", None)
    if status is not None and status.message_id is not None:
        return str(status.message_id)
    return str(message.extra_headers.get("Message-ID", ""))  # type: ignore[attr-defined]
