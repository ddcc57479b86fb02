"""An editor in a real browser: log in, curate Today's digest, see the subscriber preview follow.
Screenshots of the dashboard and of Today's digest land in var/screenshots/."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from digest.models import Delivery, FetchRun, Paper
from digest.papers.ingest import papers_upsert
from digest.papers.selectors import trending_papers
from digest.sources.snapshot import load_snapshot
from subscriptions.models import Subscriber
from tests.support.factories import DeliveryFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-long-editor-password"


@pytest.fixture(scope="module")
def admin_browser(request: pytest.FixtureRequest) -> Iterator[object]:
    """Chromium for this module. Playwright's sync API allows one instance per thread, so when
    tests/browser/conftest.py's session-wide `browser` exists (it does when the reader's browser
    tests run in the same session) this reuses it; otherwise it launches its own."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    # The sync API runs an event loop in this thread; the ORM calls here stay synchronous.
    # Set only while the browser runs: from import time it would leak into every test, and
    # into `check --deploy` subprocesses, which refuse it.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        try:
            yield request.getfixturevalue("browser")
        except pytest.FixtureLookupError:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                yield browser
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def newsroom():
    """A day's real listing, a reader with no topics (the trending list alone), an editor, and a
    month of history for the dashboard."""
    today = timezone.localdate()
    papers_upsert(records=load_snapshot(listed_on=today).records, listed_on=today)
    editor = get_user_model().objects.create_superuser("editor", "editor@example.org", PASSWORD)
    reader = SubscriberFactory(email="reader@example.org")
    for n in range(1, 29):
        day = today - dt.timedelta(days=n)
        signup = SubscriberFactory(email=f"s{n}@example.org")
        Subscriber.objects.filter(pk=signup.pk).update(
            created_at=timezone.now() - dt.timedelta(days=n + 2),
            confirmed_at=timezone.now() - dt.timedelta(days=n + 1),
        )
        for i, status in enumerate(["sent"] * (n % 5 + 3) + ["failed"] * (n % 7 == 0)):
            DeliveryFactory(
                subscriber=SubscriberFactory(email=f"d{n}-{i}@example.org"),
                digest_date=day,
                status=status,
            )
        if day.weekday() < 5:
            FetchRun.objects.create(source="hf", for_date=day, status="ok", new=20 + n % 9)
            Paper.objects.create(
                arxiv_id=f"2601.{n:05d}",
                title=f"Old {n}",
                listed_on=day,
                sources="arxiv,hf" if n % 2 else "hf",
            )
    FetchRun.objects.create(source="hf", for_date=today, status="ok", new=57)
    return {"today": today, "editor": editor, "reader": reader}


def trending_ids(page) -> list[str]:
    return page.locator("#ax-trending > li").evaluate_all(
        "items => items.map(i => i.dataset.arxivId)"
    )


def test_editor_curates_todays_digest(admin_browser, live_server, newsroom):
    shots = Path(settings.BASE_DIR) / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    context = admin_browser.new_context(viewport={"width": 1360, "height": 1000})
    # Thumbnails point at the Hugging Face CDN; the test stays offline.
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1|localhost)"), lambda r: r.abort())
    page = context.new_page()

    page.goto(live_server.url + reverse("admin:index"))
    page.fill("#id_username", "editor")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector(".ax-dashboard")
    assert page.locator("svg.ax-chart").count() == 3
    page.screenshot(path=str(shots / "admin-dashboard.png"), full_page=True)

    page.click("text=Today's digest")
    page.wait_for_selector("#ax-trending")
    before = trending_ids(page)
    expected = [p.arxiv_id for p in trending_papers(day=newsroom["today"], limit=len(before))]
    assert before == expected

    # Hide the top paper.
    top = before[0]
    page.locator(f'#ax-trending li[data-arxiv-id="{top}"] button:has-text("Hide")').click()
    page.wait_for_selector(f'#ax-hidden li[data-arxiv-id="{top}"]')
    assert top not in trending_ids(page)

    # Promote the first candidate below the cut to the top, pinned at order 0.
    candidate = page.locator("#ax-candidates > li").first.get_attribute("data-arxiv-id")
    item = page.locator(f'#ax-candidates li[data-arxiv-id="{candidate}"]')
    item.locator("input.ax-order").fill("0")
    item.locator('button:has-text("Pin")').click()
    page.wait_for_selector(f'#ax-trending li[data-arxiv-id="{candidate}"]')
    after = trending_ids(page)
    assert after[0] == candidate
    assert top not in after
    assert page.locator(".messagelist").inner_text().startswith("Pinned")
    page.screenshot(path=str(shots / "admin-today.png"), full_page=True)

    paper = Paper.objects.get(arxiv_id=candidate)
    assert (paper.pinned, paper.pin_order) == (True, 0)
    assert Paper.objects.get(arxiv_id=top).hidden

    # The reader's preview follows: the pinned paper leads, the hidden one is gone.
    reader = newsroom["reader"]
    page.goto(live_server.url + reverse("admin:subscriptions_subscriber_change", args=[reader.pk]))
    page.click("text=Preview digest")
    text = page.locator("#ax-preview-text").inner_text()
    hidden_title = Paper.objects.get(arxiv_id=top).title
    pinned_title = paper.title
    assert hidden_title[:40] not in text
    assert text.index(pinned_title[:40]) < min(
        text.index(Paper.objects.get(arxiv_id=i).title[:40]) for i in after[1:]
    )
    frame = page.frame_locator("#ax-preview-html")
    assert pinned_title[:30] in frame.locator("body").inner_text()
    page.screenshot(path=str(shots / "admin-preview.png"), full_page=True)

    # The paper list shows the same state, with its own row buttons.
    page.goto(live_server.url + reverse("admin:digest_paper_changelist") + "?state=hidden")
    assert page.locator("#result_list tbody tr").count() == 1
    page.locator('#result_list button:has-text("Unhide")').click()
    page.wait_for_selector(".messagelist")
    assert not Paper.objects.get(arxiv_id=top).hidden
    page.goto(live_server.url + reverse("admin:digest_paper_changelist"))
    page.screenshot(path=str(shots / "admin-papers.png"))
    page.set_viewport_size({"width": 1800, "height": 1000})
    page.screenshot(path=str(shots / "admin-papers-wide.png"))
    page.goto(live_server.url + reverse("admin:subscriptions_subscriber_changelist"))
    assert "active" in page.locator("#ax-status-counts").inner_text()
    page.screenshot(path=str(shots / "admin-subscribers.png"))
    assert not Delivery.objects.filter(digest_date=newsroom["today"]).exists()
    context.close()
