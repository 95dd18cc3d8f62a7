"""POST /api/v1/devices/{id}/test/: "send me a test" to one of the caller's own devices (issue #16).

The route queues a task (run in place here: task_always_eager); the push goes through the
device's transport to a local Web Push receiver (tests/tracking/peers.py) that decrypts it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from accounts.models import Language
from tacro_topical.celery import app as celery_app
from tests.personas import client_as
from tests.tracking.peers import WebPushReceiver, make_vapid_keys
from tracking.models import Delivery, Device, Notification
from tracking.notifications.services import device_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings: Settings) -> Iterator[WebPushReceiver]:
    keys = make_vapid_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = keys.private_key
    settings.WEBPUSH_ALLOWED_HOSTS = ["localhost"]
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with WebPushReceiver() as push_service:
            yield push_service
    finally:
        celery_app.conf.task_always_eager = eager


def subscribed(receiver: WebPushReceiver, user: object) -> Device:
    token = receiver.subscribe().token().replace("127.0.0.1", "localhost", 1)
    device, _ = device_register(user=user, platform="webpush", token=token)
    return device


def test_the_owner_gets_a_harmless_test_push_and_nothing_is_written(receiver, patient) -> None:
    device = subscribed(receiver, patient.user)

    response = client_as(patient.user).post(f"/api/v1/devices/{device.pk}/test/")

    assert response.status_code == 202
    [push] = receiver.deliveries()
    payload = push.payload()
    assert payload["kind"] == "test"
    assert payload["title"] == "A test reminder"
    assert payload["body"] == "Reminders reach this phone. There is nothing to do."
    assert "patient_id" not in payload
    assert not Notification.objects.exists()
    assert not Delivery.objects.exists()


def test_an_arabic_speaker_gets_it_in_arabic(receiver, patient) -> None:
    patient.user.language = Language.ARABIC
    patient.user.save(update_fields=["language"])
    device = subscribed(receiver, patient.user)

    assert client_as(patient.user).post(f"/api/v1/devices/{device.pk}/test/").status_code == 202

    [push] = receiver.deliveries()
    assert push.payload()["title"] == "تذكير تجريبي"


def test_another_users_device_or_none_is_a_404_and_nothing_is_sent(receiver, patient, cle_patient) -> None:
    theirs = subscribed(receiver, cle_patient.user)

    for device_id in (theirs.pk, uuid.uuid4()):
        assert client_as(patient.user).post(f"/api/v1/devices/{device_id}/test/").status_code == 404
    assert receiver.deliveries() == []


def test_without_a_token_it_is_a_401(receiver, patient) -> None:
    device = subscribed(receiver, patient.user)
    assert APIClient().post(f"/api/v1/devices/{device.pk}/test/").status_code == 401


def test_a_deactivated_device_is_a_409_saying_why(receiver, patient) -> None:
    device = subscribed(receiver, patient.user)
    Device.objects.filter(pk=device.pk).update(active=False, deactivated_reason="Replaced by a newer device.")

    response = client_as(patient.user).post(f"/api/v1/devices/{device.pk}/test/")

    assert response.status_code == 409
    assert "Replaced by a newer device." in response.json()["detail"]
    assert receiver.deliveries() == []


def test_without_web_push_configured_it_is_a_409(receiver, patient, settings) -> None:
    device = subscribed(receiver, patient.user)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""

    response = client_as(patient.user).post(f"/api/v1/devices/{device.pk}/test/")

    assert response.status_code == 409
    assert response.json()["detail"]


def test_a_subscription_the_push_service_forgot_is_deactivated(receiver, patient) -> None:
    device = subscribed(receiver, patient.user)
    receiver.answer(410)  # the push service no longer knows it

    assert client_as(patient.user).post(f"/api/v1/devices/{device.pk}/test/").status_code == 202

    device.refresh_from_db()
    assert not device.active
    assert "410" in device.deactivated_reason


def test_with_the_broker_down_the_test_is_a_503_with_retry_after_at_once(patient, settings: Settings) -> None:
    import time

    device, _ = device_register(user=patient.user, platform="fcm", token="fcm-token-of-the-test")
    settings.FCM_SERVICE_ACCOUNT_FILE = __file__  # configured, so the device is not refused as unavailable
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        started = time.monotonic()
        response = client_as(patient.user).post(f"/api/v1/devices/{device.pk}/test/")
        took = time.monotonic() - started
    finally:
        celery_app.conf.broker_url = previous

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json()["detail"] == "The test cannot be sent just now. Try again in a minute."
    assert took < 1.5  # one try on a kept connection, never kombu's reconnecting
