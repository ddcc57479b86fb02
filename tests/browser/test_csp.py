"""The Content-Security-Policy in a real browser: every page works under it.

The `browser` fixture fails a test on any CSP violation (tests/browser/conftest.py), so each
page visited here, and in the other browser tests, is checked; these tests reach the pages the
journeys do not: the archive, "view in browser", and every admin list and form.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from digest.papers.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot
from tests.support.factories import SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-editor-password"
OFFSITE = re.compile(r"^https?://(?!127\.0\.0\.1|localhost)")


@pytest.fixture
def listing() -> dt.date:
    day = dt.date.today()
    papers_upsert(records=load_snapshot(listed_on=day).records, listed_on=day)
    return day


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    # Thumbnails point at the Hugging Face CDN: allowed by the policy, refused here (offline).
    context.route(OFFSITE, lambda route: route.abort())
    yield context
    context.close()


def test_the_policy_is_sent_and_a_violation_fails_the_test(context, live_server, csp_watch):
    page = context.new_page()
    response = page.goto(live_server.url + "/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    # What an injected inline style would do: blocked, and reported to the test.
    page.evaluate("document.body.setAttribute('style', 'background: red')")
    expect(page.locator("body")).not_to_have_css("background-color", "rgb(255, 0, 0)")
    page.wait_for_timeout(200)  # the console message arrives asynchronously
    assert any("style" in v for v in csp_watch.violations), csp_watch.violations
    csp_watch.violations.clear()


def test_archive_and_view_in_browser(context, live_server, listing):
    page = context.new_page()
    page.goto(live_server.url + reverse("digest:archive", args=[listing.isoformat()]))
    expect(page.locator("article.paper").first).to_be_visible()

    SubscriberFactory(email="reader@example.org", topics=["diffusion"])
    call_command("send_digests", day=listing.isoformat())
    html = next(body for body, kind in mail.outbox[-1].alternatives if kind == "text/html")
    view = re.search(r'href="https://digest\.example\.org(/digests/view/[^"]+)"', str(html))
    assert view
    response = page.goto(live_server.url + view[1])
    assert response is not None and response.status == 200
    assert "'unsafe-inline'" in response.headers["content-security-policy"]  # style attributes
    title = page.locator(".card-title").first
    expect(title).to_be_visible()
    # The email's inlined CSS applies (it would not under the site's policy).
    style = title.get_attribute("style") or ""
    size = re.search(r"font-size:\s*(\d+px)", style)
    assert size, style
    expect(title).to_have_css("font-size", size[1])


def test_every_admin_list_and_form(context, live_server, listing):
    get_user_model().objects.create_superuser("editor", "editor@example.org", PASSWORD)
    SubscriberFactory(email="reader@example.org", topics=["diffusion"])
    call_command("send_digests", day=listing.isoformat())
    page = context.new_page()
    page.goto(live_server.url + reverse("admin:index"))
    page.fill("#id_username", "editor")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#content")
    visited = []
    for model in admin.site._registry:
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        page.goto(live_server.url + changelist)
        visited.append(changelist)
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
            page.goto(live_server.url + change)
            visited.append(change)
        add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
        response = page.goto(live_server.url + add)
        if response is not None and response.status == 200:
            visited.append(add)
    # The admin's own scripts ran (they would not if blocked): the action bar counter is live.
    page.goto(live_server.url + reverse("admin:subscriptions_subscriber_changelist"))
    page.locator("#result_list tbody input.action-select").first.check()
    expect(page.locator(".action-counter")).to_contain_text("1 of")
    assert len(visited) >= 8, visited
