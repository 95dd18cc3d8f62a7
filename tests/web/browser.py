"""The patient web app in Debian's Chromium (no `playwright install`), as the admin's browser test does.

A context per test, with the service worker allowed (the offline test needs it), requests to any host but
the live server aborted and listed, script errors and CSP refusals collected, and axe-core at hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import BrowserContext, Page, Request, sync_playwright

from tests.conftest import service_unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000
SERIOUS = {"serious", "critical"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "web"


@dataclass
class App:
    """One phone-sized page on the live server, and what it did that it should not have."""

    context: BrowserContext
    page: Page
    base_url: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    api_languages: list[str] = field(default_factory=list)

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.base_url}/app/{route}")

    def serious_violations(self) -> list[str]:
        """axe-core's serious and critical findings on the page as it is now, one line each."""
        results = Axe().run(self.page)
        return [
            f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']]}"
            for violation in results.response["violations"]
            if violation["impact"] in SERIOUS
        ]

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@contextmanager
def web_app(base_url: str) -> Iterator[App]:
    if not CHROMIUM.exists():
        service_unavailable("Chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=PHONE, service_workers="allow", locale="en-GB")
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            app = App(context=context, page=page, base_url=base_url)

            def watch(request: Request) -> None:
                if not request.url.startswith(base_url) and not request.url.startswith("data:"):
                    app.foreign.append(request.url)
                if "/api/" in request.url:
                    app.api_languages.append(request.headers.get("accept-language", ""))

            context.on("request", watch)
            page.on("pageerror", lambda error: app.errors.append(str(error)))
            page.on(
                "console",
                lambda message: (
                    app.errors.append(message.text)
                    if message.type == "error" and "Content Security Policy" in message.text
                    else None
                ),
            )
            yield app
        finally:
            browser.close()
