"""Absolute URLs for emails: SITE_URL and a route, resolved once per process.

A day's send builds several links per reader, so `reverse()` runs once per route and number of
arguments; the arguments (signed tokens, dates, arXiv ids) are joined in as they are.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.conf import settings
from django.urls import NoReverseMatch, reverse

# Letters only: reverse() leaves them as they are, so they can be found again in its result.
_SLOTS = ("XPDSLOTAX", "XPDSLOTBX", "XPDSLOTCX")


def absolute_url(name: str, *args: str) -> str:
    """SITE_URL + reverse(name, args=args)."""
    parts = _url_parts(settings.SITE_URL, name, len(args))
    if parts is None:  # a route whose converters refuse the slots (an arXiv id's pattern)
        return settings.SITE_URL + reverse(name, args=list(args))
    return parts[0] + "".join(arg + part for arg, part in zip(args, parts[1:], strict=True))


@lru_cache(maxsize=64)
def _url_parts(site_url: str, name: str, count: int) -> tuple[str, ...] | None:
    slots = _SLOTS[:count]
    try:
        path = reverse(name, args=list(slots))
    except NoReverseMatch:
        return None
    parts = re.split("|".join(slots), path) if slots else [path]
    return (site_url + parts[0], *parts[1:])
