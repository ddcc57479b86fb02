"""The HTTP layer against a real local server: timeouts, retries, Retry-After, UA, pacing."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from digest.sources.http import FetchError, HttpFetcher, RateLimiter, retry_after_seconds

from .conftest import SITE_URL


def test_sends_product_user_agent_and_returns_body(httpserver: HTTPServer, fetcher: HttpFetcher):
    httpserver.expect_oneshot_request(
        "/feed", headers={"User-Agent": f"paper-digest/0.1 (+{SITE_URL})"}
    ).respond_with_data("ok")

    response = fetcher.get(httpserver.url_for("/feed"), params={"date": "2024-09-17", "p": 0})

    assert response.text == "ok"
    ((request, _),) = httpserver.log
    assert request.args.to_dict() == {"date": "2024-09-17", "p": "0"}
    httpserver.check_assertions()


def test_503_is_retried_with_backoff_then_succeeds(
    httpserver: HTTPServer, fetcher: HttpFetcher, sleeps: list[float]
):
    httpserver.expect_ordered_request("/feed").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/feed").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/feed").respond_with_data("ok")

    assert fetcher.get(httpserver.url_for("/feed")).text == "ok"

    # Full jitter drawn at its upper bound: backoff * 2**n.
    assert sleeps == [0.5, 1.0]
    assert len(httpserver.log) == 3
    httpserver.check_assertions()


def test_429_honours_retry_after_seconds(
    httpserver: HTTPServer, fetcher: HttpFetcher, sleeps: list[float]
):
    httpserver.expect_ordered_request("/feed").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "2"}
    )
    httpserver.expect_ordered_request("/feed").respond_with_data("ok")

    assert fetcher.get(httpserver.url_for("/feed")).text == "ok"

    assert sleeps == [2.0]
    httpserver.check_assertions()


def test_retry_after_is_capped(httpserver: HTTPServer, sleeps: list[float]):
    httpserver.expect_ordered_request("/feed").respond_with_data(
        "", status=429, headers={"Retry-After": "86400"}
    )
    httpserver.expect_ordered_request("/feed").respond_with_data("ok")

    with HttpFetcher(retries=1, sleep=sleeps.append, max_retry_after=30.0) as http:
        assert http.get(httpserver.url_for("/feed")).text == "ok"

    assert sleeps == [30.0]


def test_retry_after_http_date_and_garbage():
    now = datetime(2024, 9, 17, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Tue, 17 Sep 2024 12:00:45 GMT", now=now) == 45.0
    assert retry_after_seconds("Tue, 17 Sep 2024 11:00:00 GMT", now=now) == 0.0  # in the past
    assert retry_after_seconds(" 7 ") == 7.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_404_is_not_retried(httpserver: HTTPServer, fetcher: HttpFetcher, sleeps: list[float]):
    httpserver.expect_request("/missing").respond_with_json({"error": "Not Found"}, status=404)
    url = httpserver.url_for("/missing")

    with pytest.raises(FetchError) as caught:
        fetcher.get(url, params={"date": "2024-09-17"})

    assert str(caught.value) == f"GET {url}?date=2024-09-17 failed after 1 attempt(s): HTTP 404"
    assert (caught.value.status, caught.value.attempts) == (404, 1)
    assert len(httpserver.log) == 1
    assert sleeps == []


def test_gives_up_after_the_last_retry(
    httpserver: HTTPServer, fetcher: HttpFetcher, sleeps: list[float]
):
    httpserver.expect_request("/feed").respond_with_data("down", status=503)
    url = httpserver.url_for("/feed")

    with pytest.raises(FetchError, match=r"failed after 4 attempt\(s\): HTTP 503") as caught:
        fetcher.get(url)

    assert caught.value.url == url
    assert (caught.value.status, caught.value.attempts) == (503, 4)
    assert len(httpserver.log) == 4  # retries=3
    assert sleeps == [0.5, 1.0, 2.0]


def _slow(seconds: float, body: str = "late"):
    def handler(request: Request) -> Response:
        time.sleep(seconds)
        return Response(body)

    return handler


def test_timeout_is_retried_then_succeeds(slow_server: HTTPServer, sleeps: list[float]):
    slow_server.expect_ordered_request("/slow").respond_with_handler(_slow(0.6))
    slow_server.expect_ordered_request("/slow").respond_with_data("fast")

    with HttpFetcher(timeout=0.2, retries=2, backoff=0.1, sleep=sleeps.append) as http:
        started = time.monotonic()
        assert http.get(slow_server.url_for("/slow")).text == "fast"
        elapsed = time.monotonic() - started

    assert len(sleeps) == 1
    assert elapsed < 0.55  # the client gave up on the slow answer instead of waiting for it


def test_timeout_on_every_attempt_raises(slow_server: HTTPServer, sleeps: list[float]):
    slow_server.expect_request("/slow").respond_with_handler(_slow(0.5))
    url = slow_server.url_for("/slow")

    with (
        HttpFetcher(timeout=0.2, retries=1, sleep=sleeps.append) as http,
        pytest.raises(FetchError) as caught,
    ):
        http.get(url)

    assert str(caught.value).startswith(f"GET {url} failed after 2 attempt(s): ReadTimeout")
    assert (caught.value.status, caught.value.attempts) == (None, 2)
    assert len(sleeps) == 1


def test_connection_refused_is_retried_then_raises(sleeps: list[float]):
    with socket.socket() as sock:  # a port nobody listens on once the socket is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with (
        HttpFetcher(timeout=0.5, retries=2, sleep=sleeps.append) as http,
        pytest.raises(FetchError, match=r"failed after 3 attempt\(s\): ConnectError"),
    ):
        http.get(f"http://127.0.0.1:{port}/feed")
    assert len(sleeps) == 2


def test_unsupported_scheme_is_not_retried(sleeps: list[float]):
    with HttpFetcher(sleep=sleeps.append) as http, pytest.raises(FetchError, match="1 attempt"):
        http.get("ftp://example.org/feed")
    assert sleeps == []


def test_from_settings_reads_timeouts_and_site_url(settings, httpserver: HTTPServer):
    settings.HTTP_RETRIES = 0
    httpserver.expect_request(
        "/feed", headers={"User-Agent": "paper-digest/0.1 (+https://digest.example.org)"}
    ).respond_with_data("down", status=503)

    with HttpFetcher.from_settings() as http, pytest.raises(FetchError, match="1 attempt"):
        http.get(httpserver.url_for("/feed"))
    httpserver.check_assertions()


class FakeClock:
    """A monotonic clock that only moves when the code sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_waits_out_the_interval_since_the_last_request():
    clock = FakeClock()
    limiter = RateLimiter(3.0, clock=clock, sleep=clock.sleep)

    with limiter:  # first request: no wait
        clock.now += 1.0  # the request itself takes a second
    with limiter:  # right after: waits the full interval after the end of the last one
        pass
    clock.now += 2.0  # the caller spent 2 s parsing
    with limiter:
        pass
    clock.now += 10.0
    with limiter:  # long after: no wait
        pass

    assert clock.sleeps == [3.0, 1.0]


def test_rate_limiter_spaces_real_requests_across_threads(slow_server: HTTPServer):
    """Four threads, one limiter with a real 0.2 s interval: requests never overlap or bunch."""
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()

    def handler(request: Request) -> Response:
        started = time.monotonic()
        time.sleep(0.05)
        with lock:
            spans.append((started, time.monotonic()))
        return Response("ok")

    slow_server.expect_request("/api").respond_with_handler(handler)
    limiter = RateLimiter(0.2)
    url = slow_server.url_for("/api")

    with HttpFetcher(timeout=5.0, retries=0) as http:
        threads = [
            threading.Thread(target=http.get, args=(url,), kwargs={"limiter": limiter})
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    spans.sort()
    assert len(spans) == 4
    gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(spans)]
    assert all(gap >= 0.19 for gap in gaps), gaps
