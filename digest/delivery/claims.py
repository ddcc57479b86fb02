"""The row writes of sending, as plain SQL: claiming a queued row, recording its outcome.

The claim and the outcome are the two statements of every message: the ORM spent about 0.4 ms
compiling each, a large share of what a message may cost.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone

from digest.models import Delivery
from subscriptions.models import Subscriber

Status = Delivery.Status

SUPPRESSED = -1


def claim_row(row: Delivery) -> int | None:
    """Take a queued row for this worker and return its attempt number (None: not ours).

    One UPDATE, run inside the caller's transaction (see `_CLAIM`). The subscriber's status is
    checked in the same statement, at send time: someone who left after planning gets no email
    and the row ends `suppressed` (returns SUPPRESSED).
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
    return _not_claimed(row, now)


def claim_rows(rows: list[Delivery], *, marks: list[RowUpdate]) -> dict[int, int | None]:
    """Write `marks` and claim `rows` (see claim_row()), all or nothing: {row id: what
    claim_row() returns}. Outside a transaction, it commits.

    On PostgreSQL one statement does it all, the marks as data-modifying WITH clauses and the
    claim of every row by one UPDATE: one round trip and its commit, where BEGIN, the marks, a
    claim per row and COMMIT took one each."""
    if db_connection.vendor != "postgresql" or db_connection.in_atomic_block:
        with transaction.atomic():
            run_updates(marks)
            return {row.pk: claim_row(row) for row in rows}
    now = timezone.now()
    sql, params = claim_statement(rows, marks=marks, now=now)
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        claimed = {pk for (pk,) in cursor.fetchall()}
    return claims_taken(rows, claimed, now=now)


def claim_statement(
    rows: list[Delivery], *, marks: list[RowUpdate], now: datetime
) -> tuple[str, list[Any]]:
    """claim_rows()'s one statement on PostgreSQL: `marks` as WITH clauses, then the claim of
    `rows`, returning the ids claimed."""
    marking = ", ".join(f"mark{n} AS ({mark.sql})" for n, mark in enumerate(marks))
    sql = _CLAIM_MANY_POSTGRESQL.format(
        delivery=Delivery._meta.db_table, subscriber=Subscriber._meta.db_table
    )
    params = [param for mark in marks for param in mark.params] + [
        Status.SENDING,
        _db_value("claimed_at", now),
        [row.pk for row in rows],
        Status.QUEUED,
        Subscriber.Status.ACTIVE,
    ]
    return (f"WITH {marking} {sql}" if marks else sql), params


def claims_taken(
    rows: list[Delivery], claimed: set[int], *, now: datetime
) -> dict[int, int | None]:
    """What claim_rows() returns, from the ids its statement claimed."""
    return {
        row.pk: row.attempts + 1 if row.pk in claimed else _not_claimed(row, now) for row in rows
    }


def _not_claimed(row: Delivery, now: datetime) -> int | None:
    """A row the claim did not take: suppressed if its subscriber is no longer active (then
    SUPPRESSED), else None (another worker has it, or it is no longer queued)."""
    status = Subscriber.objects.filter(pk=row.subscriber_id).values_list("status", flat=True)
    subscriber_status = status.first()
    if subscriber_status == Subscriber.Status.ACTIVE:
        return None  # claimed by another worker, or no longer queued
    done = update_row(
        row.pk,
        Status.QUEUED,
        status=Status.SUPPRESSED,
        finished_at=now,
        error=f"subscriber is {subscriber_status or 'deleted'}, no longer active",
    )
    return SUPPRESSED if done else None


# The status condition is what makes a claim exactly once on every database; on PostgreSQL the
# row is also locked with SKIP LOCKED, so a second worker holding the same batch passes over it
# instead of waiting (SQLite serialises writers instead). The subscriber is looked up by primary
# key alone: as an EXISTS beside a status test, PostgreSQL's planner, on statistics older than
# the subscribers (a bulk import), scanned every active subscriber per claim instead.
_CLAIM = """
UPDATE {delivery} SET status = %s, claimed_at = %s, attempts = attempts + 1
WHERE id = %s AND status = %s
AND (SELECT {subscriber}.status FROM {subscriber} WHERE {subscriber}.id = {delivery}.subscriber_id)
    = %s"""
_CLAIM_POSTGRESQL = _CLAIM.replace(
    "WHERE id = %s AND status = %s",
    "WHERE id = (SELECT id FROM {delivery} WHERE id = %s AND status = %s FOR UPDATE SKIP LOCKED)",
)
# Several rows at once (a batch sending through a provider's API claims the rows for every
# free message slot together): the same conditions, the ids as one array parameter.
_CLAIM_MANY_POSTGRESQL = """
UPDATE {delivery} SET status = %s, claimed_at = %s, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM {delivery} WHERE id = ANY(%s) AND status = %s FOR UPDATE SKIP LOCKED
)
AND (SELECT {subscriber}.status FROM {subscriber} WHERE {subscriber}.id = {delivery}.subscriber_id)
    = %s
RETURNING id"""


class RowUpdate(NamedTuple):
    """An UPDATE of one delivery row, its values already in the driver's form."""

    sql: str
    params: list[Any]


def row_update(pk: int, expected: str, **values: object) -> RowUpdate:
    """The UPDATE of one delivery row's `values`, if its status is still `expected`."""
    fields = [Delivery._meta.get_field(name) for name in values]
    assignments = ", ".join(f"{f.column} = %s" for f in fields)  # type: ignore[union-attr]
    return RowUpdate(
        # Names come from the model's fields, values are parameters.
        f"UPDATE {Delivery._meta.db_table} SET {assignments} WHERE id = %s AND status = %s",  # noqa: S608
        [_db_value(name, value) for name, value in values.items()] + [pk, expected],
    )


def run_update(update: RowUpdate) -> int:
    """Run a row_update(); the number of rows changed (0: the row was no longer `expected`)."""
    with db_connection.cursor() as cursor:
        cursor.execute(update.sql, update.params)
        return cursor.rowcount


def run_updates(updates: list[RowUpdate]) -> None:
    """Run several row_update()s; those of one shape (the sent marks) as one executemany,
    which psycopg sends in one round trip (pipeline mode)."""
    shapes: dict[str, list[list[Any]]] = {}
    for update in updates:
        shapes.setdefault(update.sql, []).append(update.params)
    with db_connection.cursor() as cursor:
        for sql, params in shapes.items():
            if len(params) == 1:
                cursor.execute(sql, params[0])
            else:
                cursor.executemany(sql, params)


def update_row(pk: int, expected: str, **values: object) -> int:
    """UPDATE one delivery row if its status is still `expected`; the number of rows changed."""
    return run_update(row_update(pk, expected, **values))


def _db_value(name: str, value: object) -> Any:
    """`value` as the database driver takes it for the field `name` (dates, JSON)."""
    return Delivery._meta.get_field(name).get_db_prep_save(value, db_connection)  # type: ignore[union-attr]


def release_row(row: Delivery) -> int:
    """Give back a row claimed and never sent (the batch stopped first): `queued` again, and the
    claim's attempt not counted."""
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Delivery._meta.db_table} SET status = %s, claimed_at = NULL, "  # noqa: S608
            "attempts = attempts - 1 WHERE id = %s AND status = %s",
            [Status.QUEUED, row.pk, Status.SENDING],
        )
        return cursor.rowcount


def requeue_row(row: Delivery, *, error: str) -> None:
    # Nothing left the building (the provider said "not now"), so the row may be sent again.
    update_row(row.pk, Status.SENDING, status=Status.QUEUED, claimed_at=None, error=error[:500])
