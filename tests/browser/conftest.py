"""Playwright (sync API) driving Debian's Chromium against pytest-django's live_server.

Install the browser with `apt-get install chromium` (not `playwright install`). Without it the
browser tests are skipped on a laptop and fail under CI=true.

The pages carry the site's Content-Security-Policy (digest/web/csp.py): every context the `browser`
fixture opens reports each violation (Chromium's console error, and the page's
`securitypolicyviolation` event), and a test during which one happened fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test
# body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


_REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} blocked `
    + `${event.blockedURI || "inline"} at ${event.sourceFile || event.documentURI}`);
});
"""


class CSPWatch:
    """The CSP violations seen in the contexts it watches."""

    def __init__(self) -> None:
        self.violations: list[str] = []

    def watch(self, context: Any) -> Any:
        context.add_init_script(_REPORT_VIOLATIONS)
        context.on("console", self._console)
        return context

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and (
            "Content Security Policy" in text or text.startswith("CSP violation")
        ):
            self.violations.append(f"{message.location.get('url')}: {text}")


class WatchedBrowser:
    """The Playwright browser, whose new contexts and pages report CSP violations."""

    def __init__(self, browser: Any, csp: CSPWatch) -> None:
        self._browser = browser
        self._csp = csp

    def new_context(self, **options: Any) -> Any:
        return self._csp.watch(self._browser.new_context(**options))

    def new_page(self, **options: Any) -> Any:
        page = self._browser.new_page(**options)
        self._csp.watch(page.context)
        return page

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture(scope="session")
def csp_watch() -> CSPWatch:
    return CSPWatch()


@pytest.fixture(autouse=True)
def _no_csp_violation(csp_watch: CSPWatch) -> Iterator[None]:
    csp_watch.violations.clear()
    yield
    violations, csp_watch.violations[:] = list(csp_watch.violations), []
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture(scope="session")
def browser(csp_watch: CSPWatch) -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield WatchedBrowser(browser, csp_watch)
        browser.close()


@pytest.fixture
def screenshots_dir() -> Path:
    path = Path(django_settings.BASE_DIR) / "var" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _browser_settings(settings) -> Iterator[None]:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Transactional tests don't roll the cache table back: start each with fresh rate limits.
    cache.clear()
    yield
    cache.clear()
