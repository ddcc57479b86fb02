"""Start-up checks for the traps of a copied `.env.example` (DEBUG=0 only; the laptop's
defaults are left alone). Registered from DigestConfig.ready, so `migrate`, `check` and the
container entrypoint (which runs `manage.py check` before every role) refuse to go on.

- digest.E101: a value still holds the example's placeholder (`change-me...`): the secret key,
  a password or a webhook secret that everyone who read the example knows.
- digest.E102: mail goes to the staging catcher (Mailpit, compose's `mailpit` service under the
  `staging` profile) while nothing says this is staging: readers would get nothing. Set
  STAGING=1 on a staging deployment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core import checks

PLACEHOLDER = "change-me"
# compose.yaml's catcher: the service name the example's EMAIL_HOST points at.
CATCHER_HOSTS = {"mailpit"}
SMTP_BACKENDS = {
    "django.core.mail.backends.smtp.EmailBackend",
    "digest.delivery.mail_backends.SMTPBackend",
}


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def placeholder_names(environ: Mapping[str, str], values: Iterable[tuple[str, Any]]) -> list[str]:
    """Names of the environment variables and settings whose value holds the placeholder."""
    found = [name for name, value in environ.items() if PLACEHOLDER in str(value).lower()]
    for name, value in values:
        if PLACEHOLDER in str(value).lower() and name not in found:
            found.append(name)
    return sorted(found)


def _secret_settings() -> Iterable[tuple[str, Any]]:
    yield "SECRET_KEY", settings.SECRET_KEY
    for index, key in enumerate(getattr(settings, "SECRET_KEY_FALLBACKS", [])):
        yield f"SECRET_KEY_FALLBACKS[{index}]", key
    for alias, database in settings.DATABASES.items():
        yield f"DATABASES[{alias!r}] password", database.get("PASSWORD", "")
    yield "EMAIL_HOST_PASSWORD", getattr(settings, "EMAIL_HOST_PASSWORD", "")
    for key, value in getattr(settings, "ANYMAIL", {}).items():
        yield f"ANYMAIL_{key}", value


@checks.register(checks.Tags.security)
def check_example_placeholders(**kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG:
        return []
    names = placeholder_names(os.environ, _secret_settings())
    if not names:
        return []
    return [
        checks.Error(
            f"DEBUG=0 with .env.example's placeholder values ('{PLACEHOLDER}...') in: "
            + ", ".join(names),
            hint="Replace each with a value of your own (docs/operations.md, first deployment).",
            id="digest.E101",
        )
    ]


@checks.register(checks.Tags.security)
def check_mail_to_the_staging_catcher(**kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG or _flag(os.environ.get("STAGING", "")):
        return []
    if settings.EMAIL_BACKEND not in SMTP_BACKENDS:
        return []
    host = str(getattr(settings, "EMAIL_HOST", "")).lower()
    if host not in CATCHER_HOSTS:
        return []
    return [
        checks.Error(
            f"DEBUG=0 and every email goes to the staging catcher (EMAIL_HOST={host}): "
            "no reader would receive anything.",
            hint="Production: send through the provider (EMAIL_BACKEND=anymail...). "
            "Staging: set STAGING=1 and start compose with --profile staging.",
            id="digest.E102",
        )
    ]
