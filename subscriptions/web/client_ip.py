"""The client's IP address, for rate limits and the consent record.

Behind the TLS proxy that production runs (docs/operations.md), REMOTE_ADDR is the proxy's
address for every request, so per-IP limits would count all visitors together. With
TRUSTED_PROXIES = N (the number of proxies in front that append to X-Forwarded-For), the client
is the N-th address from the right of that header: entries further left were sent by the client
and can be forged. With 0, or a header shorter or malformed, REMOTE_ADDR is the client.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR") or "")
    hops = settings.TRUSTED_PROXIES
    if hops <= 0:
        return remote
    forwarded = [
        part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
    ]
    if len(forwarded) < hops or not forwarded[-hops]:
        return remote
    candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
