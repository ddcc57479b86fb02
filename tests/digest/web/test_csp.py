"""The Content-Security-Policy header on the pages (the browser tests check the pages obey it)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from digest.web.csp import email_page_policy

pytestmark = pytest.mark.django_db


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


@pytest.mark.parametrize("url", ["/", "/subscribe/", "/confirm/bad/", "/digests/2001-01-01/"])
def test_pages_allow_only_their_own_scripts_styles_and_images(client, url):
    policy = client.get(url)["Content-Security-Policy"]
    found = directives(policy)
    assert found["default-src"] == "'none'"
    assert found["script-src"] == found["style-src"] == found["img-src"] == "'self'"
    assert found["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_the_admin_adds_the_papers_thumbnails(client):
    policy = client.get("/admin/login/")["Content-Security-Policy"]
    assert directives(policy)["img-src"] == "'self' https:"
    assert directives(policy)["script-src"] == "'self'" and "unsafe" not in policy


def test_an_email_page_allows_its_own_style_blocks_by_hash():
    css = "@media (max-width: 600px) { .card { padding: 8px } }"
    page = f"<html><head><style>{css}</style><style>{css}</style></head><body></body></html>"
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    policy = email_page_policy(page)
    assert policy["style-src-elem"] == ["'self'", f"'sha256-{digest}'"]
    assert policy["style-src-attr"] == ["'unsafe-inline'"]
    assert "script-src" not in policy
