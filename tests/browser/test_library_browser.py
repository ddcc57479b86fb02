"""A reader's library in a real browser: upload an export on the manage page, read the result,
remove everything (behind a confirmation); starter picks on the signup form with their live
preview. Screenshots land in var/screenshots/."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from digest.papers.ingest import papers_upsert
from digest.sources.snapshot import load_snapshot
from subscriptions.models import LibraryPaper
from subscriptions.readers.tokens import Purpose, make_token
from tests.browser.conftest import PHONE
from tests.browser.test_reader_journey import new_page
from tests.subscriptions.library.test_importing import atom
from tests.support.factories import SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DATA = Path(__file__).parent.parent / "subscriptions" / "library" / "data"


@pytest.fixture(autouse=True)
def arxiv(settings, httpserver):
    """A local stand-in of arXiv's API that knows one paper of the upload."""
    settings.ARXIV_API_URL = httpserver.url_for("/api/query")
    settings.ARXIV_REQUEST_INTERVAL = 0
    httpserver.expect_request("/api/query").respond_with_data(
        atom([("2006.11239", "Denoising Diffusion Probabilistic Models", "We present DDPM.")]),
        content_type="application/atom+xml",
    )


def test_upload_a_library_see_the_result_and_remove_it_all(browser, live_server, screenshots_dir):
    reader = SubscriberFactory(email="ada@example.org")
    page = new_page(browser, PHONE)
    page.goto(live_server.url + f"/manage/{make_token(reader, Purpose.MANAGE)}/")
    library = page.get_by_role("region", name="Your library")
    expect(library.get_by_text("No library papers yet.")).to_be_visible()

    library.get_by_label("Upload a library file").set_input_files(str(DATA / "broken.bib"))
    library.get_by_role("button", name="Import").click()
    library = page.get_by_role("region", name="Your library")
    expect(library.get_by_role("status")).to_have_text(
        "2 papers imported, 2 skipped (line 8: a broken entry (unclosed brace?); "
        "line 13: no title and no arXiv id)."
    )
    expect(
        library.get_by_role("link", name="Denoising Diffusion Probabilistic Models")
    ).to_be_visible()
    assert LibraryPaper.objects.get(arxiv_id="2006.11239").abstract == "We present DDPM."
    page.screenshot(path=screenshots_dir / "library-imported-phone.png", full_page=True)

    # Remove all sits behind a disclosure and a checkbox the browser requires.
    library.get_by_text("Remove all library papers…").click()
    button = library.get_by_role("button", name="Remove all library papers")
    button.click()
    assert LibraryPaper.objects.count() == 2  # the unticked box kept the form from posting
    library.get_by_label("Remove all 2 papers from my library").check()
    button.click()
    expect(page.get_by_text("Removed all your library papers (2).")).to_be_visible()
    expect(
        page.get_by_role("region", name="Your library").get_by_text("No library papers yet.")
    ).to_be_visible()
    assert not LibraryPaper.objects.exists()
    page.context.close()


def test_starter_picks_show_the_first_recommended_section(browser, live_server, screenshots_dir):
    day = dt.date.today()
    papers_upsert(records=load_snapshot(listed_on=day).records, listed_on=day)
    page = new_page(browser, PHONE)
    page.goto(live_server.url + reverse("subscriptions:subscribe"))
    starter = page.get_by_role("group", name="Start from papers you like")
    preview = page.locator("#starter-preview")
    expect(preview.get_by_text("Tick a paper")).to_be_visible()
    starter.get_by_role("checkbox").first.check()
    expect(preview.locator(".preview-item").first).to_be_visible()
    expect(preview.get_by_text("that you liked").first).to_be_visible()
    page.screenshot(path=screenshots_dir / "signup-starter-picks-phone.png", full_page=True)
    page.context.close()
