"""Import subscribers from CSV (RFC 4180): validate every row first, then write the good ones.

Columns: email, topics (separated by ";"), and optionally cadence, weekday (a day's name), hour,
timezone, cap. A bad row is reported with its line number and every problem it has, and nothing
of it is written; good rows are imported. Importing again updates preferences and topics. An
address that unsubscribed, bounced, complained or was erased is never re-activated by an import.
A `status` column (an export has one) is heeded: a row marked pending stays pending and must
confirm even under `--confirmed`, and one marked unsubscribed, bounced or complained is not added.
A cell the export protected against spreadsheet formulas (`'-survey`) is read back as it was
(`-survey`).
"""

from __future__ import annotations

import calendar
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from digest.papers.selectors import arxiv_ids_known
from digest.topics import validate as validate_query
from subscriptions.models import Subscriber
from subscriptions.readers.services import is_suppressed, normalize_email, topics_replace
from subscriptions.readers.tasks import enqueue_signup_email
from subscriptions.readers.time_zones import time_zone_named

REQUIRED = ("email", "topics")
# The `weekday` column: a day's name, whole or its first three letters ("wednesday", "Wed").
WEEKDAYS = {name[:3].lower(): name.lower() for name in calendar.day_name}
OPTIONAL = ("cadence", "hour", "timezone", "cap")
CONSENT_TEXT_IMPORTED = "Consent given elsewhere and imported by an operator"


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """`value` for a CSV cell that a spreadsheet shows as text: a leading `'` before what would
    start a formula (OWASP's advice). `spreadsheet_value` undoes it."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def spreadsheet_value(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


@dataclass(slots=True)
class ImportRow:
    line: int
    email: str
    topics: list[str]
    values: dict[str, object]
    # The `status` column of an export, if any: what the file knows of the reader's consent.
    status: str = ""


@dataclass(slots=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged_opted_out: int = 0
    confirmations: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        summary = (
            f"{self.created} created, {self.updated} updated, "
            f"{self.unchanged_opted_out} left alone (opted out), "
            f"{len(self.errors)} bad row{'s' if len(self.errors) != 1 else ''}"
        )
        if self.confirmations:
            n = self.confirmations
            summary += f"; {n} confirmation email{'s' if n != 1 else ''} queued"
        return summary


def parse_rows(text: str) -> tuple[list[ImportRow], list[tuple[int, str]]]:
    """Validate every row; return the good ones and (line, message) for the bad ones."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        return [], [(1, f"missing column(s): {', '.join(missing)} (header: {', '.join(header)})")]
    reader.fieldnames = header
    good: list[ImportRow] = []
    errors: list[tuple[int, str]] = []
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        try:
            parsed = _parse_row(row, line)
        except ValueError as exc:
            errors.append((line, str(exc)))
            continue
        if parsed.email in seen:
            errors.append((line, f"{parsed.email} appears twice in the file"))
            continue
        seen.add(parsed.email)
        good.append(parsed)
    return good, errors


def _parse_row(row: dict[str, str | None], line: int) -> ImportRow:
    """One row, or ValueError naming every problem it has (not only the first)."""
    if None in row:
        raise ValueError("more fields than the header has columns")
    row = {name: spreadsheet_value(value or "") for name, value in row.items()}
    problems: list[str] = []
    email = normalize_email(row.get("email") or "")
    try:
        validate_email(email)
    except ValidationError:
        problems.append(f"invalid email {email!r}")
    topics = [t.strip() for t in (row.get("topics") or "").split(";") if t.strip()]
    for topic in topics:
        if message := validate_query(topic, known=arxiv_ids_known):
            problems.append(f"topic {topic!r}: {message}")
    values: dict[str, object] = {}
    if cadence := (row.get("cadence") or "").strip().lower():
        if cadence in Subscriber.Cadence.values:
            values["cadence"] = cadence
        else:
            problems.append(f"cadence must be daily or weekly, got {cadence!r}")
    if weekday := (row.get("weekday") or "").strip().lower():
        if weekday[:3] in WEEKDAYS and WEEKDAYS[weekday[:3]].startswith(weekday):
            values["weekday"] = list(WEEKDAYS).index(weekday[:3])
        else:
            problems.append(f"weekday must be a day's name such as monday or mon, got {weekday!r}")
    if hour := (row.get("hour") or "").strip():
        if hour.isdigit() and 0 <= int(hour) <= 23:
            values["delivery_hour"] = int(hour)
        else:
            problems.append(f"hour must be 0-23, got {hour!r}")
    if tz := (row.get("timezone") or "").strip():
        if found := time_zone_named(tz):
            values["timezone"] = found
        else:
            problems.append(f"unknown time zone {tz!r}")
    if cap := (row.get("cap") or "").strip():
        if cap.isdigit() and 1 <= int(cap) <= 50:
            values["max_papers"] = int(cap)
        else:
            problems.append(f"cap must be 1-50, got {cap!r}")
    status = (row.get("status") or "").strip().lower()
    if status and status not in Subscriber.Status.values:
        problems.append(
            f"status must be one of {', '.join(Subscriber.Status.values)}, got {status!r}"
        )
    if problems:
        raise ValueError("; ".join(problems))
    return ImportRow(line=line, email=email, topics=topics, values=values, status=status)


def subscribers_import(
    *, text: str, source_name: str, confirmed: bool, at: datetime | None = None
) -> ImportReport:
    """Import the good rows of a CSV text; each row's subscriber and topics in one transaction."""
    at = at or timezone.now()
    rows, errors = parse_rows(text)
    report = ImportReport(errors=errors)
    opted_out = {
        Subscriber.Status.UNSUBSCRIBED,
        Subscriber.Status.BOUNCED,
        Subscriber.Status.COMPLAINED,
    }
    for row in rows:
        if is_suppressed(row.email):
            report.errors.append((row.line, f"{row.email} is on the suppression list"))
            continue
        if row.status in opted_out and not Subscriber.objects.filter(email=row.email).exists():
            report.unchanged_opted_out += 1  # the file says they left: not added back
            continue
        with transaction.atomic():
            subscriber, created = Subscriber.objects.select_for_update().get_or_create(
                email=row.email,
                defaults={
                    "status": Subscriber.Status.PENDING,
                    "requested_at": at,
                    "consent_source": f"import:{source_name}",
                },
            )
            if subscriber.status in opted_out:
                report.unchanged_opted_out += 1
                continue
            for name, value in row.values.items():
                setattr(subscriber, name, value)
            # --confirmed vouches for the list, not for a row the file itself marks unconfirmed.
            vouched = confirmed and row.status in (
                "",
                Subscriber.Status.ACTIVE,
                Subscriber.Status.PAUSED,
            )
            if vouched and subscriber.status == Subscriber.Status.PENDING:
                subscriber.status = (
                    Subscriber.Status.PAUSED
                    if row.status == Subscriber.Status.PAUSED
                    else Subscriber.Status.ACTIVE
                )
                subscriber.confirmed_at = at
                subscriber.consent_source = f"import:{source_name}"
                subscriber.consent_text = CONSENT_TEXT_IMPORTED
            subscriber.save()
            topics_replace(subscriber=subscriber, queries=row.topics)
        if created:
            report.created += 1
        else:
            report.updated += 1
        if subscriber.status == Subscriber.Status.PENDING and created:
            # Without prior consent an imported address must confirm like any signup.
            enqueue_signup_email(subscriber.email)
            report.confirmations += 1
    report.errors.sort()
    return report
