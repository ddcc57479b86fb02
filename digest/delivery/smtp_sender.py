"""Sending a batch over SMTP on PostgreSQL: each row's claim commits while its digest is built.

The plain loop (`.sender.BatchSender`) claims a row once its digest is built, and waits for
PostgreSQL to run and flush that claim (half a millisecond, a quarter of a message's time here)
with nothing else to do. Here a row's claim is sent first (`.claim_ahead`), with the previous
rows' `sent` marks, as soon as the message before it has gone to the relay; the digest is built
while PostgreSQL commits the claim and the relay reads that message; then the row's message goes
once its claim has committed, as always.

The price: two rows of a worker process can be `sending` at once (the message the relay is
reading, and the next row, claimed), so a crash leaves at most two `unknown`, where the plain
loop left one. A batch that stops early (the relay looks down) gives its claimed-ahead row back
as `queued`, its attempt not counted. Used when nothing needs the claim to wait: with a
SEND_RATE_PER_SECOND the plain loop takes each rate slot before its claim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from django.conf import settings

from digest.delivery.claim_ahead import ClaimAhead, can_claim_ahead
from digest.delivery.claims import SUPPRESSED, RowUpdate, release_row
from digest.delivery.outgoing import Built
from digest.delivery.sender import BatchSender
from digest.logging import log_context
from digest.models import Delivery


class ClaimingAheadSender(BatchSender):
    """BatchSender over an SMTP connection whose claims overlap the build (see the module)."""

    def _send_rows(self, rows: list[Delivery], build: Callable[[Delivery], Built]) -> bool:
        if self._smtp is None or self.limiter.interval or not can_claim_ahead():
            return super()._send_rows(rows, build)
        ahead: tuple[ClaimAhead, list[RowUpdate]] | None = None
        try:
            for index, row in enumerate(rows):
                if ahead is None:
                    ahead = self._claim_ahead(row)
                built = build(row)  # while PostgreSQL commits the claim, the relay reads
                self._land()  # the previous message's verdict: its mark goes with the next claim
                stop = self.transient_in_a_row >= settings.DELIVERY_STOP_AFTER_TRANSIENT
                # MAIL FROM while the claim's answer is on its way; nothing of the message
                # goes before it says the row is ours (else a RSET withdraws the transaction).
                sending, error = (None, None) if stop else self._start(built)
                try:
                    claim = self._claimed(*ahead)
                except BaseException:
                    self._abort(sending)  # the claim's fate is unknown: nothing more goes
                    raise
                ahead = None
                if stop:
                    # The relay looks down: this row was claimed and not sent, so it goes back
                    # untouched; it and the rest wait for the task's retry.
                    if claim is not None and claim != SUPPRESSED:
                        release_row(row)
                    self.report.pending += len(rows) - index
                    return False
                with log_context(delivery_id=row.pk):
                    self._hand_over(row, built, claim, sending, error)
                if index + 1 < len(rows):
                    ahead = self._claim_ahead(rows[index + 1])
            self._land()
            return True
        finally:
            if ahead is not None:  # left by an error: give the row back if it was claimed
                with contextlib.suppress(Exception):
                    claim = ahead[0].result()[ahead[0].row.pk]
                    if claim is not None and claim != SUPPRESSED:
                        release_row(ahead[0].row)

    def _claim_ahead(self, row: Delivery) -> tuple[ClaimAhead, list[RowUpdate]]:
        marks, self._outcomes = self._outcomes, []
        try:
            return ClaimAhead(row, marks=marks), marks
        except BaseException:
            self._outcomes = marks + self._outcomes  # not written: written again later
            raise

    def _claimed(self, ahead: ClaimAhead, marks: list[RowUpdate]) -> int | None:
        try:
            return ahead.result()[ahead.row.pk]
        except BaseException:
            self._outcomes = marks + self._outcomes  # rolled back with the claim
            raise
