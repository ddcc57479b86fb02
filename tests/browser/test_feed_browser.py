"""The private feed from the reader's side, in Chromium: the manage page shows the feed's
address, the address serves their digest as Atom, and "New feed address" replaces it."""

from __future__ import annotations

import datetime as dt

import feedparser
import pytest
from django.urls import reverse
from playwright.sync_api import expect

from digest.delivery.batch import deliveries_plan, deliveries_send
from digest.models import Delivery
from digest.papers.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot
from subscriptions.readers.tokens import Purpose, make_token
from tests.browser.conftest import DESKTOP
from tests.support.factories import SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_reader_finds_their_feed_on_the_manage_page(browser, live_server, settings):
    settings.SITE_URL = live_server.url  # the page's absolute links lead to this server
    day = dt.date.today()
    papers_upsert(records=load_snapshot(listed_on=day).records, listed_on=day)
    reader = SubscriberFactory(email="ada@example.org", topics=["diffusion"])
    deliveries_send(delivery_ids=deliveries_plan(day=day))
    sent = [item["arxiv_id"] for item in Delivery.objects.get(subscriber=reader).papers]

    page = browser.new_context(viewport=DESKTOP).new_page()
    manage = reverse("subscriptions:manage", args=[make_token(reader, Purpose.MANAGE)])
    page.goto(live_server.url + manage)
    panel = page.get_by_role("region", name="Read it in a feed reader")
    expect(panel).to_contain_text("Keep this address to yourself")
    link = panel.get_by_role("link", name="Open the feed")
    address = link.get_attribute("href")
    assert address and address.startswith(live_server.url + "/feed/")
    expect(panel.get_by_label("Your feed address")).to_have_value(address)

    response = page.request.get(address)
    assert response.status == 200
    parsed = feedparser.parse(response.body())
    assert not parsed.bozo
    assert [entry.link.rstrip("/").rsplit("/", 1)[-1] for entry in parsed.entries] == sent

    panel.get_by_role("button", name="New feed address").click()
    expect(page.get_by_role("status")).to_contain_text("the old one no longer works")
    renewed = page.get_by_role("link", name="Open the feed").get_attribute("href")
    assert renewed and renewed != address
    assert page.request.get(address).status == 404
    assert page.request.get(renewed).status == 200

    # Feed only: the choice is kept and shown.
    page.get_by_label("Feed reader only (no email)").check()
    page.get_by_role("region", name="Read it in a feed reader").get_by_role(
        "button", name="Save"
    ).click()
    expect(page.get_by_role("status")).to_contain_text("feed reader only")
    expect(page.get_by_label("Feed reader only (no email)")).to_be_checked()
