"""End to end: a real Celery worker on Redis sweeps a due schedule and delivers it.

The reminder must reach the inbox (read through the API), a real SMTP server on loopback
(aiosmtpd), and a local Web Push receiver that decrypts the payload with the subscription's keys.
Nothing is mocked; nothing leaves the machine.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.personas import client_as, prescribe
from tests.workers import real_worker, wait_for
from tracking.models import Delivery, Device, Notification, Occurrence
from tracking.notifications.services import device_register
from tracking.reminders import tasks
from tracking.reminders.services import reminder_setting_update

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def filesystem_worker(tmp_path: Path) -> Iterator[None]:
    """The embedded default `make run` uses: kombu's filesystem transport, folders on disk."""
    folder = tmp_path / "queue"
    options: dict[str, object] = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path / "control"),
        "processed_folder": str(tmp_path / "processed"),
        "store_processed": False,
    }
    for key in ("data_folder_in", "control_folder", "processed_folder"):
        Path(str(options[key])).mkdir(parents=True, exist_ok=True)
    with real_worker("filesystem://", options):
        yield


def prescribe_due_a_minute_ago(patient) -> None:
    """A regimen whose one dose time came a minute ago on the patient's wall clock (never across midnight)."""
    now = timezone.now().astimezone(ZoneInfo(patient.timezone))
    slot = max(now - datetime.timedelta(minutes=1), now.replace(hour=0, minute=0))
    start = now.date() - datetime.timedelta(days=3)
    prescribe(patient, body_areas=["face"], times=[slot.strftime("%H:%M")], start_date=start)


def test_a_due_reminder_reaches_the_inbox_email_and_web_push_through_a_real_worker(
    redis_worker, smtp_server, vapid_keys, push_receiver, clinic
):
    # The local receiver speaks plain HTTP on loopback, by the name "localhost" (push_receiver allows it).
    patient = clinic.ad_patient(user__email="amira@test.example")  # the address the SMTP server must receive
    subscription = push_receiver.subscribe()
    device, _ = device_register(user=patient.user, platform="webpush", token=subscription.token())
    prescribe_due_a_minute_ago(patient)

    tasks.sweep_reminders.delay()

    def inbox() -> list:
        """the reminder is in the patient's inbox"""
        return client_as(patient.user).get("/api/v1/notifications/").json()["results"]

    (entry,) = wait_for(inbox)
    occurrence = Occurrence.objects.get(kind="dose")
    assert entry["title"] == "Time for your treatment"
    assert entry["occurrence"] == str(occurrence.pk)

    wait_for(lambda: smtp_server.received)
    (mail,) = smtp_server.received
    assert mail.rcpt_tos == ["amira@test.example"]
    assert mail.subject == "Time for your treatment"
    assert "Apply a thin layer to face" in mail.text
    assert "Apply a thin layer to face" in mail.html

    wait_for(push_receiver.deliveries)
    (push,) = push_receiver.deliveries()
    assert push.payload()["collapse_key"] == occurrence.pk.hex
    assert push.payload()["title"] == "Time for your treatment"
    assert push.request.headers["topic"] == occurrence.pk.hex

    def all_recorded() -> bool:
        """every channel recorded its result"""
        return not Delivery.objects.filter(status="pending").exists()

    wait_for(all_recorded)
    assert dict(Delivery.objects.values_list("channel", "status")) == {
        "inbox": "sent",
        "email": "sent",
        "webpush": "sent",
    }
    device.refresh_from_db()
    assert device.active
    assert Notification.objects.count() == 1


def test_a_web_push_410_through_the_worker_deactivates_the_device(redis_worker, vapid_keys, push_receiver, clinic):
    patient = clinic.ad_patient(timezone="Europe/Berlin")
    subscription = push_receiver.subscribe()
    push_receiver.answer(410, {"reason": "push subscription has unsubscribed or expired"})
    device, _ = device_register(user=patient.user, platform="webpush", token=subscription.token())
    reminder_setting_update(patient=patient, kind="dose", channels=["push"])
    prescribe_due_a_minute_ago(patient)

    tasks.sweep_reminders.delay()

    def deactivated() -> bool:
        """the device is deactivated"""
        device.refresh_from_db()
        return not device.active

    wait_for(deactivated)
    assert "410" in device.deactivated_reason
    delivery = Delivery.objects.get(channel="webpush")
    assert (delivery.status, delivery.attempts) == ("failed", 1)  # permanent: not retried
    assert not Device.objects.filter(user=patient.user, active=True).exists()


def test_in_the_embedded_default_a_due_reminder_reaches_the_inbox(filesystem_worker, clinic):
    """What `make run` runs without Redis: the filesystem transport (the suite's database stands in for SQLite)."""
    patient = clinic.ad_patient(timezone="America/New_York")
    prescribe_due_a_minute_ago(patient)

    tasks.sweep_reminders.delay()

    def inbox() -> list:
        """the reminder is in the patient's inbox"""
        return client_as(patient.user).get("/api/v1/notifications/").json()["results"]

    (entry,) = wait_for(inbox)
    assert entry["kind"] == "dose"
