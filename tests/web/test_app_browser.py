"""The patient web app end to end in Chromium against the live server (issue #16).

No ORM call while the browser runs: Playwright's sync API keeps an asyncio loop in this thread, where Django
refuses ORM calls. Data is made before the browser starts and checked after it closes.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from accounts.models import Patient, User
from tests.factories import TEST_PASSWORD, CaregiverFactory, DependentFactory, PatientFactory
from tests.web.browser import App, web_app
from tracking.models import Application, Symptom
from tracking.services import regimen_prescribe

pytestmark = pytest.mark.django_db(transaction=True)

THREE_TIMES = ["08:00", "14:00", "20:00"]
EVERY_DAY = [1, 2, 3, 4, 5, 6, 7]


def prescribe(patient: Patient, *, strength: str, areas: list[str]) -> None:
    regimen_prescribe(
        patient=patient,
        created_by=patient.user or patient.caregivers.first(),
        drug="tacrolimus",
        strength=strength,
        phase="treatment",
        body_areas=areas,
        times=THREE_TIMES,
        weekdays=EVERY_DAY,
        start_date=datetime.date.today() - datetime.timedelta(days=10),
    )


@dataclass(frozen=True)
class Family:
    patient: Patient
    caregiver: User
    sara: Patient
    omar: Patient


@pytest.fixture
def family() -> Family:
    patient = PatientFactory(user__email="layla@test.example", user__first_name="Layla", timezone="Asia/Qatar")
    prescribe(patient, strength="0.1", areas=["face", "neck"])
    caregiver = CaregiverFactory(email="parent@test.example", first_name="Huda")
    sara = DependentFactory(first_name="Sara", caregiver=caregiver, timezone="Europe/Berlin")
    omar = DependentFactory(first_name="Omar", caregiver=caregiver, timezone="Europe/Berlin")
    for child in (sara, omar):
        prescribe(child, strength="0.03", areas=["arm_left", "hand_left"])
    return Family(patient=patient, caregiver=caregiver, sara=sara, omar=omar)


def sign_in(app: App, email: str) -> None:
    app.open()
    app.page.wait_for_url(re.compile(r"#/sign-in$"))
    app.page.locator("input[name=email]").fill(email)
    app.page.locator("input[name=password]").fill(TEST_PASSWORD)
    app.page.locator("form button[type=submit]").click()
    app.page.wait_for_url(re.compile(r"#/today$"))
    expect(app.page.locator("main h1")).to_be_visible()


def waiting_count(app: App) -> str:
    return app.page.locator("#status").get_attribute("data-waiting") or "0"


def test_a_patient_signs_in_and_logs_a_dose_in_one_tap(live_server, family: Family) -> None:
    with web_app(live_server.url) as app:
        sign_in(app, "layla@test.example")
        page = app.page
        expect(page.locator("main h1")).to_have_text("Today")
        expect(page.locator("#top")).to_contain_text("Your record (Layla)")
        expect(page.locator("main")).to_contain_text("Tacrolimus 0.1% ointment: 3 times a day")
        # The FTU guide area by area, from the adult table: face and neck are one row of 2.5.
        expect(page.locator(".ftu-rows li")).to_have_text(["Face, Neck: about 2.5 fingertip units"])
        expect(page.locator(".ftu")).to_contain_text("About 2.5 fingertip units in all.")
        page.get_by_role("button", name=re.compile("^Applied now")).first.click()
        expect(page.locator(".slot.done")).to_have_count(1)
        expect(page.locator(".slot.done")).to_contain_text("Face, Neck")
        app.screenshot("today-en")
        assert app.foreign == []
        assert app.errors == []

    stored = list(Application.objects.filter(patient=family.patient))
    assert len(stored) == 1
    assert stored[0].body_areas == ["face", "neck"]


def test_three_doses_logged_offline_survive_a_reload_and_are_stored_once_each(live_server, family: Family) -> None:
    with web_app(live_server.url) as app:
        sign_in(app, "layla@test.example")
        page = app.page
        assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()  # now under the worker, which holds the app shell
        expect(page.locator("main h1")).to_have_text("Today")
        assert page.evaluate("Boolean(navigator.serviceWorker.controller)")

        app.context.set_offline(True)
        for expected_done in (1, 2, 3):
            page.get_by_role("button", name=re.compile("^Applied now")).first.click()
            expect(page.locator(".slot.done")).to_have_count(expected_done)
        expect(page.locator("#status")).to_contain_text("3 entries are saved on this phone")

        page.reload()  # offline: the shell comes from the worker, the entries from IndexedDB
        expect(page.locator("main h1")).to_have_text("Today")
        expect(page.locator(".slot.done")).to_have_count(3)
        expect(page.locator("#status")).to_contain_text("3 entries")
        app.screenshot("today-offline-en")

        app.context.set_offline(False)
        expect(page.locator("#status")).to_have_attribute("data-waiting", "0", timeout=15_000)
        assert app.errors == []

    assert Application.objects.filter(patient=family.patient).count() == 3


def test_a_caregiver_switches_children_in_arabic_right_to_left(live_server, family: Family) -> None:
    with web_app(live_server.url) as app:
        app.open()
        page = app.page
        page.wait_for_url(re.compile(r"#/sign-in$"))
        page.get_by_role("button", name="العربية").click()
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("html")).to_have_attribute("lang", "ar")
        expect(page.locator("main h1")).to_have_text("تسجيل الدخول")
        page.locator("input[name=email]").fill("parent@test.example")
        page.locator("input[name=password]").fill(TEST_PASSWORD)
        page.locator("form button[type=submit]").click()
        page.wait_for_url(re.compile(r"#/today$"))

        switch = page.locator("#patient-switch")
        expect(switch).to_be_visible()
        first = switch.locator("option:checked").inner_text()
        other = "Omar" if first == "Sara" else "Sara"
        expect(page.locator("main h1")).to_have_text(f"اليوم لـ {first}")
        switch.select_option(label=other)
        expect(page.locator("main h1")).to_have_text(f"اليوم لـ {other}")
        expect(page.locator("main")).to_contain_text(f"كيف حال بشرة {other} الآن؟")

        symptoms = page.locator("form", has=page.locator("input[name=itch]"))
        symptoms.locator("input[name=burning][value='3']").check()
        symptoms.locator("button[type=submit]").click()
        expect(page.locator("main")).to_contain_text("تم الحفظ")
        app.screenshot("today-ar-caregiver")
        assert set(app.api_languages) == {"ar"}
        assert app.errors == []

    child = family.omar if other == "Omar" else family.sara
    assert list(Symptom.objects.filter(patient=child).values_list("burning", flat=True)) == [3]
    assert not Symptom.objects.exclude(patient=child).exists()


@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_screen_has_no_serious_accessibility_violation(live_server, family: Family, language: str) -> None:
    found: dict[str, list[str]] = {}
    with web_app(live_server.url) as app:
        page = app.page
        app.open()
        page.wait_for_url(re.compile(r"#/sign-in$"))
        if language == "ar":
            page.get_by_role("button", name="العربية").click()
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
        for route in ("sign-in", "register", "forgot-password"):
            app.open(f"#/{route}")
            expect(page.locator("main h1")).to_be_visible()
            found[route] = app.serious_violations()
        sign_in(app, "layla@test.example")
        page.get_by_role("button", name=re.compile("^(Applied now|وضعته الآن)")).first.click()
        expect(page.locator(".slot.done")).to_have_count(1)
        for route in ("today", "history", "poem", "skin-check", "more"):
            app.open(f"#/{route}")
            expect(page.locator("main h1")).to_be_visible()
            page.wait_for_load_state("networkidle")
            found[route] = app.serious_violations()
            app.screenshot(f"{route}-{language}")
        assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
        assert app.errors == []
        assert app.foreign == []

    assert {route: violations for route, violations in found.items() if violations} == {}
