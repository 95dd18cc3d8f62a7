"""The Web Push payload of a reminder carries what the web app's service worker needs (issue #16).

"Applied" on a dose reminder logs the dose without opening the app: the worker posts the application
for the patient and regimen the payload names. The notification's title and body are also in the
payload (encrypted for the subscription), and name no drug (tracking/rules.py): a lock screen shows them
(the worker shows the app's own words, in the app's language).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
import time_machine
from pytest_django.fixtures import Settings

from tests.factories import CaregiverFactory, DependentFactory, PatientFactory
from tests.personas import prescribe
from tests.tracking.peers import WebPushReceiver, make_vapid_keys
from tracking.models import Notification
from tracking.notifications.services import device_register
from tracking.notifications.services.fan_out import occurrences_deliver
from tracking.notifications.services.sending import delivery_send
from tracking.notifications.transports.base import Message
from tracking.reminders.tasks import sweep_due

pytestmark = pytest.mark.django_db

BEFORE = datetime.datetime.fromisoformat("2026-11-21T07:50:00+03:00")
DUE = datetime.datetime.fromisoformat("2026-11-21T08:00:30+03:00")


@pytest.fixture
def push_receiver(settings: Settings) -> Iterator[WebPushReceiver]:
    keys = make_vapid_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = keys.private_key
    settings.WEBPUSH_ALLOWED_HOSTS = ["localhost"]
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    with WebPushReceiver() as receiver:
        yield receiver


def subscribe(receiver: WebPushReceiver, user: object) -> None:
    token = receiver.subscribe().token().replace("127.0.0.1", "localhost", 1)
    device_register(user=user, platform="webpush", token=token)


def deliver_due() -> None:
    with time_machine.travel(DUE, tick=False):
        sweep_due()
        from tracking.models import Occurrence

        fan_out = occurrences_deliver(list(Occurrence.objects.values_list("pk", flat=True)))
        for delivery_id in fan_out.send_ids:
            delivery_send(delivery_id)


def test_a_dose_reminder_names_the_patient_and_regimen_to_log_it_with(push_receiver: WebPushReceiver) -> None:
    with time_machine.travel(BEFORE, tick=False):
        patient = PatientFactory(timezone="Asia/Qatar")
        regimen = prescribe(patient, times=["08:00"], start_date=BEFORE.date() - datetime.timedelta(days=3))
    subscribe(push_receiver, patient.user)

    deliver_due()

    [push] = push_receiver.deliveries()
    notification = Notification.objects.get()
    payload = push.payload()
    assert payload["notification_id"] == str(notification.pk)
    assert payload["kind"] == "dose"
    assert payload["patient_id"] == str(patient.pk)
    assert payload["regimen_id"] == str(regimen.pk)
    # What a lock screen may show: "your treatment", never the drug's name.
    assert payload["title"] == "Time for your treatment"
    assert "tacrolimus" not in payload["body"]


def test_a_caregivers_reminder_names_the_child(push_receiver: WebPushReceiver) -> None:
    with time_machine.travel(BEFORE, tick=False):
        caregiver = CaregiverFactory()
        child = DependentFactory(caregiver=caregiver, timezone="Asia/Qatar", first_name="Sara")
        regimen = prescribe(
            child, caregiver, strength="0.03", times=["08:00"], start_date=BEFORE.date() - datetime.timedelta(days=3)
        )
    subscribe(push_receiver, caregiver)

    deliver_due()

    [push] = push_receiver.deliveries()
    assert push.payload()["patient_id"] == str(child.pk)
    assert push.payload()["regimen_id"] == str(regimen.pk)


def test_a_message_without_a_regimen_says_only_whose_it_is() -> None:
    import uuid

    patient_id = uuid.uuid4()
    message = Message(
        notification_id=uuid.uuid4(),
        occurrence_id=uuid.uuid4(),
        kind="poem",
        title="t",
        body="b",
        recipient_email="a@test.example",
        patient_id=patient_id,
    )

    assert message.push_payload()["patient_id"] == str(patient_id)
    assert "regimen_id" not in message.push_payload()
    assert all(isinstance(value, str) for value in message.push_payload().values())  # FCM data: strings only
