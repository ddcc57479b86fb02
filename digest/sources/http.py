"""The one way listing sources talk HTTP: explicit timeouts, an honest User-Agent, polite retries.

Both upstreams are shared public services. Hugging Face rate-limits anonymous clients and arXiv
asks for "no more than one request every three seconds, one connection at a time"
(https://info.arxiv.org/help/api/tou.html), so every request here has a timeout, names the
product, backs off with full jitter on transient failures
(https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/) and honours
`Retry-After` (RFC 9110, section 10.2.3). Nothing here knows Django or the ORM; `from_settings()`
reads the settings lazily for callers that have them.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx

logger = logging.getLogger(__name__)

PRODUCT = "paper-digest/0.1"

# Statuses worth another try: the server is overloaded or asked us to slow down.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A server asking us to wait longer than this gets this long: a daily job must still finish.
MAX_RETRY_AFTER = 120.0
# Ceiling for one computed back-off step (before jitter).
MAX_BACKOFF = 60.0

Sleep = Callable[[float], None]
QueryParams = Mapping[str, str | int]


class FetchError(Exception):
    """A listing could not be fetched or was not in the expected format.

    Callers treat it as "this source gave us nothing today" and change nothing in the database.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        status: int | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.attempts = attempts


def user_agent(site_url: str) -> str:
    """The User-Agent we send, so upstream operators can see who we are and how to reach us."""
    return f"{PRODUCT} (+{site_url})" if site_url else PRODUCT


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Parse a `Retry-After` value (delta-seconds or an HTTP-date) into seconds from now.

    Returns None when absent or unparseable, so the caller falls back to its own back-off.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RateLimiter:
    """At most one request at a time, and at least `min_interval` seconds between them.

    Used as a context manager around one request. The lock is held for the whole request, so
    threads sharing a limiter queue up (arXiv's "one connection at a time"), and the interval
    runs from the end of one request to the start of the next, which is the conservative reading
    of "one request every three seconds". `clock` and `sleep` are injectable for tests.
    """

    def __init__(
        self,
        min_interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.min_interval = min_interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_done: float | None = None

    def __enter__(self) -> RateLimiter:
        self._lock.acquire()
        if self._last_done is not None:
            wait = self._last_done + self.min_interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._last_done = self._clock()
        self._lock.release()


_shared_limiters: dict[str, RateLimiter] = {}
_shared_limiters_lock = threading.Lock()


def shared_rate_limiter(name: str, min_interval: float) -> RateLimiter:
    """The process-wide limiter called `name` (e.g. "arxiv"), so every caller shares one budget.

    The etiquette is per client, not per call: two fetches in one worker must not each think
    they may send a request every three seconds. The latest `min_interval` given wins.
    """
    with _shared_limiters_lock:
        limiter = _shared_limiters.setdefault(name, RateLimiter(min_interval))
        limiter.min_interval = min_interval
        return limiter


@contextmanager
def _no_limit() -> Iterator[None]:
    yield


class HttpFetcher:
    """GET with timeout, User-Agent, retries and optional rate limiting; returns a 2xx response.

    `retries` counts the extra attempts after the first (so `retries=4` means at most 5 requests).
    Back-off before retry n (0-based) is uniform in [0, min(MAX_BACKOFF, backoff * 2**n)]
    ("full jitter"); a `Retry-After` header replaces it, capped at `max_retry_after`.
    """

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        retries: int = 4,
        backoff: float = 1.0,
        site_url: str = "",
        sleep: Sleep = time.sleep,
        rng: Callable[[float, float], float] = random.uniform,
        max_retry_after: float = MAX_RETRY_AFTER,
        client: httpx.Client | None = None,
    ) -> None:
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._rng = rng
        self._owns_client = client is None
        self.client = client or httpx.Client(follow_redirects=True)
        # Set per request rather than on the client, so an injected client gets them too.
        self._timeout = httpx.Timeout(timeout)
        self._headers = {"User-Agent": user_agent(site_url)}

    @classmethod
    def from_settings(cls, **overrides: Any) -> HttpFetcher:
        """Build a fetcher from `HTTP_TIMEOUT`, `HTTP_RETRIES`, `HTTP_BACKOFF` and `SITE_URL`."""
        from django.conf import settings

        options: dict[str, Any] = {
            "timeout": settings.HTTP_TIMEOUT,
            "retries": settings.HTTP_RETRIES,
            "backoff": settings.HTTP_BACKOFF,
            "site_url": settings.SITE_URL,
        }
        options.update(overrides)
        return cls(**options)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        *,
        params: QueryParams | None = None,
        limiter: RateLimiter | None = None,
    ) -> httpx.Response:
        """GET `url` until a 2xx answer, retrying transient failures; raise FetchError otherwise."""
        # Merge rather than replace, so a base URL that carries its own query keeps it.
        full_url = str(httpx.URL(url).copy_merge_params(dict(params) if params else {}))
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                with limiter if limiter is not None else _no_limit():
                    response = self.client.get(
                        full_url, headers=self._headers, timeout=self._timeout
                    )
            except httpx.TransportError as exc:
                # Connection refused/reset, DNS, timeouts are worth another try; a URL with a
                # scheme we cannot speak is not.
                retryable = not isinstance(exc, httpx.UnsupportedProtocol)
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if not retryable or attempt == attempts:
                    raise FetchError(
                        f"GET {full_url} failed after {attempt} attempt(s): {problem}",
                        url=full_url,
                        attempts=attempt,
                    ) from exc
                self._wait(attempt, None, full_url, problem)
                continue

            if response.is_success:
                return response
            status = response.status_code
            if status not in RETRY_STATUSES or attempt == attempts:
                raise FetchError(
                    f"GET {full_url} failed after {attempt} attempt(s): HTTP {status}",
                    url=full_url,
                    status=status,
                    attempts=attempt,
                )
            self._wait(
                attempt,
                retry_after_seconds(response.headers.get("Retry-After")),
                full_url,
                f"HTTP {status}",
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, retry_after: float | None, url: str, problem: str) -> None:
        if retry_after is not None:
            delay = min(retry_after, self.max_retry_after)
        else:
            delay = self._rng(0.0, min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1)))
        logger.warning("GET %s: %s on attempt %d, retrying in %.1fs", url, problem, attempt, delay)
        self._sleep(delay)
