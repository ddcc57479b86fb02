"""Log lines that say which delivery or fetch run they are about, as plain text or JSON.

The pipeline wraps each unit of work in `log_context`; every line logged inside it (by any
logger, in any module) carries the ids:

    with log_context(delivery_id=row.pk):
        ...  # "... [delivery_id=42]" in plain text, {"delivery_id": 42, ...} in JSON

Settings pick the format with `LOG_FORMAT` (plain | json); `LogContextFilter` sits on the
handler so records propagated from every logger get the ids. The ids live in a ContextVar, so
threads and Celery's prefork children each see their own.
https://docs.python.org/3/library/logging.html#using-filters-to-impart-contextual-information
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# The ids the pipeline sets; always present on a filtered record (None when unset), so a plain
# format string may name them.
CONTEXT_KEYS = ("delivery_id", "fetch_run_id")

_NO_IDS: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("digest_log_context", default=_NO_IDS)


@contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Add `ids` (e.g. delivery_id=42) to every log line inside the block; nests, and the outer
    ids come back on exit."""
    token = _context.set({**_context.get(), **ids})
    try:
        yield
    finally:
        _context.reset(token)


def current_log_context() -> Mapping[str, Any]:
    return _context.get()


class LogContextFilter(logging.Filter):
    """Copy the current `log_context` ids onto each record (an explicit `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = _context.get()
        for key in CONTEXT_KEYS:
            if not hasattr(record, key):
                setattr(record, key, None)
        for key, value in ids.items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        record.log_context_keys = tuple(ids)
        return True


def _context_of(record: logging.LogRecord) -> dict[str, Any]:
    """The ids on `record` that are set: the known keys, then any other `log_context` key.
    (Other `extra=` values, such as Django's `request`, are left out: they are not ids.)"""
    keys = dict.fromkeys((*CONTEXT_KEYS, *getattr(record, "log_context_keys", ())))
    found = {key: getattr(record, key, None) for key in keys}
    return {key: value for key, value in found.items() if value is not None}


class PlainFormatter(logging.Formatter):
    """The usual one-line format, with ` [delivery_id=42]` appended when ids are set."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = _context_of(record)
        if not ids:
            return line
        suffix = " ".join(f"{key}={value}" for key, value in ids.items())
        first, newline, rest = line.partition("\n")  # keep a traceback below the ids
        return f"{first} [{suffix}]{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the ids that are
    set, and `exception` with the traceback when there is one. Log collectors (Loki, CloudWatch,
    Datadog...) index these keys without a parsing rule."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context_of(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # default=str: an id or extra value that is not JSON (a date, a UUID) still logs.
        return json.dumps(entry, default=str, ensure_ascii=False)
