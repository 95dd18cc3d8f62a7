"""Playwright on Debian's Chromium for browser tests: headless, offline, full-page screenshots under var/.

Playwright's own browser downloads are never used (no `playwright install`): the tests drive the
system's /usr/bin/chromium, skip when it is missing, and fail instead under REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Page, Route, sync_playwright

from tests.conftest import service_unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root in a container, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 10_000


def screenshot_dir() -> Path:
    """SCREENSHOT_DIR, relative to the repository root unless absolute; var/screenshots by default."""
    directory = Path(os.environ.get("SCREENSHOT_DIR", "var/screenshots"))
    if not directory.is_absolute():
        directory = REPO_ROOT / directory
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@dataclass
class Browsing:
    """One browser page on the live server, the requests it was refused and the script errors it raised."""

    page: Page
    screenshots: Path
    blocked: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def screenshot(self, name: str, page: Page | None = None) -> Path:
        path = self.screenshots / f"{name}.png"
        (page or self.page).screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def chromium_on(base_url: str) -> Iterator[Browsing]:
    """A page whose requests may reach `base_url` only: anything else is aborted and listed in `blocked`."""
    if not CHROMIUM.exists():
        service_unavailable("Chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(base_url=base_url, viewport=VIEWPORT, accept_downloads=True)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            browsing = Browsing(page=page, screenshots=screenshot_dir())

            def local_only(route: Route) -> None:
                if route.request.url.startswith(base_url):
                    route.continue_()
                else:
                    browsing.blocked.append(route.request.url)
                    route.abort()

            context.route("**/*", local_only)
            context.on("weberror", lambda error: browsing.script_errors.append(str(error.error)))
            yield browsing
        finally:
            browser.close()
