"""Error tracking with Sentry, switched on by SENTRY_DSN (settings); without it this module is
never imported, and neither is sentry_sdk.

Django and Celery integrations; `monitor_beat_tasks=True` makes each beat entry a Sentry cron
monitor (a missed or failed run alerts there too). No personal data: `send_default_pii=False`,
Sentry's EventScrubber with our field names added, and every e-mail address left in a message,
an exception's text or a local variable replaced before the event leaves the process (readers'
addresses are what this service holds). https://docs.sentry.io/platforms/python/data-management/sensitive-data/
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration
from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber

if TYPE_CHECKING:
    from sentry_sdk._types import Event

ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
SCRUBBED = "[address]"
# Keys whose values are readers' data, wherever they appear in an event.
PRIVATE_KEYS = ["email", "recipient", "recipients", "to", "address", "addresses", "subscriber"]


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return ADDRESS.sub(SCRUBBED, value)
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


# Our own names, never a reader's: a release such as "digest@1.2.3" looks like an address.
KEEP = {"release", "dist", "environment", "sdk", "server_name", "modules", "platform"}


def scrub_addresses(event: Event, hint: dict[str, Any]) -> Event:
    """before_send / before_send_transaction: every address in the event, replaced."""
    for key, value in event.items():
        if key not in KEEP:
            event[key] = _scrub(value)  # type: ignore[literal-required]
    return event


def sentry_init(*, dsn: str, environment: str, release: str | None, **options: Any) -> None:
    """`options` are passed on (the tests give a transport)."""
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        send_default_pii=False,
        event_scrubber=EventScrubber(
            denylist=[*DEFAULT_DENYLIST, *PRIVATE_KEYS],
            pii_denylist=[*DEFAULT_PII_DENYLIST],
            recursive=True,
        ),
        before_send=scrub_addresses,
        before_send_transaction=scrub_addresses,
        **options,
    )
