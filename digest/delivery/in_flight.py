"""Sending through a provider's HTTP API with several messages in flight per process.

Each message waits a round trip for the provider's answer, so up to SEND_CONCURRENCY of them
wait at once, each on a sending thread with its own connection (anymail's backends keep one
requests session each, not meant to be shared between threads). The batch's own thread still
builds, claims and marks every row; a message goes to a sending thread only once its row's claim
has committed, so at most SEND_CONCURRENCY rows per process are ever `sending`. See
docs/delivery.md.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from digest.delivery.claims import claim_rows
from digest.delivery.outgoing import Built, SendReport, close_quietly, provider_message_id
from digest.delivery.send_rate import SendRateLimiter
from digest.delivery.sender import BatchSender, Status
from digest.delivery.sending_errors import SendOutcome, send_error_outcome
from digest.logging import log_context
from digest.models import Delivery


class PooledBatchSender(BatchSender):
    """A batch sender whose messages go out through a pool of sending threads."""

    def __init__(
        self,
        connection: BaseEmailBackend,
        limiter: SendRateLimiter,
        report: SendReport,
        *,
        concurrency: int,
        connect: Callable[[], BaseEmailBackend],
    ) -> None:
        super().__init__(connection, limiter, report)
        self._pool = SenderPool(concurrency, connect)

    def close(self) -> None:
        """Stop the sending threads and close their connections (after `settle()`)."""
        self._pool.close()

    def _send_rows(self, rows: list[Delivery], build: Callable[[Delivery], Built]) -> bool:
        """send_day() through the sending threads: keep up to N messages in flight.

        This thread builds the next messages ahead (up to N), and whenever message slots are
        free claims as many built rows as there are free slots in one transaction, together
        with the marks of the messages that came back, then hands each claimed message to a
        thread. The slower a commit, the more messages come back meanwhile and the more rows
        the next one claims: the database's round trips are shared, not paid per message."""
        pool = self._pool
        ahead: deque[tuple[Delivery, Built]] = deque()
        upcoming = iter(rows)
        left = len(rows)
        while left or ahead:
            self._collect()
            if self.transient_in_a_row >= settings.DELIVERY_STOP_AFTER_TRANSIENT:
                # As in send_day(): the rest stay `queued`, no attempt spent.
                self.report.pending += left + len(ahead)
                return False
            if self.transient_in_a_row and pool.in_flight:
                # The provider failed the last message: one at a time until one goes through,
                # so an outage or a "slow down" costs one attempt at a time, not N.
                self._collect(until_empty=True)
                continue
            free = pool.size - len(pool.in_flight)
            if ahead and free > 0:
                one_by_one = self.transient_in_a_row or self.limiter.interval
                take = 1 if one_by_one else min(free, len(ahead))
                self._claim_and_post(pool, [ahead.popleft() for _ in range(take)])
            elif left and len(ahead) < pool.size:
                row = next(upcoming)
                ahead.append((row, build(row)))
                left -= 1
            else:
                self._collect(block=True)
        return True

    def _claim_and_post(self, pool: SenderPool, group: list[tuple[Delivery, Built]]) -> None:
        """Claim the rows of `group` in one transaction with the outcomes kept so far, then
        hand each claimed row's message to a sending thread (the claim has committed)."""
        if self.limiter.interval:
            self._write_marks()  # not kept `sending` through the wait for the rate slot
        self.limiter.wait()
        outcomes, self._outcomes = self._outcomes, []
        try:
            claims = claim_rows([row for row, _ in group], marks=outcomes)
        except BaseException:
            self._outcomes = outcomes  # rolled back with the claim: written again later
            raise
        for row, built in group:
            with log_context(delivery_id=row.pk):
                claim = claims[row.pk]
                if self._not_to_send(row, built, claim):
                    continue
                assert claim is not None
                pool.submit(Posted(row, claim, built))

    def _collect(self, *, block: bool = False, until_empty: bool = False) -> None:
        """Take the verdicts of the sending threads' finished messages, keep them for the next
        commit; with `block`, wait for at least one, with `until_empty`, for all."""
        while True:
            for posted, exc in self._pool.finished(block=block or until_empty):
                with log_context(delivery_id=posted.row.pk):
                    self._posted_landed(posted, exc)
            if not until_empty or not self._pool.in_flight:
                return

    def _posted_landed(self, posted: Posted, exc: BaseException | None) -> None:
        row, built = posted.row, posted.built
        if exc is not None:
            if not isinstance(exc, Exception):
                raise exc
            self._send_failed(row, posted.attempt, exc)
            return
        assert built.message is not None and built.content is not None
        assert built.email is not None
        self.transient_in_a_row = 0
        self._finish(
            row,
            Status.SENT,
            message_id=provider_message_id(built.message),
            subject=built.email.subject,
            papers=built.content.as_json(),
        )
        self.report.counts["sent"] += 1


@dataclass(slots=True)
class Posted:
    """A claimed row whose message a sending thread has."""

    row: Delivery
    attempt: int
    built: Built


class SenderPool:
    """Up to `size` messages in flight, each sent whole by a thread on its own connection.

    Only sending happens here: the threads never touch the database. A connection that failed
    with a transient error is closed, and its thread opens a new one for its next message."""

    def __init__(self, size: int, connect: Callable[[], BaseEmailBackend]) -> None:
        self.size = size
        self.in_flight: dict[Future[None], Posted] = {}
        self._connect = connect
        self._local = threading.local()
        self._connections: list[BaseEmailBackend] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="digest-send")

    def submit(self, posted: Posted) -> None:
        # The thread logs with the row's id too (log_context lives in a ContextVar).
        context = contextvars.copy_context()
        message = posted.built.message
        assert message is not None
        future = self._executor.submit(lambda: context.run(self._send, message))
        self.in_flight[future] = posted

    def _send(self, message: EmailMessage) -> None:
        connection: BaseEmailBackend | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect()
            with self._lock:
                self._connections.append(connection)
        try:
            connection.open()  # a no-op on an open connection
            pin_environment(connection)
            connection.send_messages([message])
        except Exception as exc:
            if send_error_outcome(exc) is SendOutcome.TRANSIENT:
                close_quietly(connection)  # maybe broken; the next open() starts afresh
            raise

    def finished(self, *, block: bool) -> list[tuple[Posted, BaseException | None]]:
        """The messages whose verdict is in (waiting for one first with `block`)."""
        if block and self.in_flight:
            wait(self.in_flight, return_when=FIRST_COMPLETED)
        done = [future for future in self.in_flight if future.done()]
        return [(self.in_flight.pop(future), future.exception()) for future in done]

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        for connection in self._connections:
            close_quietly(connection)


def pin_environment(connection: BaseEmailBackend) -> None:
    """Read the environment's proxy, CA bundle and netrc settings once per provider connection.

    A requests session that trusts the environment re-reads all of `os.environ` (and looks for
    ~/.netrc) on every request (psf/requests#5600): a tenth of a sending worker's CPU here. All
    of an anymail backend's requests go to its one API URL, so the answer never changes within a
    connection: resolve it once, then turn `trust_env` off, as requests documents for this.
    """
    session = getattr(connection, "session", None)
    url = getattr(connection, "api_url", None)
    if not isinstance(session, requests.Session) or not session.trust_env or not url:
        return
    environment = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies = environment["proxies"]
    session.verify = environment["verify"]
    session.cert = environment["cert"]
    if session.auth is None:
        session.auth = requests.utils.get_netrc_auth(url)
    session.trust_env = False
