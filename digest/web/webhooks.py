"""The delivery webhook URL, /anymail/<esp>/tracking/, for the configured provider only.

Why not `include("anymail.urls")`: it routes every provider's views, and anymail builds a view
instance per request, whose __init__ reads that provider's settings. A provider we do not use
then raises a configuration error on each request (Mailgun without a webhook signing key,
Amazon SES without boto3): a 500 for anyone, unauthenticated. anymail's maintainer suggests
routing only the views one needs (django-anymail issue #103); here the provider is
settings.WEBHOOK_ESP, any other name is a 404.

And anymail trusts the shape of an authenticated body: Postmark's view parses it with
json.loads and indexes into the result, so an empty body, invalid JSON, `[]` or `null` raise
ValueError/TypeError, a 500 (anymail's own Mailgun view already turns a malformed payload into
a validation failure, a 400; this does the same for every provider). An event whose fields have
the wrong types or a NUL character (which PostgreSQL cannot store) is malformed too.

ANYMAIL_WEBHOOK_SECRET may list several `user:password` pairs, comma separated: during a
rotation the provider still calls with the old one while the new one is being set there, and
both are accepted (anymail checks the request against each; a pair itself has no comma).

A refused request is answered 400 with a warning in the log, not through Django's
SuspiciousOperation handling, which logs at ERROR and so mails ADMINS for every request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailWebhookValidationFailure,
)
from anymail.signals import AnymailTrackingEvent
from django.conf import settings
from django.core import checks
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt

log = logging.getLogger(__name__)

# What a malformed body makes anymail's parsers raise (json.loads, indexing a list or None, a
# date out of range; a configuration error for an inbound payload posted to the tracking URL).
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AnymailError,
    AnymailConfigurationError,
)


def webhook_secrets(configured: str | list[str] | None) -> list[str]:
    """ANYMAIL_WEBHOOK_SECRET as a list: 'old:pw1, new:pw2' -> ['old:pw1', 'new:pw2']."""
    values = [configured] if isinstance(configured, str) else list(configured or [])
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


class _MalformedBodyIs400:
    """Mixed in before an anymail tracking view: a body it cannot parse is a validation failure,
    and a comma-separated webhook secret is a list of accepted ones."""

    esp_name: str
    basic_auth: list[str] | None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if getattr(self, "basic_auth", None):
            self.basic_auth = webhook_secrets(self.basic_auth)

    def run_validators(self, request: HttpRequest) -> None:
        # Amazon SES's validator parses the body (to compare the SNS headers with it).
        try:
            super().run_validators(request)  # type: ignore[misc]
        except AnymailWebhookValidationFailure:
            raise
        except _PARSE_ERRORS as exc:
            raise AnymailWebhookValidationFailure(f"Malformed {self.esp_name} webhook") from exc

    def parse_events(self, request: HttpRequest) -> list[AnymailTrackingEvent]:
        try:
            events = list(super().parse_events(request))  # type: ignore[misc]
        except _PARSE_ERRORS as exc:
            raise AnymailWebhookValidationFailure(f"Malformed {self.esp_name} webhook") from exc
        for event in events:
            problem = event_problem(event)
            if problem:
                raise AnymailWebhookValidationFailure(
                    f"Malformed {self.esp_name} webhook event: {problem}"
                )
        return events


def event_problem(event: AnymailTrackingEvent) -> str:
    """What makes a parsed event unusable, or "" (fields as anymail documents them)."""
    if not isinstance(event.metadata or {}, dict):
        return "metadata is not an object"
    if event.timestamp is not None and not isinstance(event.timestamp, datetime):
        return "timestamp is not a date"
    for name in ("event_id", "event_type", "recipient", "description", "mta_response"):
        value = getattr(event, name, None)
        if value is None:
            continue
        if not isinstance(value, str):
            return f"{name} is not a string"
        if "\x00" in value:
            return f"{name} contains a NUL character"
    return ""


@lru_cache(maxsize=8)
def tracking_view(esp: str) -> Callable[..., HttpResponse] | None:
    """anymail's tracking view for `esp` (as anymail.urls names it), guarded; None if unknown."""
    from anymail import urls as anymail_urls

    for pattern in anymail_urls.urlpatterns:
        if pattern.name == f"{esp}_tracking_webhook":
            base: Any = pattern.callback.view_class
            guarded: Any = type(f"Guarded{base.__name__}", (_MalformedBodyIs400, base), {})
            return guarded.as_view()
    return None


@csrf_exempt  # providers post without a CSRF token; basic auth (and signatures) protect it
def tracking(request: HttpRequest, esp: str) -> HttpResponse:
    view = tracking_view(esp) if esp == settings.WEBHOOK_ESP else None
    if view is None:
        raise Http404("No webhook for this provider")
    try:
        return view(request)
    except AnymailWebhookValidationFailure as exc:
        log.warning("Refused a %s webhook request: %s", esp, exc)
        return HttpResponseBadRequest(b"Refused: bad credentials or malformed body.\n")


@checks.register(checks.Tags.security)
def check_webhook_configuration(**kwargs: Any) -> list[checks.CheckMessage]:
    """A provider's view that cannot be built answers 500 to every call: say so at start."""
    esp = settings.WEBHOOK_ESP
    if not esp:
        return []
    view = tracking_view(esp)
    if view is None:
        return [
            checks.Error(
                f"WEBHOOK_ESP={esp!r} is not a provider with an anymail tracking webhook.",
                id="subscriptions.E001",
            )
        ]
    try:
        view.view_class(**view.view_initkwargs)  # type: ignore[attr-defined]
    except Exception as exc:
        return [
            checks.Error(
                f"The {esp} tracking webhook cannot start: {exc}",
                hint="Set the provider's webhook settings (ANYMAIL_*), see docs/operations.md.",
                id="subscriptions.E002",
            )
        ]
    if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
        return [
            checks.Warning(
                "ANYMAIL_WEBHOOK_SECRET is not set: the tracking webhook accepts anyone.",
                id="subscriptions.W001",
            )
        ]
    return []
