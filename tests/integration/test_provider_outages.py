"""A provider down in the middle of a day's sending, with the real parts: an SMTP relay that
refuses connections, then answers 421 and 451, and an HTTP provider (Postmark's API, served
locally) answering 500, 503 and 429 with Retry-After. Rows go back to `queued`, nobody gets two
digests, everyone gets theirs once it is back, and the admin says what happened to each row.
See docs/delivery.md ("Faults").
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from digest.models import Delivery
from tests.integration.conftest import (
    SinkHandler,
    SmtpSink,
    Worker,
    make_subscribers,
    manage,
    no_second_copies,
    statuses,
)
from tests.support.real_services import free_port, wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

Status = Delivery.Status


# --- The SMTP relay down: refusing connections, then 421, then 451 -------------------------------
class FlakyRelayHandler(SinkHandler):
    """An SMTP relay that answers 421 to MAIL FROM or 451 after DATA while told to."""

    def __init__(self) -> None:
        super().__init__()
        self.mode = "ok"
        self.refusals: list[str] = []

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options):
        if self.mode == "421":
            self.refusals.append("421")
            return "421 4.3.2 Service not available, closing transmission channel"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode == "451":
            with self.lock:
                self.refusals.append("451")
            return "451 4.3.0 Temporary local problem, try again later"
        return await super().handle_DATA(server, session, envelope)


class FlakyRelay(SmtpSink):
    handler: FlakyRelayHandler

    def __init__(self) -> None:
        super().__init__(FlakyRelayHandler(), free_port())
        self.controller: Controller | None = None

    def up(self, mode: str) -> None:
        self.handler.mode = mode
        if self.controller is None:
            self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
            self.controller.start()

    def down(self) -> None:
        """Nothing listens on the port: connections are refused."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def admin_deliveries_page(client: Any) -> str:
    response = client.get("/admin/digest/delivery/?status__exact=sent")
    assert response.status_code == 200
    return response.content.decode()


def test_smtp_relay_down_for_30_seconds_then_back(worker: Worker, listing_day, admin_client):
    subscribers = make_subscribers(150)
    emails = {s.email for s in subscribers}
    relay = FlakyRelay()
    worker.env |= {
        "EMAIL_PORT": str(relay.port),
        "SEND_RATE_PER_SECOND": "20",  # slow enough for the relay to go down mid-send
        # Production backoff is 30 s doubling; 10 s keeps the test short with the same shape.
        "DELIVERY_RETRY_BACKOFF": "10",
    }
    try:
        relay.up("ok")
        worker.start()
        manage(worker.env, "send_digests", "--date", str(listing_day))
        wait_for(lambda: relay.count() >= 30, timeout=60, what="the sending to start")
        relay.down()  # refusing connections for 8 s
        wait_for(
            lambda: Delivery.objects.filter(attempts__gte=1, status=Status.QUEUED).exists(),
            timeout=30,
            what="a refused connection to put a row back to queued",
        )
        before = relay.count()
        time.sleep(6)
        relay.up("421")
        time.sleep(10)
        relay.handler.mode = "451"
        time.sleep(12)
        assert relay.count() == before < 150  # nothing was accepted during the outage
        assert {"421", "451"} <= set(relay.handler.refusals), relay.handler.refusals
        relay.handler.mode = "ok"
        back = time.monotonic()
        wait_for(
            lambda: statuses() == {Status.SENT: 150},
            timeout=90,
            what="every row sent once the relay is back",
        )
        recovered_in = time.monotonic() - back
    finally:
        worker.stop()
        relay.down()
    assert recovered_in < 80
    assert no_second_copies(relay.recipients()) == emails
    # What happened is on the rows: more than one attempt, and the last transient error.
    retried = Delivery.objects.filter(attempts__gt=1)
    assert retried.exists()
    errors = " ".join(retried.values_list("error", flat=True))
    assert "ConnectionRefusedError" in errors or "421" in errors or "451" in errors, errors
    page = admin_deliveries_page(admin_client)
    row = retried.first()
    assert row is not None
    attempt, error_class = row.error.split(": ")[:2]  # "attempt 2: SMTPSenderRefused: ..."
    assert attempt in page and error_class in page


# --- An HTTP provider down: 500, 503, then 429 with Retry-After ----------------------------------
class PostmarkStandIn(BaseHTTPRequestHandler):
    """Postmark's /email endpoint, answering the scripted statuses first, then accepting."""

    script: list[tuple[int, dict[str, str]]] = []
    log: list[tuple[float, int, str]] = []  # (time, status, To)
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        to = body.get("To", "")
        with self.lock:
            status, headers = self.script.pop(0) if self.script else (200, {})
            self.log.append((time.monotonic(), status, to))
        if status == 200:
            payload: dict[str, Any] = {
                "To": to,
                "SubmittedAt": "2026-12-04T10:00:00Z",
                "MessageID": str(uuid.uuid4()),
                "ErrorCode": 0,
                "Message": "OK",
            }
        else:
            payload = {"ErrorCode": 100 if status >= 500 else 429, "Message": "not now"}
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def postmark_api() -> Iterator[tuple[str, type[PostmarkStandIn]]]:
    class Handler(PostmarkStandIn):
        none: dict[str, str] = {}
        # Up for the first 10 messages, then down mid-send.
        script = [(200, none)] * 10 + [(500, none)] * 3 + [(503, none)] * 3
        script.append((429, {"Retry-After": "4"}))
        log: list[tuple[float, int, str]] = []
        lock = threading.Lock()

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", Handler
    server.shutdown()
    server.server_close()


def test_http_provider_errors_and_retry_after_then_back(
    worker: Worker, listing_day, postmark_api, tmp_path: Path
):
    url, api = postmark_api
    subscribers = make_subscribers(60)
    emails = {s.email for s in subscribers}
    worker.env |= {
        "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
        "ANYMAIL_POSTMARK_SERVER_TOKEN": "test-token",
        "ANYMAIL_POSTMARK_API_URL": url,
        "DELIVERY_RETRY_BACKOFF": "1",  # so the only long wait is the one the provider asks for
    }
    worker.start()
    manage(worker.env, "send_digests", "--date", str(listing_day))
    wait_for(lambda: statuses() == {Status.SENT: 60}, timeout=90, what="every row sent")

    log = list(api.log)
    statuses_seen = Counter(status for _, status, _ in log)
    assert statuses_seen[500] == 3 and statuses_seen[503] == 3 and statuses_seen[429] == 1
    accepted = [to for _, status, to in log if status == 200]
    assert no_second_copies(accepted) == emails
    # Retry-After honoured: the row refused with 429 was not tried again before 4 s had passed.
    refused_at, _, refused_to = next(entry for entry in log if entry[1] == 429)
    next_try = min(at for at, _, to in log if to == refused_to and at > refused_at)
    assert next_try - refused_at >= 3.9
    # The rows that met the outage say so.
    retried = Delivery.objects.filter(attempts__gt=1)
    assert retried.count() >= 3
    errors = list(retried.values_list("error", flat=True))
    assert any("429" in e or "503" in e or "500" in e for e in errors), errors
