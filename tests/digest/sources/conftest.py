"""Listing-source fixtures: recorded-format bodies and a fetcher that never really sleeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from digest.sources.http import HttpFetcher

FIXTURES = Path(__file__).parent / "fixtures"
SITE_URL = "https://digest.example.org"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


@pytest.fixture
def sleeps() -> list[float]:
    """Every delay the code under test asked to sleep, in order (nothing actually waits)."""
    return []


@pytest.fixture
def fetcher(sleeps: list[float]) -> Iterator[HttpFetcher]:
    """A fetcher whose back-off is deterministic: the jitter draw is always the upper bound."""
    with HttpFetcher(
        timeout=2.0,
        retries=3,
        backoff=0.5,
        site_url=SITE_URL,
        sleep=sleeps.append,
        rng=lambda low, high: high,
    ) as http:
        yield http


@pytest.fixture(scope="module")
def threaded_httpserver() -> Iterator[HTTPServer]:
    """A server answering requests concurrently, for handlers that sleep (timeouts, threads)."""
    server = HTTPServer(threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def slow_server(threaded_httpserver: HTTPServer) -> Iterator[HTTPServer]:
    threaded_httpserver.clear()
    yield threaded_httpserver
    threaded_httpserver.clear()
