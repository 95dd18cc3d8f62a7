"""Reminders in the web app (issue #16), in Debian's Chromium against the live server.

What runs for real: the app's push screen asking the notification permission (granted to the context), fetching
the VAPID key from GET /api/v1/push/vapid-public-key/, registering the subscription with POST /api/v1/devices/
and removing it with DELETE; the service worker's own code turning a reminder's payload into a notification
(`showReminder`, through `registration.showNotification`) and acting on its buttons
(`handleNotificationClick`, on the notification `getNotifications()` gives back) against the live API.

What does not: a real push subscription and a real push event. Debian's headless Chromium refuses
`PushManager.subscribe` ("AbortError: Registration failed - permission denied", even with the permission
granted), and there is no push service to reach offline anyway, so `PushManager.subscribe` is replaced in
the page by a stand-in that answers a well-formed subscription (an FCM endpoint, a real P-256 key) and
records the applicationServerKey it was given;
and a NotificationEvent made by a script cannot be waited on (waitUntil throws on untrusted events), so the
test calls the handlers the worker's `push` and `notificationclick` listeners call, with the same arguments.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import uuid
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone
from playwright.sync_api import Worker, expect
from pytest_django.fixtures import Settings

from accounts.models import Patient
from tests.factories import TEST_PASSWORD, PatientFactory
from tests.tracking.peers import make_vapid_keys
from tests.web.browser import App, web_app
from tests.web.test_app_browser import prescribe, sign_in
from tracking.models import Application, Device, Notification, Occurrence, OccurrenceState, Regimen, Schedule

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "noor@test.example"
ENDPOINT = f"https://fcm.googleapis.com/fcm/send/{uuid.uuid4().hex}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Noor:
    patient: Patient
    regimen: Regimen


@pytest.fixture
def noor(settings: Settings) -> Noor:
    settings.WEBPUSH_VAPID_PRIVATE_KEY = make_vapid_keys().private_key
    patient = PatientFactory(user__email=EMAIL, user__first_name="Noor", timezone="Asia/Qatar")
    prescribe(patient, strength="0.1", areas=["face", "neck"])
    return Noor(patient=patient, regimen=Regimen.objects.get(patient=patient))


def reminder(patient: Patient, regimen: Regimen, *, kind: str = "dose", slot: str = "08:00") -> Notification:
    """A reminder as delivery writes it (tracking/notifications/services/fan_out.py): title with the drug's name."""
    schedule = Schedule.objects.get(patient=patient, regimen=regimen, kind="dose")
    now = timezone.now()
    occurrence = Occurrence.objects.create(
        schedule=schedule,
        patient=patient,
        kind=kind,
        local_date=now.date(),
        slot=slot,
        due_at=now,
        slot_at=now,
        state=OccurrenceState.DELIVERED,
    )
    title = "Time for your tacrolimus 0.1%" if kind == "dose" else "Did you apply your tacrolimus 0.1%?"
    return Notification.objects.create(
        occurrence=occurrence,
        recipient=patient.user,
        patient=patient,
        kind=kind,
        title=title,
        body="Apply a thin layer to face and neck, as your dermatologist prescribed, then log it.",
        created_at=now,
    )


def payload(notification: Notification, regimen: Regimen) -> dict[str, str]:
    """What the Web Push transport sends (Message.push_payload)."""
    return {
        "notification_id": str(notification.pk),
        "occurrence_id": str(notification.occurrence_id),
        "collapse_key": notification.occurrence_id.hex,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "patient_id": str(notification.patient_id),
        "regimen_id": str(regimen.pk),
    }


STAND_IN_PUSH_MANAGER = """
    (() => {
      const SUBSCRIPTION = SUBSCRIPTION_JSON;
      const state = { subscription: null, keys: [] };
      window.__push = state;
      const toBase64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
        .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
      PushManager.prototype.subscribe = async function (options) {
        state.keys.push(toBase64url(options.applicationServerKey));
        state.subscription = {
          endpoint: SUBSCRIPTION.endpoint,
          options: { applicationServerKey: new Uint8Array(options.applicationServerKey).buffer },
          toJSON: () => SUBSCRIPTION,
          unsubscribe: async () => { state.subscription = null; return true; },
        };
        return state.subscription;
      };
      PushManager.prototype.getSubscription = async function () { return state.subscription; };
    })();
    """


def stand_in_push_manager() -> str:
    """A PushManager that answers a well-formed subscription and records the key it was asked to use."""
    p256dh = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = p256dh.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    subscription = {
        "endpoint": ENDPOINT,
        "expirationTime": None,
        "keys": {"p256dh": b64url(point), "auth": b64url(b"0123456789abcdef")},
    }
    return STAND_IN_PUSH_MANAGER.replace("SUBSCRIPTION_JSON", json.dumps(subscription))


def service_worker(app: App) -> Worker:
    app.page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    app.page.reload()  # now controlled by the worker
    expect(app.page.locator("main h1")).to_be_visible()
    workers = [worker for worker in app.context.service_workers if worker.url.endswith("/app/sw.js")]
    assert len(workers) == 1
    return workers[0]


SHOW = """async (payload) => {
  await showReminder(payload);
  const [shown] = await self.registration.getNotifications({ tag: payload.collapse_key });
  return { title: shown.title, body: shown.body, lang: shown.lang, dir: shown.dir,
           actions: shown.actions.map((action) => [action.action, action.title]), data: shown.data };
}"""
CLICK = """async ([tag, action]) => {
  const [shown] = await self.registration.getNotifications({ tag });
  await handleNotificationClick(shown, action);
  return (await self.registration.getNotifications()).map((left) => left.title);
}"""


def test_push_is_turned_on_with_the_servers_key_and_off_again(live_server, noor: Noor, settings: Settings) -> None:
    with web_app(live_server.url) as app:
        app.context.grant_permissions(["notifications"], origin=live_server.url)
        app.context.add_init_script(stand_in_push_manager())
        sign_in(app, EMAIL)
        page = app.page
        service_worker(app)
        app.open("#/more")
        status = page.locator("#push-status")
        expect(status).to_have_attribute("data-status", "off")
        with page.expect_response(lambda response: response.url.endswith("/api/v1/devices/")) as registered:
            page.get_by_role("button", name="Turn on reminders").click()
        assert registered.value.status == 201
        expect(status).to_have_attribute("data-status", "on")
        expect(status).to_contain_text("Reminders come to this phone")
        key = page.evaluate("fetch('/api/v1/push/vapid-public-key/').then((r) => r.json())")["public_key"]
        assert page.evaluate("window.__push.keys") == [key]  # subscribed with the key the API gives
        device_id = registered.value.json()["id"]
        app.screenshot("more-push-on-en")

        with page.expect_response(lambda response: f"/api/v1/devices/{device_id}/" in response.url) as removed:
            page.get_by_role("button", name="Turn off reminders on this phone").click()
        assert removed.value.request.method == "DELETE"
        assert removed.value.status == 204
        expect(status).to_have_attribute("data-status", "off")
        assert page.evaluate("window.__push.subscription") is None
        assert app.errors == []
        assert app.foreign == []
    assert not Device.objects.filter(user=noor.patient.user).exists()


def test_a_reminders_buttons_log_the_dose_and_snooze_without_opening_the_app(live_server, noor: Noor) -> None:
    dose = reminder(noor.patient, noor.regimen)
    follow_up = reminder(noor.patient, noor.regimen, kind="dose_follow_up", slot="20:00")
    with web_app(live_server.url) as app:
        app.context.grant_permissions(["notifications"], origin=live_server.url)
        sign_in(app, EMAIL)
        worker = service_worker(app)

        shown = worker.evaluate(SHOW, payload(dose, noor.regimen))
        assert shown["title"] == "Time for your treatment"  # the app's words: no drug's name on a lock screen
        assert "tacrolimus" not in json.dumps(shown).lower()
        assert shown["actions"] == [["applied", "Applied"], ["snooze", "Snooze 15 min"]]
        assert shown["data"] == {
            "notification_id": str(dose.pk),
            "patient_id": str(noor.patient.pk),
            "regimen_id": str(noor.regimen.pk),
            "kind": "dose",
        }
        left = worker.evaluate(CLICK, [dose.occurrence_id.hex, "applied"])
        assert left == ["Dose logged"]

        worker.evaluate(SHOW, payload(follow_up, noor.regimen))
        left = worker.evaluate(CLICK, [follow_up.occurrence_id.hex, "snooze"])
        assert "Snoozed" in left
        # The open app shows the dose the worker logged.
        app.open("#/today")
        expect(app.page.locator(".slot.done")).to_have_count(1)
        assert app.errors == []

    [application] = Application.objects.filter(patient=noor.patient)
    assert application.regimen_id == noor.regimen.pk
    assert application.body_areas == ["face", "neck"]
    assert abs(application.applied_at - timezone.now()) < datetime.timedelta(minutes=5)
    dose.refresh_from_db()
    follow_up.refresh_from_db()
    assert dose.acked_at is not None  # logged, so the reminder is done: no follow-up is sent for it
    assert follow_up.snoozed_until is not None
    assert follow_up.acked_at is None


def test_applied_offline_keeps_the_dose_on_the_phone_and_sends_it_once_online(live_server, noor: Noor) -> None:
    dose = reminder(noor.patient, noor.regimen)
    with web_app(live_server.url) as app:
        app.context.grant_permissions(["notifications"], origin=live_server.url)
        sign_in(app, EMAIL)
        worker = service_worker(app)  # the Today screen kept the regimen (its areas) on the phone
        worker.evaluate(SHOW, payload(dose, noor.regimen))

        app.context.set_offline(True)
        left = worker.evaluate(CLICK, [dose.occurrence_id.hex, "applied"])
        assert left == ["Dose saved on this phone"]
        expect(app.page.locator("#status")).to_have_attribute("data-waiting", "1")

        app.context.set_offline(False)
        expect(app.page.locator("#status")).to_have_attribute("data-waiting", "0", timeout=15_000)
        assert app.errors == []

    assert Application.objects.filter(patient=noor.patient).count() == 1


def test_the_inbox_lists_a_reminder_and_acknowledges_it(live_server, noor: Noor) -> None:
    dose = reminder(noor.patient, noor.regimen)
    follow_up = reminder(noor.patient, noor.regimen, kind="dose_follow_up", slot="20:00")
    with web_app(live_server.url) as app:
        sign_in(app, EMAIL)
        page = app.page
        page.get_by_role("link", name="Inbox").click()
        expect(page.locator("main h1")).to_have_text("Inbox")
        items = page.locator(".notification")
        expect(items).to_have_count(2)
        first = page.locator(f".notification[data-id='{dose.pk}']")
        expect(first.locator("h2")).to_have_text("Time for your treatment")
        expect(first).to_contain_text("Apply a thin layer to face and neck")
        first.get_by_role("button", name="Mark as done").click()
        expect(first).to_contain_text("Done")
        expect(first.get_by_role("button", name="Mark as done")).to_have_count(0)

        second = page.locator(f".notification[data-id='{follow_up.pk}']")
        second.get_by_label("Remind me again in").select_option(label="60 minutes")
        second.get_by_role("button", name="Snooze").click()
        expect(second).to_contain_text(re.compile("Snoozed until"))
        app.screenshot("inbox-en")
        assert app.errors == []

    dose.refresh_from_db()
    follow_up.refresh_from_db()
    assert dose.acked_at is not None
    assert follow_up.snoozed_until is not None
    assert datetime.timedelta(minutes=55) < follow_up.snoozed_until - timezone.now() <= datetime.timedelta(minutes=60)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_reminder_screens_have_no_serious_accessibility_violation(live_server, noor: Noor, language: str) -> None:
    reminder(noor.patient, noor.regimen)
    reminder(noor.patient, noor.regimen, kind="dose_follow_up", slot="20:00")
    found: dict[str, list[str]] = {}
    with web_app(live_server.url) as app:
        app.context.grant_permissions(["notifications"], origin=live_server.url)
        app.context.add_init_script(stand_in_push_manager())
        page = app.page
        app.open()
        page.wait_for_url(re.compile(r"#/sign-in$"))
        if language == "ar":
            page.get_by_role("button", name="العربية").click()
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
        sign_in_language(app)
        for route in ("inbox", "more"):
            app.open(f"#/{route}")
            expect(page.locator("main h1")).to_be_visible()
            page.wait_for_load_state("networkidle")
            found[route] = app.serious_violations()
            app.screenshot(f"{route}-{language}")
        page.locator("#push-status + button, #push-status ~ button").first.click()
        expect(page.locator("#push-status")).to_have_attribute("data-status", "on")
        found["more-push-on"] = app.serious_violations()
        assert page.locator("html").get_attribute("dir") == ("rtl" if language == "ar" else "ltr")
        assert app.errors == []
        assert app.foreign == []

    assert {route: violations for route, violations in found.items() if violations} == {}


def sign_in_language(app: App) -> None:
    """Sign in from the form already open, in whichever language it is shown."""
    app.page.locator("input[name=email]").fill(EMAIL)
    app.page.locator("input[name=password]").fill(TEST_PASSWORD)
    app.page.locator("form button[type=submit]").click()
    app.page.wait_for_url(re.compile(r"#/today$"))
    expect(app.page.locator("main h1")).to_be_visible()
