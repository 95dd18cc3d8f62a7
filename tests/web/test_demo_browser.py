"""The demo from `make run` (seed_demo) opens the web app with weeks of history (issue #16), for its patient and
its caregiver; the screenshots the README shows (docs/screenshots/) are taken here, on a phone-sized page.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from tests.web.browser import SCREENSHOTS, App, web_app

pytestmark = pytest.mark.django_db(transaction=True)

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
MAX_SCREENSHOT_BYTES = 150_000


def seeded_logins() -> tuple[str, dict[str, str]]:
    """Run seed_demo as `make run` does; the password and the e-mail of each login it prints, by first word."""
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    printed = out.getvalue()
    password = re.search(r"password for all: (\S+)\)", printed)
    assert password, printed
    emails = dict(re.findall(r"^\s+((\w+)(?:\.\w+)?@demo\.example)", printed, flags=re.MULTILINE))
    return password.group(1), {local: email for email, local in emails.items()}


def sign_in(app: App, email: str, password: str) -> None:
    app.open()
    app.page.wait_for_url(re.compile(r"#/sign-in$"))
    app.page.locator("input[name=email]").fill(email)
    app.page.locator("input[name=password]").fill(password)
    app.page.locator("form button[type=submit]").click()
    app.page.wait_for_url(re.compile(r"#/today$"))
    expect(app.page.locator("main h1")).to_have_text(re.compile(r"^Today"))


def screenshot_for_the_readme(app: App, name: str) -> None:
    """The visible phone screen (390 x 844), kept small: under var/screenshots/web/ on every run, and as
    docs/screenshots/<name>.png (the README's) only with UPDATE_SCREENSHOTS=1, so a test run leaves the
    checkout as it was (the date on the screen changes every day)."""
    folder = DOCS_SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    app.page.screenshot(path=str(path), full_page=False, animations="disabled", caret="hide")
    assert path.stat().st_size < MAX_SCREENSHOT_BYTES, (path, path.stat().st_size)


def test_the_demo_patient_opens_today_and_weeks_of_history(live_server) -> None:
    password, logins = seeded_logins()
    with web_app(live_server.url) as app:
        page = app.page
        sign_in(app, logins["amira"], password)
        expect(page.locator("#top")).to_contain_text("Amira")
        # Maintenance twice a week by now (seed_demo's story): today has a dose or says none is planned.
        expect(page.get_by_role("region", name="Ointment today")).to_be_visible()
        expect(page.get_by_role("region", name="How is your skin now?")).to_be_visible()
        screenshot_for_the_readme(app, "today")

        app.open("#/history")
        expect(page.locator("main h1")).to_have_text(re.compile(r"^History"))
        expect(page.locator("td.day.full").first).to_be_visible()
        assert page.locator("td.day.full").count() >= 14  # weeks of doses taken, adherent Amira
        expect(page.locator("svg.chart").first).to_be_visible()
        assert page.locator("svg.chart circle.point").count() >= 10  # readings to plot
        screenshot_for_the_readme(app, "history")
        assert app.errors == []
        assert app.foreign == []


def test_the_demo_caregiver_opens_their_childs_record_with_history(live_server) -> None:
    password, logins = seeded_logins()
    with web_app(live_server.url) as app:
        page = app.page
        sign_in(app, logins["parent"], password)
        expect(page.locator("#top")).to_contain_text("Noah")
        expect(page.locator("main")).to_contain_text("Tacrolimus")
        expect(page.get_by_role("button", name=re.compile("^Applied now")).first).to_be_visible()
        screenshot_for_the_readme(app, "today-caregiver")
        app.open("#/history")
        expect(page.locator("main h1")).to_have_text("Noah's history")
        expect(page.locator("td.day.full").first).to_be_visible()
        assert page.locator("td.day.full").count() >= 14
        assert app.errors == []
