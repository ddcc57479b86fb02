"""The Content-Security-Policy header (django-csp): the site's own scripts, styles and images.

settings.CONTENT_SECURITY_POLICY is the policy of every page: no inline script or style (the
pages keep theirs in static files), nothing from another origin. Two kinds of page show what is
not ours, and widen it for themselves only:
- the admin shows the papers' thumbnails, which Hugging Face serves from its own hosts;
- the "view in browser" page is the email itself: its CSS inlined into style attributes by
  premailer, its media queries in <style> blocks (allowed by their hashes), its thumbnails.
https://django-csp.readthedocs.io/en/latest/configuration.html
"""

from __future__ import annotations

import base64
import hashlib
import re

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse

# Thumbnails: https only (the pages are https), from wherever the listing says.
THUMBNAILS = "https:"

_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


def allow_email(response: HttpResponseBase, email_html: str) -> None:
    """Widen this response's policy for the email it shows (what django-csp's @csp_update
    does, with directives that depend on the page: the hashes of its <style> blocks)."""
    response._csp_update = email_page_policy(email_html)  # type: ignore[attr-defined]


def email_page_policy(email_html: str) -> dict[str, list[str]]:
    """The policy additions for a page that is a rendered email (it has no script)."""
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'"
        for block in dict.fromkeys(_STYLE_BLOCK.findall(email_html))
    ]
    return {
        "style-src-elem": [SELF, *hashes],
        # premailer's inlined CSS: style attributes cannot run script or load anything.
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, THUMBNAILS],
    }


class SiteCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the admin's thumbnails allowed on the admin's pages."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(_admin_prefix()):
            parts.update = {**(parts.update or {}), "img-src": [SELF, THUMBNAILS]}
        return parts


def _admin_prefix() -> str:
    return reverse("admin:index")
