"""Error tracking: off (and not even imported) without SENTRY_DSN; with it, events carry the
environment and release and no reader's address, checked on what the SDK would send (its own
Transport interface, the supported way to capture envelopes without a network)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DSN = "https://public@sentry.example.org/1"


def sentry_imported(**env: str) -> bool:
    code = (
        "import sys, django; django.setup(); "
        "import digest.tasks, config.urls; print('sentry_sdk' in sys.modules)"
    )
    clean = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip() == "True"


def test_sentry_sdk_is_not_imported_without_a_dsn():
    assert not sentry_imported()
    assert sentry_imported(SENTRY_DSN=DSN)


@pytest.fixture
def sent_events():
    import sentry_sdk
    from sentry_sdk.transport import Transport

    from digest.monitoring.errors import sentry_init

    events: list[dict] = []

    class Capture(Transport):
        def capture_envelope(self, envelope):  # what would go over the network
            for item in envelope.items:
                if item.type == "event":
                    events.append(item.payload.json)

    sentry_init(dsn=DSN, environment="staging", release="digest@1.2.3", transport=Capture)
    yield events
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: the SDK is off again for the rest of the session


def send_to(email: str) -> None:
    recipient = email  # a local variable, as in the sending code: sent with the frame
    raise ConnectionError(f"relay refused <{recipient}>")


def test_events_keep_environment_and_release_and_lose_addresses(sent_events):
    import sentry_sdk

    try:
        send_to("ada.lovelace+digest@example.org")
    except ConnectionError as exc:
        sentry_sdk.capture_exception(exc)
    logging.getLogger("digest.delivery").error(
        "bounce for %s", "grace@example.org", extra={"email": "grace@example.org"}
    )
    sentry_sdk.flush()

    assert len(sent_events) == 2
    for event in sent_events:
        assert event["environment"] == "staging"
        assert event["release"] == "digest@1.2.3"
        dumped = repr(event)
        assert "@example.org" not in dumped, dumped
        assert "[address]" in dumped or "[Filtered]" in dumped
    error = sent_events[0]
    value = error["exception"]["values"][-1]
    assert value["type"] == "ConnectionError"
    assert value["value"] == "relay refused <[address]>"
    frame = value["stacktrace"]["frames"][-1]
    assert frame["function"] == "send_to"
    assert frame["vars"]["recipient"] != "ada.lovelace+digest@example.org"
    assert "user" not in error or "ip_address" not in error.get("user", {})
