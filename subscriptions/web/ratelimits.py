"""Rate limits on the public forms (django-ratelimit on the shared default cache).

Rates come from settings (`SIGNUP_RATE_PER_IP`, `SIGNUP_RATE_PER_EMAIL`, `PREVIEW_RATE_PER_IP`,
`FOLLOW_REQUEST_RATE_PER_IP`),
in django-ratelimit's "count/period" syntax (https://django-ratelimit.readthedocs.io/).
The client IP comes from `subscriptions.web.client_ip` (REMOTE_ADDR, or X-Forwarded-For behind
TRUSTED_PROXIES proxies), set as django-ratelimit's RATELIMIT_IP_META_KEY.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import is_ratelimited

from subscriptions.readers.services import normalize_email


def _email_key(group: str, request: HttpRequest) -> str:
    return normalize_email(request.POST.get("email", ""))


def signup_limited(request: HttpRequest) -> bool:
    """Count this signup attempt against the IP and the address; True when either is over."""
    by_ip = is_ratelimited(
        request,
        group="subscriptions.signup.ip",
        key="ip",
        rate=settings.SIGNUP_RATE_PER_IP,
        method="POST",
        increment=True,
    )
    by_email = bool(request.POST.get("email")) and is_ratelimited(
        request,
        group="subscriptions.signup.email",
        key=_email_key,
        rate=settings.SIGNUP_RATE_PER_EMAIL,
        method="POST",
        increment=True,
    )
    return by_ip or by_email


def preview_limited(request: HttpRequest) -> bool:
    return is_ratelimited(
        request,
        group="subscriptions.preview",
        key="ip",
        rate=settings.PREVIEW_RATE_PER_IP,
        method="GET",
        increment=True,
    )


def follow_request_limited(request: HttpRequest) -> bool:
    """The Follow-by-email form of a paper's archive page, per IP. (Per address, the service
    sends each paper's link once a day: subscriptions.feedback.follow_links.)"""
    return is_ratelimited(
        request,
        group="subscriptions.follow_request.ip",
        key="ip",
        rate=settings.FOLLOW_REQUEST_RATE_PER_IP,
        method="POST",
        increment=True,
    )
