"""A claim sent to PostgreSQL now and answered later, so the database commits it while this
process builds the row's digest (the SMTP batch sender's overlap; see `.sender`).

A claim is one statement and its commit (`claims.claim_statement`): about 0.3 ms of this
process's CPU and 0.5 ms of waiting for PostgreSQL to run and flush it. Django's cursors wait for
the answer; here the statement goes out through psycopg's non-blocking libpq calls and its
answer is read when the caller needs it. The database is never used for anything else
meanwhile: any other query on the connection reads the answer first (an execute wrapper).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from django.db import connection as db_connection
from django.utils import timezone
from psycopg import generators, pq

from digest.delivery.claims import RowUpdate, claim_statement, claims_taken
from digest.models import Delivery


def can_claim_ahead() -> bool:
    """Only on PostgreSQL, outside a transaction (a claim must commit on its own)."""
    return (
        db_connection.vendor == "postgresql"
        and not db_connection.in_atomic_block
        and db_connection.get_autocommit()
    )


class ClaimAhead:
    """claims.claim_rows([row], marks=...) in two halves: created, the statement is sent;
    `result()` waits for its commit and returns what claim_rows() would. Errors are Django's
    (OperationalError for a lost connection), raised by `result()` or by creating it."""

    def __init__(self, row: Delivery, *, marks: list[RowUpdate]) -> None:
        self.row = row
        self.now = timezone.now()
        self._claimed: set[int] | None = None
        self._error: BaseException | None = None
        sql, params = claim_statement([row], marks=marks, now=self.now)
        db_connection.ensure_connection()
        raw: psycopg.Connection[Any] = db_connection.connection
        self._raw = raw
        with db_connection.wrap_database_errors:
            query = psycopg.ClientCursor(raw).mogrify(sql, params)
            self._started = time.monotonic()
            raw.pgconn.send_query(query.encode(raw.info.encoding))
            raw.wait(generators.send(raw.pgconn))
        self._query = query
        # Any other query on this connection first reads this one's answer.
        db_connection.execute_wrappers.append(self._read_first)

    def result(self) -> dict[int, int | None]:
        self._read()
        if self._error is not None:
            raise self._error
        assert self._claimed is not None
        return claims_taken([self.row], self._claimed, now=self.now)

    def _read_first(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        self._read()
        return execute(sql, params, many, context)

    def _read(self) -> None:
        if self._claimed is not None or self._error is not None:
            return
        db_connection.execute_wrappers.remove(self._read_first)
        try:
            with db_connection.wrap_database_errors:
                results = self._raw.wait(generators.fetch_many(self._raw.pgconn))
                claimed: set[int] = set()
                for result in results:
                    if result.status != pq.ExecStatus.TUPLES_OK:
                        raise psycopg.errors.error_from_result(
                            result, encoding=self._raw.info.encoding
                        )
                    claimed.update(
                        int(result.get_value(n, 0) or b"0") for n in range(result.ntuples)
                    )
        except BaseException as exc:
            self._error = exc
            return
        self._claimed = claimed
        if db_connection.queries_logged:  # counted like any other query (debug, tests)
            db_connection.queries_log.append(
                {"sql": self._query, "time": f"{time.monotonic() - self._started:.3f}"}
            )
