"""A local stand-in for an email provider's HTTP API: Postmark's `POST /email`, in a process of
its own, answering after a set latency as the real API answers across a network.

It answers as Postmark does (what anymail's postmark backend parses: `To`, `MessageID`,
`ErrorCode`, `Message`), checks the server token header, and counts what a test or a benchmark
needs: every recipient it accepted, the most requests it had in flight at once, when each
request started. Optionally it says "slow down" (429 with Retry-After) to every request that
arrives during a window. Point anymail at it with ANYMAIL_POSTMARK_API_URL=<url>.

    api = ProviderAPI(latency=0.1)          # started
    api.url, api.stats()["accepted"], api.stop()
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "stand-in-server-token"


@dataclass
class Throttle:
    """From the `after`-th request on, for `seconds`, every request gets 429 with
    `Retry-After: retry_after`."""

    after: int
    seconds: float
    retry_after: int


@dataclass
class _State:
    latency: float
    throttle: Throttle | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    accepted: list[str] = field(default_factory=list)
    # (seconds since the server started, "ok" | "throttled") for each request, in arrival order.
    starts: list[tuple[float, str]] = field(default_factory=list)
    throttled_from: float | None = None
    started: float = field(default_factory=time.monotonic)


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: one connection per client session
        # The answer's headers and body are two writes: with Nagle's algorithm the second waits
        # for the client's delayed ACK of the first, 40 ms on top of the set latency.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path != "/stats":
                self._answer(404, {"ErrorCode": 404, "Message": "not found"})
                return
            with state.lock:
                body = {
                    "requests": state.requests,
                    "most_in_flight": state.most_in_flight,
                    "in_flight": state.in_flight,
                    "accepted": list(state.accepted),
                    "starts": list(state.starts),
                }
            self._answer(200, body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path == "/reset":
                with state.lock:
                    state.requests = state.most_in_flight = 0
                    state.accepted.clear()
                    state.starts.clear()
                self._answer(200, {})
                return
            if self.path != "/email":
                self._answer(404, {"ErrorCode": 404, "Message": "not found"})
                return
            now = time.monotonic()
            with state.lock:
                state.requests += 1
                state.in_flight += 1
                state.most_in_flight = max(state.most_in_flight, state.in_flight)
                throttle = state.throttle
                throttled = False
                if throttle is not None and state.requests >= throttle.after:
                    if state.throttled_from is None:
                        state.throttled_from = now
                    throttled = now < state.throttled_from + throttle.seconds
                state.starts.append((now - state.started, "throttled" if throttled else "ok"))
            try:
                time.sleep(state.latency)  # the provider's round trip
                if self.headers.get("X-Postmark-Server-Token") != TOKEN:
                    self._answer(401, {"ErrorCode": 10, "Message": "Bad or missing API token"})
                    return
                if throttled:
                    assert throttle is not None
                    self._answer(
                        429,
                        {"ErrorCode": 429, "Message": "Rate limit exceeded"},
                        {"Retry-After": str(throttle.retry_after)},
                    )
                    return
                to = json.loads(raw)["To"]
                with state.lock:
                    state.accepted.append(to)
                self._answer(
                    200,
                    {
                        "To": to,
                        "SubmittedAt": datetime.now(UTC).isoformat(),
                        "MessageID": str(uuid.uuid4()),
                        "ErrorCode": 0,
                        "Message": "OK",
                    },
                )
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _answer(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the listen backlog: many clients connect at once


def _serve(
    port: int, latency: float, throttle: Throttle | None, ready: Any
) -> None:  # pragma: no cover - runs in the child process
    server = _Server(("127.0.0.1", port), _handler(_State(latency, throttle)))
    ready.set()
    server.serve_forever()


class ProviderAPI:
    """The stand-in, started in its own process (so it never shares a GIL with its client)."""

    def __init__(self, port: int, *, latency: float, throttle: Throttle | None = None) -> None:
        self.port = port
        ready = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=_serve, args=(port, latency, throttle, ready), daemon=True
        )
        self.process.start()
        if not ready.wait(30):
            raise RuntimeError("the provider stand-in did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}stats", timeout=30) as response:
            return dict(json.load(response))

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}reset", data=b"", method="POST")
        urllib.request.urlopen(request, timeout=30).close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(10)
