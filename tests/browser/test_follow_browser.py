"""Following a paper in a real browser: the Follow link of a digest card, the one-button page,
undo, and the manage page's list; following by email from a paper's page in the web archive.
Screenshots land in var/screenshots/."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.urls import reverse
from playwright.sync_api import expect

from digest.composing.build import DayBuilder
from digest.papers.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot
from subscriptions.models import Follow
from subscriptions.readers.tokens import Purpose, make_token
from tests.browser.conftest import PHONE
from tests.browser.test_reader_journey import link_in_last_email, new_page
from tests.support.factories import SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def listing() -> dt.date:
    day = dt.date.today()
    papers_upsert(records=load_snapshot(listed_on=day).records, listed_on=day)
    return day


def test_follow_from_a_card_undo_and_stop_from_manage(
    browser, live_server, listing, settings, screenshots_dir
):
    reader = SubscriberFactory(email="ada@example.org")
    builder = DayBuilder(listing)
    content = builder.select(reader)
    email = builder.render(content, delivery_id=None)
    first = content.trending[0].paper
    href = re.findall(r'<a href="([^"]+)"[^>]*>Follow</a>', email.html)[0]
    page = new_page(browser, PHONE)
    page.goto(live_server.url + href.removeprefix(settings.SITE_URL))
    expect(page.get_by_role("heading", name="Follow this paper?")).to_be_visible()
    expect(page.get_by_text(first.title)).to_be_visible()
    assert page.get_by_role("button").count() == 1
    assert not Follow.objects.exists()  # opening the link changed nothing
    page.screenshot(path=screenshots_dir / "follow-phone.png", full_page=True)

    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("heading", name="You follow this paper")).to_be_visible()
    assert Follow.objects.get(subscriber=reader).paper_id == first.pk
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("heading", name="You no longer follow this paper")).to_be_visible()
    assert not Follow.objects.exists()
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("heading", name="You follow this paper")).to_be_visible()

    manage = f"/manage/{make_token(reader, Purpose.MANAGE)}/"
    page.goto(live_server.url + manage)
    following = page.get_by_role("region", name="Papers you follow")
    expect(following.get_by_text(first.title)).to_be_visible()
    following.get_by_role("button", name="Stop following").click()
    expect(page.get_by_text("You no longer follow")).to_be_visible()
    assert not Follow.objects.exists()
    page.context.close()


def test_follow_from_the_archive_by_email(browser, live_server, listing, screenshots_dir):
    reader = SubscriberFactory(email="ada@example.org")
    page = new_page(browser, PHONE)
    page.goto(live_server.url + reverse("digest:archive", args=[listing.isoformat()]))
    first = page.locator(".paper-title a").first
    title = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    expect(page.get_by_role("link", name="arXiv abstract")).to_be_visible()

    # A mistyped address is explained next to the field; nothing is sent.
    page.get_by_label("Your email address").fill("ada@")
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_text("Enter a valid email address.")).to_be_visible()
    expect(page.get_by_label("Your email address")).to_have_attribute("aria-invalid", "true")
    assert mail.outbox == []

    page.get_by_label("Your email address").fill("ada@example.org")
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.screenshot(path=screenshots_dir / "archive-follow-sent-phone.png", full_page=True)
    assert [m.to for m in mail.outbox] == [["ada@example.org"]]
    assert not Follow.objects.exists()

    page.goto(link_in_last_email("follow", live_server))
    expect(page.get_by_role("heading", name="Follow this paper?")).to_be_visible()
    expect(page.get_by_text(title)).to_be_visible()
    assert not Follow.objects.exists()  # opening the emailed link changed nothing
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("heading", name="You follow this paper")).to_be_visible()

    page.goto(live_server.url + f"/manage/{make_token(reader, Purpose.MANAGE)}/")
    following = page.get_by_role("region", name="Papers you follow")
    expect(following.get_by_text(title)).to_be_visible()
    page.context.close()
