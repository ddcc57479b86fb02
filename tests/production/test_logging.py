"""LOG_FORMAT=json gives one JSON object per line, with the ids the pipeline set; plain keeps
the usual line and appends the ids."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from copy import deepcopy
from datetime import date
from typing import Any

import pytest
from django.conf import settings

from digest.logging import log_context
from digest.papers.fetching import listing_fetch
from digest.sources.http import FetchError


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    yield io.StringIO()
    logging.config.dictConfig(settings.LOGGING)  # back to what the settings configured


def configure(log_format: str, stream: io.StringIO) -> logging.Logger:
    """The settings' LOGGING with its console handler pointed at `stream`."""
    config: dict[str, Any] = deepcopy(settings.LOGGING)
    config["handlers"]["console"].update(formatter=log_format, stream=stream)
    logging.config.dictConfig(config)
    return logging.getLogger("digest.delivery")


def test_json_line_has_the_delivery_id(log_stream):
    logger = configure("json", log_stream)
    with log_context(delivery_id=42):
        logger.warning("delivery %s rejected: %s", 42, 'bad "address"\nsecond line')
    logger.info("outside")

    lines = log_stream.getvalue().splitlines()
    assert len(lines) == 2  # the newline in the message stays inside the JSON string
    inside, outside = map(json.loads, lines)
    assert inside["level"] == "WARNING"
    assert inside["logger"] == "digest.delivery"
    assert inside["message"] == 'delivery 42 rejected: bad "address"\nsecond line'
    assert inside["delivery_id"] == 42
    assert inside["time"].endswith("+00:00")
    assert "fetch_run_id" not in inside
    assert "delivery_id" not in outside


def test_nested_contexts_and_exceptions(log_stream):
    logger = configure("json", log_stream)
    with log_context(fetch_run_id=7), log_context(delivery_id=3):
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("could not build")
    with log_context(fetch_run_id=7):
        logger.info("back to the outer context")

    first, second = map(json.loads, log_stream.getvalue().splitlines())
    assert (first["fetch_run_id"], first["delivery_id"]) == (7, 3)
    assert "ValueError: boom" in first["exception"]
    assert second["fetch_run_id"] == 7 and "delivery_id" not in second


def test_plain_lines_name_the_ids(log_stream):
    logger = configure("plain", log_stream)
    with log_context(delivery_id=42):
        logger.warning("rejected")
    logger.info("outside")

    inside, outside = log_stream.getvalue().splitlines()
    assert inside.endswith("WARNING digest.delivery rejected [delivery_id=42]")
    assert outside.endswith("INFO digest.delivery outside")


def test_fetch_lines_carry_the_fetch_run_id(log_stream, db):
    def failing_loader(source, day, file):
        raise FetchError("connection refused")

    configure("json", log_stream)
    run, _ = listing_fetch(source="hf", day=date(2024, 9, 17), loader=failing_loader)

    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    failure = next(line for line in lines if "connection refused" in line["message"])
    assert failure["fetch_run_id"] == run.pk
    assert failure["level"] == "ERROR"
