"""A reader's whole journey in a real browser: subscribe with a live preview, confirm from the
email, change the cadence, unsubscribe. Screenshots land in var/screenshots/."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from playwright.sync_api import Page, expect

from digest.papers.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot
from subscriptions.models import Subscriber
from subscriptions.readers.tokens import Purpose, make_token
from tests.browser.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def listing() -> dt.date:
    day = dt.date.today()
    papers_upsert(records=load_snapshot(listed_on=day).records, listed_on=day)
    return day


def new_page(browser, viewport, **options) -> Page:
    context = browser.new_context(viewport=viewport, timezone_id="Europe/Paris", **options)
    return context.new_page()


def link_in_last_email(pattern: str, live_server) -> str:
    body = str(mail.outbox[-1].body)
    url = re.search(rf"https://digest\.example\.org(/{pattern}/[^\s]+)", body)
    assert url, body
    return live_server.url + url.group(1)


def test_subscribe_confirm_manage_unsubscribe(browser, live_server, listing, screenshots_dir: Path):
    page = new_page(browser, DESKTOP)
    page.goto(live_server.url + reverse("subscriptions:subscribe"))
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Paris")  # from the browser

    page.get_by_label("Email address").fill("journey@example.org")
    topics = page.get_by_label("Topics")
    topics.click()
    topics.press_sequentially("transformer", delay=20)
    preview = page.locator("#preview-body")
    expect(preview.locator("mark").first).to_have_text(re.compile("transformer", re.I))
    expect(preview).to_contain_text("for “transformer”".replace("“", "").replace("”", ""))
    first_count = preview.locator(".preview-item").count()
    assert first_count > 0

    topics.press("Enter")
    topics.press_sequentially('"deep neural" -survey', delay=20)
    expect(preview.locator(".preview-summary")).to_contain_text('"deep neural" -survey')
    expect(preview.locator("mark").first).to_have_text(re.compile("deep|neural", re.I))
    assert page.url.endswith(reverse("subscriptions:subscribe"))  # no reload
    page.screenshot(path=screenshots_dir / "subscribe-desktop.png", full_page=True)

    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    subscriber = Subscriber.objects.get(email="journey@example.org")
    assert subscriber.status == "pending"
    assert [t.query for t in subscriber.topics.all()] == ["transformer", '"deep neural" -survey']

    page.goto(link_in_last_email("confirm", live_server))
    assert Subscriber.objects.get(pk=subscriber.pk).status == "pending"  # GET changes nothing
    page.get_by_role("button", name="Yes, send me the digest").click()
    expect(page.get_by_role("heading", name="You're subscribed")).to_be_visible()
    assert Subscriber.objects.get(pk=subscriber.pk).status == "active"

    page.get_by_role("link", name="Manage your subscription").click()
    expect(page.get_by_role("heading", name="Your subscription")).to_be_visible()
    expect(page.get_by_label("Weekly on")).to_be_hidden()
    page.get_by_label("Weekly", exact=True).check()
    page.get_by_label("Weekly on").select_option(label="Friday")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_be_visible()
    subscriber.refresh_from_db()
    assert (subscriber.cadence, subscriber.weekday) == ("weekly", 4)
    page.screenshot(path=screenshots_dir / "manage-desktop.png", full_page=True)

    unsubscribe_url = reverse(
        "subscriptions:unsubscribe", args=[make_token(subscriber, Purpose.UNSUBSCRIBE)]
    )
    page.goto(live_server.url + unsubscribe_url)
    assert Subscriber.objects.get(pk=subscriber.pk).status == "active"
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You're unsubscribed")).to_be_visible()
    assert Subscriber.objects.get(pk=subscriber.pk).status == "unsubscribed"
    page.context.close()


def test_bad_topic_explained_without_javascript(browser, live_server, listing):
    page = new_page(browser, PHONE, java_script_enabled=False)
    page.goto(live_server.url + reverse("subscriptions:subscribe"))
    expect(page.locator("#preview")).to_be_hidden()
    page.get_by_label("Email address").fill("nojs@example.org")
    page.get_by_label("Topics").fill("diffusion\n(unclosed")
    page.get_by_role("button", name="Subscribe").click()
    error = page.locator("#id_topics_error")
    expect(error).to_contain_text("Line 2")
    expect(page.get_by_label("Topics")).to_have_attribute("aria-invalid", "true")
    page.get_by_label("Topics").fill("diffusion")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    assert Subscriber.objects.filter(email="nojs@example.org", status="pending").exists()
    page.context.close()


def test_a_refused_topic_is_in_view_and_previewed_with_its_error(browser, live_server, listing):
    page = new_page(browser, PHONE)
    page.goto(live_server.url + reverse("subscriptions:subscribe"))
    page.get_by_label("Email address").fill("five@example.org")
    topics = page.get_by_label("Topics")
    topics.fill("diffusion\ntransformer\nrobotics\nprotein\n(unclosed")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#id_topics_error")).to_contain_text("Line 5")
    # All five lines in view without scrolling the box, and the preview on line 5.
    topics = page.get_by_label("Topics")
    fits = topics.evaluate("box => box.scrollHeight <= box.clientHeight + 2")
    assert fits
    expect(page.locator("#preview-body .preview-error")).to_contain_text("(unclosed")
    assert not Subscriber.objects.filter(email="five@example.org").exists()
    page.context.close()


def test_home_abstract_expands_and_keyboard_focus_is_visible(browser, live_server, listing):
    page = new_page(browser, DESKTOP)
    page.goto(live_server.url + "/")
    expect(page.get_by_text("Get trending papers in your email inbox!")).to_be_visible()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    first = page.locator("article.paper").first
    expect(first.locator("details p")).to_be_hidden()
    first.locator("summary").focus()
    page.keyboard.press("Enter")  # <details> opens from the keyboard, no JavaScript involved
    expect(first.locator("details p")).to_be_visible()
    expect(first.locator(".teaser")).to_be_hidden()
    page.context.close()


@pytest.mark.parametrize(("name", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
def test_screenshots(browser, live_server, listing, screenshots_dir: Path, name, viewport):
    page = new_page(browser, viewport)
    page.goto(live_server.url + "/")
    page.screenshot(path=screenshots_dir / f"home-{name}-top.png")
    page.locator("article.paper").first.locator("summary").click()
    page.screenshot(path=screenshots_dir / f"home-{name}.png", full_page=True)

    page.goto(live_server.url + reverse("subscriptions:subscribe"))
    page.get_by_label("Email address").fill("shots@example.org")
    page.get_by_label("Topics").fill("diffusion models\ncat:cs.CL")
    page.get_by_label("Topics").press("ArrowUp")
    page.get_by_label("Topics").press("End")
    expect(page.locator("#preview-body mark").first).to_be_visible()
    page.screenshot(path=screenshots_dir / f"subscribe-{name}.png", full_page=True)

    subscriber = Subscriber.objects.create(
        email=f"{name}@example.org", status="active", cadence="weekly", weekday=2
    )
    subscriber.topics.create(query="diffusion models")
    subscriber.topics.create(query='author:"Yann LeCun" OR cat:cs.CV')
    from tests.support.factories import DeliveryFactory

    for days in (1, 2, 3):
        DeliveryFactory(
            subscriber=subscriber,
            digest_date=listing - dt.timedelta(days=days),
            status="sent",
            subject=f"Paper Digest: {5 + days} papers on diffusion models and more",
        )
    page.goto(
        live_server.url
        + reverse("subscriptions:manage", args=[make_token(subscriber, Purpose.MANAGE)])
    )
    page.screenshot(path=screenshots_dir / f"manage-{name}.png", full_page=True)

    response = page.goto(live_server.url + reverse("subscriptions:confirm", args=["tampered"]))
    assert response is not None and response.status == 400
    expect(page.get_by_role("button", name="Send me a new link")).to_be_visible()
    page.screenshot(path=screenshots_dir / f"bad-link-{name}.png", full_page=True)
    page.context.close()


def test_reader_votes_from_the_emailed_digest(
    browser, live_server, listing, settings, file_outbox, screenshots_dir: Path
):
    """The digest opened from the outbox (the .html the demo writes beside each .eml): "More
    like this" on a card opens the vote page, which saves nothing until the reader confirms;
    the next day's digest then has a Recommended section saying why."""
    from django.core.management import call_command

    from subscriptions.models import Vote
    from tests.support.factories import SubscriberFactory

    settings.SITE_URL = live_server.url  # the email's links point at this test server
    reader = SubscriberFactory(email="voter@example.org", topics=["transformer"])
    call_command("send_digests", day=listing.isoformat())
    (preview,) = file_outbox.glob("*voter@example.org*.html")

    page = new_page(browser, PHONE)
    page.goto(preview.as_uri())
    first_card = page.locator("td.card").first
    title = first_card.locator("a.card-title").inner_text()
    first_card.get_by_role("link", name="More like this", exact=True).click()

    expect(page.get_by_role("heading", name="More or less like this?")).to_be_visible()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.get_by_label("More like this")).to_be_checked()
    assert not Vote.objects.exists()  # opening the link (as a scanner would) saved nothing
    page.screenshot(path=screenshots_dir / "vote-phone.png", full_page=True)

    page.get_by_role("button", name="Save my vote").click()
    expect(page.get_by_role("heading", name="Saved: “More like this”")).to_be_visible()
    vote = Vote.objects.get()
    assert (vote.subscriber, vote.paper.title, vote.value) == (reader, title, "like")
    page.screenshot(path=screenshots_dir / "vote-saved-phone.png", full_page=True)

    # The next day (the other papers listed then), the reader's digest recommends what is like it.
    from digest.models import Paper

    next_day = listing + dt.timedelta(days=1)
    Paper.objects.exclude(pk=vote.paper.pk).update(listed_on=next_day)
    tomorrow = file_outbox / "tomorrow.html"
    call_command(
        "preview_digest",
        reader.email,
        "--date",
        next_day.isoformat(),
        "--format",
        "html",
        "--out",
        str(tomorrow),
    )
    page.goto(tomorrow.as_uri())
    expect(page.get_by_text("Recommended for you", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Similar to {title} that you liked").first).to_be_visible()
    page.screenshot(path=screenshots_dir / "recommended-next-day-phone.png", full_page=True)
    page.context.close()
