"""Every public page fits a 320 px and a 375 px wide screen: no sideways scrolling. Screenshots
land in var/screenshots/narrow-*.png."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page

from digest.models import Delivery, Paper, PaperEvent
from digest.papers.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot
from subscriptions.feedback.votes import vote_record
from subscriptions.readers.tokens import Purpose, make_token
from tests.support.factories import SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (320, 375)
# The elements sticking out past the right edge, to say what overflows when a page does.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  return [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > width + 0.5)
    .slice(0, 5)
    .map((el) => `${el.tagName.toLowerCase()}.${el.className} right=${
      Math.round(el.getBoundingClientRect().right)}`);
}"""


@pytest.fixture
def site(live_server):
    """One URL per public page, with the data each needs."""
    day = dt.date.today()
    papers_upsert(records=load_snapshot(listed_on=day).records, listed_on=day)
    papers = list(Paper.objects.order_by("-upvotes")[:3])
    # Long, unbreakable paper text is what pushes narrow layouts wider.
    papers[0].ai_summary = "A one-sentence summary with a long-unbroken-word-" + "x" * 60 + "."
    papers[0].save()
    PaperEvent.objects.create(
        paper=papers[0],
        kind="code",
        detail="https://github.com/a-rather-long-organisation-name/" + "y" * 60,
        seen_at=timezone.now(),
        seen_on=day,
    )
    pending = SubscriberFactory(email="pending@example.org", status="pending")
    reader = SubscriberFactory(
        email="a-rather-long-address.for-testing@subdomain.example.org",
        topics=["diffusion models", 'author:"Yann LeCun" OR cat:cs.CV -survey'],
    )
    for paper, value in zip(papers, ("like", "dislike", "like"), strict=True):
        vote_record(subscriber=reader, paper=paper, value=value)
    delivery = Delivery.objects.create(
        subscriber=reader,
        digest_date=day,
        status="sent",
        subject="3 new papers on diffusion models",
        papers=[{"arxiv_id": p.arxiv_id, "section": "trending", "reason": {}} for p in papers[:2]],
    )
    feedback = make_token(reader, Purpose.FEEDBACK)
    url = live_server.url
    return {
        "home": url + "/",
        "subscribe": url + reverse("subscriptions:subscribe"),
        "check-inbox": url + reverse("subscriptions:check_inbox"),
        "confirm": url
        + reverse("subscriptions:confirm", args=[make_token(pending, Purpose.CONFIRM)]),
        "bad-link": url + reverse("subscriptions:confirm", args=["tampered"]),
        "manage": url + reverse("subscriptions:manage", args=[make_token(reader, Purpose.MANAGE)]),
        "unsubscribe": url
        + reverse("subscriptions:unsubscribe", args=[make_token(reader, Purpose.UNSUBSCRIBE)]),
        "archive": url + reverse("digest:archive", args=[day.isoformat()]),
        "paper": url + reverse("digest:paper", args=[day.isoformat(), papers[0].arxiv_id]),
        "paper-follow-sent": url
        + reverse("digest:paper_follow_sent", args=[day.isoformat(), papers[0].arxiv_id]),
        "view-in-browser": url
        + reverse("digest:view", args=[make_token(reader, Purpose.VIEW, extra=delivery.pk)]),
        "feedback": url
        + reverse("subscriptions:feedback", args=[feedback, papers[0].arxiv_id])
        + "?v=more",
        "feedback-bad-link": url + reverse("subscriptions:feedback", args=["x", "2409.10594"]),
        "feedback-no-paper": url + reverse("subscriptions:feedback", args=[feedback, "2501.99999"]),
    }


def assert_fits(page: Page, name: str, width: int, screenshots_dir: Path) -> None:
    page.screenshot(path=screenshots_dir / f"narrow-{name}-{width}.png", full_page=True)
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll_width <= width, (name, width, scroll_width, page.evaluate(OVERFLOWING))


@pytest.mark.parametrize("width", WIDTHS)
def test_every_public_page_fits_without_sideways_scrolling(browser, site, screenshots_dir, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    for name, url in site.items():
        page.goto(url)
        assert_fits(page, name, width, screenshots_dir)
    # The pages that answer a button: a recorded vote (with undo and topics), unsubscribed.
    page.goto(site["feedback"])
    page.get_by_role("button", name="Save my vote").click()
    page.get_by_role("heading", name="Saved: “More like this”").wait_for()
    assert_fits(page, "feedback-recorded", width, screenshots_dir)
    page.get_by_role("button", name="Undo my vote").click()
    page.get_by_role("heading", name="Vote removed").wait_for()
    assert_fits(page, "feedback-undone", width, screenshots_dir)
    page.goto(site["unsubscribe"])
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You're unsubscribed").wait_for()
    assert_fits(page, "unsubscribed", width, screenshots_dir)
    page.goto(site["feedback"])
    assert_fits(page, "feedback-ended", width, screenshots_dir)
    # The paper page's Follow form with an error next to its field.
    page.goto(site["paper"])
    page.get_by_label("Your email address").fill("a-rather-long-mistyped-address-" + "z" * 40)
    page.get_by_role("button", name="Follow").click()
    page.get_by_text("Enter a valid email address.").wait_for()
    assert_fits(page, "paper-form-error", width, screenshots_dir)
    context.close()
