"""The patient web app in Chromium (issue #16): the language follows the account, a dose is corrected
within the API's window and not after, an expired session asks to sign in and then sends the queue once,
and a changed replay shows what the server kept.

As in test_app_browser.py, no ORM call while the browser runs: data is made before and checked after.
"""

from __future__ import annotations

import datetime
import json
import re
import urllib.request
import uuid

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Patient, User
from tests.factories import TEST_PASSWORD, PatientFactory
from tests.web.browser import App, web_app
from tests.web.test_app_browser import prescribe, sign_in
from tracking.models import Application
from tracking.services.logs import log_record

pytestmark = pytest.mark.django_db(transaction=True)

# The app's own modules, loaded beside the page's (same IndexedDB): how a test reads or ages what it keeps.
IDB = "new URL('./idb.js', document.querySelector('script[type=module]').src)"


@pytest.fixture
def patient() -> Patient:
    patient = PatientFactory(user__email="layla@test.example", user__first_name="Layla", timezone="Asia/Qatar")
    prescribe(patient, strength="0.1", areas=["face", "neck"])
    return patient


def stored_session(app: App) -> dict[str, str]:
    return app.page.evaluate(f"import({IDB}).then((idb) => idb.kv.get('session'))")


def test_the_language_follows_the_account_and_a_switch_is_stored_on_it(live_server, patient: Patient) -> None:
    User.objects.filter(pk=patient.user.pk).update(language="ar")
    with web_app(live_server.url) as app:
        page = app.page
        app.open()
        expect(page.locator("html")).to_have_attribute("lang", "en")  # a new phone in English (en-GB)
        sign_in(app, "layla@test.example")
        # Never chosen on this phone: the account's language is adopted at sign-in, right to left.
        expect(page.locator("html")).to_have_attribute("dir", "rtl")
        expect(page.locator("main h1")).to_have_text("اليوم")
        with page.expect_response(
            lambda response: response.url.endswith("/api/v1/me/") and response.request.method == "PATCH"
        ) as patched:
            page.get_by_role("button", name="English").click()
        assert patched.value.status == 200
        expect(page.locator("main h1")).to_have_text("Today")
        page.reload()  # the choice is remembered on this phone, over the account's former language
        expect(page.locator("main h1")).to_have_text("Today")
        expect(page.locator("html")).to_have_attribute("dir", "ltr")
        assert app.errors == []

    patient.user.refresh_from_db()
    assert patient.user.language == "en"  # so the inbox, pushes and e-mails follow


def test_a_dose_is_corrected_within_the_window_and_not_after(live_server, patient: Patient) -> None:
    old = log_record(
        model=Application,
        patient=patient,
        created_by=patient.user,
        item={
            "id": uuid.uuid4(),
            "applied_at": timezone.now() - datetime.timedelta(minutes=2),
            "body_areas": ["face", "neck"],
            "regimen": patient.regimens.get().pk,
        },
    )
    Application.objects.filter(pk=old.entry.pk).update(created_at=timezone.now() - datetime.timedelta(hours=25))
    with web_app(live_server.url) as app:
        sign_in(app, "layla@test.example")
        page = app.page
        expect(page.locator(".slot.done")).to_have_count(1)
        locked = page.locator(".slot.done")
        expect(locked).to_contain_text("it can no longer be changed")
        expect(locked.locator("details.correction")).to_have_count(0)  # no edit control past the window
        expect(locked.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)

        page.get_by_role("button", name=re.compile("^Applied now")).first.click()
        expect(page.locator(".slot.done")).to_have_count(2)
        fresh = page.locator(".slot.done", has=page.locator("details.correction"))
        fresh.locator("summary").click()
        fresh.get_by_label("Neck").uncheck()
        fresh.get_by_role("button", name="Save the change").click()
        expect(page.locator("main")).to_contain_text("Changed.")
        expect(page.locator(".slot.done", has=page.locator("details.correction"))).to_contain_text("Face")
        assert app.errors == []

    new = Application.objects.exclude(pk=old.entry.pk).get(patient=patient)
    assert new.body_areas == ["face"]
    assert Application.objects.get(pk=old.entry.pk).body_areas == ["face", "neck"]


def test_an_expired_session_asks_to_sign_in_then_sends_the_queue_once(live_server, patient: Patient) -> None:
    with web_app(live_server.url) as app:
        sign_in(app, "layla@test.example")
        page = app.page
        expect(page.locator("main h1")).to_have_text("Today")
        app.context.set_offline(True)
        page.get_by_role("button", name=re.compile("^Applied now")).first.click()
        expect(page.locator("#status")).to_have_attribute("data-waiting", "1")

        # Meanwhile the session ends: signed out on the server (from elsewhere), and the access token here
        # has expired (its payload says so; the server would refuse it for its signature as well).
        session = stored_session(app)
        request = urllib.request.Request(  # noqa: S310 (the live server on loopback, http)
            f"{live_server.url}/api/v1/auth/logout/",
            data=json.dumps({"refresh": session["refresh"]}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request) as answer:  # noqa: S310
            assert answer.status in (200, 204, 205)
        page.evaluate(f"""import({IDB}).then(async (idb) => {{
            const session = await idb.kv.get('session');
            const expired = btoa(JSON.stringify({{ exp: 1 }})).replace(/=+$/, '');
            await idb.kv.set('session', {{ ...session, access: `e30.${{expired}}.x` }});
        }})""")

        app.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        page.wait_for_url(re.compile(r"#/sign-in$"))
        expect(page.locator("main")).to_contain_text("Please sign in again")
        expect(page.locator("main")).to_contain_text("1 entry is saved on this phone")  # safe, and says so
        page.locator("input[name=password]").fill(TEST_PASSWORD)
        expect(page.locator("input[name=email]")).to_have_value("layla@test.example")
        page.locator("form button[type=submit]").click()
        page.wait_for_url(re.compile(r"#/today$"))
        expect(page.locator("#status")).to_have_attribute("data-waiting", "0", timeout=15_000)
        page.reload()
        expect(page.locator(".slot.done")).to_have_count(1)
        assert app.errors == []

    assert Application.objects.filter(patient=patient).count() == 1


def test_a_changed_replay_shows_what_the_server_kept(live_server, patient: Patient) -> None:
    kept_id = str(uuid.uuid4())
    log_record(
        model=Application,
        patient=patient,
        created_by=patient.user,
        item={
            "id": uuid.UUID(kept_id),
            "applied_at": timezone.now() - datetime.timedelta(minutes=30),
            "body_areas": ["face", "neck"],
            "regimen": patient.regimens.get().pk,
        },
    )
    with web_app(live_server.url) as app:
        sign_in(app, "layla@test.example")
        page = app.page
        # The same entry (its client id), sent again with other content: as from a phone whose first send
        # reached the server, then was edited offline before the replay.
        page.evaluate(
            f"""(patient) => import(new URL('./queue.js', document.querySelector('script[type=module]').src))
            .then((queue) => queue.enqueue('applications', patient, {{
                id: '{kept_id}', applied_at: new Date().toISOString(), body_areas: ['scalp'] }}))""",
            str(patient.pk),
        )
        page.reload()
        notice = page.locator("#notices .notice")
        expect(notice).to_contain_text("Already stored differently", timeout=15_000)
        expect(notice).to_contain_text("Face, Neck")  # what was kept, in words
        expect(notice).not_to_contain_text("Scalp")
        expect(page.locator("#status")).to_have_attribute("data-waiting", "0")
        assert app.errors == []

    assert list(Application.objects.filter(patient=patient).values_list("body_areas", flat=True)) == [["face", "neck"]]


def test_bad_input_is_refused_beside_its_field_with_the_apis_message_in_arabic(live_server) -> None:
    with web_app(live_server.url) as app:
        page = app.page
        app.open()
        page.wait_for_url(re.compile(r"#/sign-in$"))
        page.get_by_role("button", name="العربية").click()
        app.open("#/register")
        form = page.locator("main form")
        form.locator("input[name=first_name]").fill("Layla")
        form.locator("input[name=email]").fill("new-patient@test.example")
        form.locator("input[name=password]").fill("a long and unusual passphrase 42")
        form.locator("input[name=birth_date]").fill("2010-05-01")
        form.locator("input[name=timezone]").fill("Mars/Olympus")  # no such zone: the project's own rule
        form.locator("button[type=submit]").click()
        zone = form.locator("[data-field=timezone]")
        expect(zone.locator(".field-error")).to_have_text(
            "المنطقة الزمنية 'Mars/Olympus' غير معروفة: استخدم اسمًا من قائمة IANA مثل Europe/London أو Asia/Qatar."
        )
        expect(zone.locator("input")).to_have_attribute("aria-invalid", "true")
        expect(form.locator("[data-field=password] .field-error")).to_be_hidden()
        assert set(app.api_languages) == {"ar"}
        assert app.errors == []

    assert not User.objects.filter(email="new-patient@test.example").exists()
