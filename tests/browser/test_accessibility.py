"""The public pages have no WCAG 2.1 A/AA violations that axe-core (Deque's engine, run in
Chromium) can find: home, subscribe, the archive and a paper's page (its Follow form, with an
error too), the vote pages, the manage page."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.test_narrow_screens import site  # noqa: F401 (the pages and their data)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG_A_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
PAGES = (
    "home",
    "subscribe",
    "archive",
    "paper",
    "paper-follow-sent",
    "manage",
    "feedback",
    "feedback-no-paper",
    "unsubscribe",
)


def violations(page) -> list[str]:
    # The live preview dims itself while it loads (aria-busy): check the settled page.
    page.wait_for_load_state("networkidle")
    page.locator('[aria-busy="true"]').wait_for(state="detached")
    results = Axe().run(page, options=WCAG_A_AA)
    return [
        f"{v['id']}: {v['help']} "
        f"({'; '.join(str(n['target']) + ' ' + n['html'][:80] for n in v['nodes'][:3])})"
        for v in results.response["violations"]
    ]


def test_public_pages_have_no_wcag_a_or_aa_violations(browser, site):  # noqa: F811
    page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    found = {}
    for name in PAGES:
        page.goto(site[name])
        found[name] = violations(page)
    page.goto(site["feedback"])
    page.get_by_role("button", name="Save my vote").click()
    page.get_by_role("heading", name="Saved: “More like this”").wait_for()
    found["feedback-recorded"] = violations(page)
    page.goto(site["paper"])
    page.get_by_role("button", name="Follow").click()  # no address: the error next to the field
    page.get_by_text("This field is required.").wait_for()
    found["paper-form-error"] = violations(page)
    page.context.close()
    assert found == {name: [] for name in found}
