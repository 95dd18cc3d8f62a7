"""A patient's day in the web app (issue #16), end to end: Chromium, the live server, a real Celery worker on Redis
and a beat that sweeps every second, as `make run` runs them.

The patient signs in, turns reminders on and sends themself a test; a dose falls due; the sweep runs on the
worker, which writes the reminder to the inbox and pushes it (encrypted) to a local push service standing in for
the browser's (tests/tracking/peers.py); the app's Inbox shows it in plain words, the patient taps "Applied now"
on Today and marks the reminder done, and History shows the day's dose taken.

Stood in: the browser's PushManager (headless Chromium refuses to subscribe, see test_push_browser.py): it
answers the local push service's subscription, so what the worker sends is decrypted with that subscription's
keys, as a browser would.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pytest_django.fixtures import Settings

from tests.factories import PatientFactory
from tests.personas import prescribe
from tests.tracking.peers import WebPushReceiver, make_vapid_keys
from tests.web.browser import web_app
from tests.web.test_app_browser import sign_in
from tests.web.test_push_browser import STAND_IN_PUSH_MANAGER
from tests.workers import real_worker, wait_for
from tracking.models import Application, Device, Notification
from tracking.reminders import tasks

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

EMAIL = "rania@test.example"
T = TypeVar("T")


def outside_the_browsers_loop(work: Callable[[], T]) -> T:
    """Run ORM work in a thread of its own: Playwright's sync API runs an event loop in the test's thread, where
    Django refuses database calls (SynchronousOnlyOperation)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


@pytest.fixture
def push_service(settings: Settings) -> Iterator[WebPushReceiver]:
    settings.WEBPUSH_VAPID_PRIVATE_KEY = make_vapid_keys().private_key
    settings.WEBPUSH_ALLOWED_HOSTS = ["localhost"]  # the local push service, on loopback by that name
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    with WebPushReceiver() as receiver:
        yield receiver


@pytest.fixture
def worker_and_beat(redis_url: str) -> Iterator[None]:
    """A real worker on Redis, and a beat sending the sweep every second (the task CELERY_BEAT_SCHEDULE sends)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(1.0):
            tasks.sweep_reminders.delay()

    with real_worker(redis_url, {}):
        ticker = threading.Thread(target=beat, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            stop.set()
            ticker.join()


def test_a_patients_day_reminder_from_the_worker_applied_in_the_app_then_in_history(
    live_server, push_service: WebPushReceiver, worker_and_beat: None
) -> None:
    patient = PatientFactory(user__email=EMAIL, user__first_name="Rania", timezone="Asia/Qatar")
    subscription = push_service.subscribe()

    with web_app(live_server.url) as app:
        page = app.page
        app.context.grant_permissions(["notifications"], origin=live_server.url)
        app.context.add_init_script(STAND_IN_PUSH_MANAGER.replace("SUBSCRIPTION_JSON", json.dumps(subscription.info())))
        sign_in(app, EMAIL)
        expect(page.locator("main h1")).to_have_text("Today")

        # Reminders on this phone, and a test push through the worker to the push service.
        app.open("#/more")
        page.get_by_role("button", name="Turn on reminders").click()
        expect(page.locator("#push-status")).to_have_attribute("data-status", "on")
        with page.expect_response(lambda response: response.url.endswith("/test/")) as asked:
            page.get_by_role("button", name="Send me a test reminder").click()
        assert asked.value.status == 202
        expect(page.locator("#push-test-sent")).to_contain_text("A test reminder is on its way")
        assert app.serious_violations() == []  # More with reminders on, the test button and its answer
        test_push = wait_for(lambda: push_service.deliveries(), what="the test push reached the push service")[0]
        assert test_push.payload()["kind"] == "test"

        # A dose falls due: her one daily dose time came a minute ago on her wall clock (as in
        # tests/tracking/test_reminders_e2e.py), since three days. The beat's sweep runs on the worker, which writes
        # the reminder and pushes it.
        zone_now = timezone.now().astimezone(ZoneInfo(patient.timezone))
        slot = max(zone_now - datetime.timedelta(minutes=1), zone_now.replace(hour=0, minute=0))
        outside_the_browsers_loop(
            lambda: prescribe(
                patient,
                body_areas=["face", "neck"],
                times=[slot.strftime("%H:%M")],
                start_date=zone_now.date() - datetime.timedelta(days=3),
            )
        )

        def reminded() -> Notification | None:
            """the worker wrote the dose reminder"""
            return outside_the_browsers_loop(
                lambda: Notification.objects.filter(recipient=patient.user, kind="dose").first()
            )

        notification = wait_for(reminded)
        pushes = wait_for(lambda: [d for d in push_service.deliveries() if d.payload()["kind"] == "dose"])
        lock_screen = pushes[0].payload()
        assert lock_screen["title"] == "Time for your treatment"
        assert "tacrolimus" not in json.dumps(lock_screen).lower()

        # The app's Inbox shows it, in plain words.
        app.open("#/inbox")
        item = page.locator(f".notification[data-id='{notification.pk}']")
        expect(item.locator("h2")).to_have_text("Time for your treatment")

        # Applied on Today, then the reminder marked done.
        app.open("#/today")
        page.get_by_role("button", name=re.compile("^Applied now")).first.click()
        expect(page.locator(".slot.done")).to_have_count(1)
        app.open("#/inbox")
        item.get_by_role("button", name="Mark as done").click()
        expect(item.get_by_role("button", name="Mark as done")).to_have_count(0)

        # History: today taken, the three days before (no log) missed.
        app.open("#/history")
        expect(page.locator("main h1")).to_have_text("History")
        expect(page.locator("td.day.full")).to_have_count(1)
        expect(page.locator("td.day.missed")).to_have_count(3)
        expect(page.locator("td.day.full")).to_contain_text("1 of 1 doses")
        assert app.errors == []
        assert app.foreign == []

    assert Application.objects.filter(patient=patient, deleted_at__isnull=True).count() == 1
    notification.refresh_from_db()
    assert notification.acked_at is not None
    assert Device.objects.get(user=patient.user).active
