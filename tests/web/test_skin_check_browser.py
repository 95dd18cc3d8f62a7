"""The skin self-check in the app sends the API's structured answers and says "seek medical care today"
exactly when the server's rule does (tracking/rules.py, skin_check_urgent_signs), online in the server's
own words and offline from the app's mirror of that rule (issues #16 and #17).

No ORM call while the browser runs (see test_app_browser.py): rows are made before and read after.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Patient
from tests.factories import PatientFactory
from tests.web.browser import App, web_app
from tests.web.test_app_browser import sign_in
from tracking import rules
from tracking.models import SkinCheck

pytestmark = pytest.mark.django_db(transaction=True)

QUESTIONS = (
    "blisters_or_erosions",
    "fever",
    "spreading_rash",
    "new_or_changing_spot",
    "sore_not_healing",
    "swollen_lymph_nodes",
    "infected",
)
# What a person might answer yes to; every other question is answered no.
CASES = [
    ("blisters", {"blisters_or_erosions"}),
    ("fever and a spreading rash", {"fever", "spreading_rash"}),
    ("fever alone", {"fever"}),
    ("a changing mole", {"new_or_changing_spot"}),
    ("nothing", set()),
]


@pytest.fixture
def patient() -> Patient:
    return PatientFactory(user__email="noor@test.example", timezone="Asia/Qatar")


def answer_the_check(app: App, yes: set[str]) -> None:
    app.open("#/today")  # from another screen, so the check is drawn afresh
    app.page.wait_for_url(re.compile(r"#/today$"))
    app.open("#/skin-check")
    form = app.page.locator("main form")
    for question in QUESTIONS:
        form.locator(f"input[name={question}][value={'yes' if question in yes else 'no'}]").check()
    form.locator("button[type=submit]").click()


def test_the_app_says_seek_care_today_exactly_when_the_server_rule_does(live_server, patient: Patient) -> None:
    shown: dict[str, str] = {}
    with web_app(live_server.url) as app:
        sign_in(app, "noor@test.example")
        for name, yes in CASES:
            answer_the_check(app, yes)
            result = app.page.locator("main .result .notice")
            expect(result).to_be_visible()
            shown[name] = result.inner_text()
        assert app.errors == []

    checks = list(SkinCheck.objects.filter(patient=patient).order_by("created_at"))
    assert len(checks) == len(CASES)
    for (name, yes), check in zip(CASES, checks, strict=True):
        stored = {question for question in rules.SKIN_CHECK_ANSWERS if getattr(check, question) is True}
        assert stored == yes - {"infected"}, name  # the answers themselves are stored, not only a flag
        urgent = bool(rules.skin_check_urgent_signs({question: getattr(check, question) for question in stored}))
        assert shown[name].startswith("Seek medical care today") is urgent, (name, shown[name])
    # Online, the urgent words are the server's own advice, which also says the care team was told.
    assert "care team" in shown["blisters"]


def test_offline_an_urgent_answer_still_says_seek_care_today_at_once(live_server, patient: Patient) -> None:
    with web_app(live_server.url) as app:
        sign_in(app, "noor@test.example")
        app.context.set_offline(True)
        answer_the_check(app, {"fever", "spreading_rash"})
        expect(app.page.locator("main .result .notice.urgent")).to_contain_text("Seek medical care today")
        expect(app.page.locator("main .result")).to_contain_text(re.compile("as soon as this phone is back online"))
        app.context.set_offline(False)

    assert SkinCheck.objects.filter(patient=patient).count() <= 1  # sent when back online, never twice
