"""The digest email in a real browser: nothing overflows at phone or desktop width."""

from __future__ import annotations

from datetime import date

import pytest

from digest.composing.build import DayBuilder
from tests.support.factories import PaperFactory, SubscriberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

DAY = date(2026, 11, 24)


@pytest.fixture
def digest_html():
    PaperFactory(
        arxiv_id="2409.10594",
        listed_on=DAY,
        upvotes=40,
        featured=True,
        title="Kolmogorov-Arnold Transformer",
        editor_note="Worth your morning coffee.",
        thumbnail="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1200' "
        "height='600'%3E%3Crect width='1200' height='600' fill='%23c7d2fe'/%3E%3C/svg%3E",
        github_repo="https://github.com/Adamdad/kat",
        github_stars=812,
    )
    PaperFactory(
        arxiv_id="2611.00002",
        listed_on=DAY,
        upvotes=3,
        title="Supercalifragilisticexpialidociousnessmodelsthatneverbreakanywhere for diffusion",
        abstract="A diffusion model with an unbroken token "
        "https://example.org/a/very/long/path/that/does/not/break/anywhere/at/all/whatsoever "
        "and $\\mathcal{O}(n^2)$ cost.",
    )
    subscriber = SubscriberFactory(topics=["diffusion"])
    builder = DayBuilder(DAY)
    return builder.render(builder.select(subscriber), delivery_id=1).html


@pytest.mark.parametrize(("name", "width"), [("phone", 375), ("desktop", 1200)])
def test_email_fits_the_screen(browser, screenshots_dir, digest_html, name, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.set_content(digest_html)
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"the email scrolls sideways by {overflow}px at {width}px"
        container = page.evaluate(
            "() => document.querySelector('.container').getBoundingClientRect().width"
        )
        assert container <= min(600, width)
        page.screenshot(path=str(screenshots_dir / f"email-digest-{name}.png"), full_page=True)
    finally:
        page.close()
