"""End to end (issue #17): a patient posts an urgent skin check through the API; a real Celery worker on
Redis opens the alert and the dermatologist on the care team receives it within seconds, by e-mail on a
real SMTP server on loopback, or by Web Push at a local receiver. No digest runs; nothing is mocked."""

from __future__ import annotations

import datetime
import time
import uuid

import pytest

from tests.personas import client_as
from tests.workers import wait_for
from tracking.models import Alert, AlertDigest, AlertKind, Delivery
from tracking.notifications.services import device_register

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

TITLE = "Urgent: a patient reported signs that need care today"


def urgent_check() -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "performed_at": (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=2)).isoformat(),
        "performed_by": "self",
        "blisters_or_erosions": True,
        "fever": True,
        "note": "painful blisters on the neck since this morning",
    }


def test_an_urgent_skin_check_reaches_the_dermatologists_mailbox_within_seconds(
    redis_worker, smtp_server, clinic
) -> None:
    patient = clinic.ad_patient()
    dermatologist = clinic.dermatologist
    started = time.monotonic()

    answer = client_as(patient.user).post(f"/api/v1/patients/{patient.pk}/skin-checks/", urgent_check(), format="json")

    assert answer.status_code == 201
    assert answer.json()["advice"].startswith("Seek medical care today.")
    wait_for(lambda: smtp_server.received, seconds=15, what="the urgent e-mail at the SMTP server")
    elapsed = time.monotonic() - started
    (message,) = smtp_server.received
    alert = Alert.objects.get(patient=patient)
    assert alert.kind == AlertKind.URGENT_SKIN_SIGNS
    assert message.rcpt_tos == [dermatologist.email]
    assert message.subject == TITLE
    assert "Amira Nassar reported painful clustered blisters or punched-out erosions" in message.text
    assert f"/admin/tracking/alert/{alert.pk}/change/" in message.html
    assert elapsed < 15
    assert not AlertDigest.objects.exists()  # not the digest: nobody ran it
    wait_for(lambda: Delivery.objects.filter(channel="email", status="sent").exists(), what="the delivery recorded")


def test_an_urgent_skin_check_reaches_the_dermatologists_phone_by_web_push(
    redis_worker, smtp_server, vapid_keys, push_receiver, clinic, caregiver
) -> None:
    child = clinic.child_of(caregiver)
    subscription = push_receiver.subscribe()
    device_register(user=clinic.dermatologist, platform="webpush", token=subscription.token())
    body = {**urgent_check(), "blisters_or_erosions": False, "spreading_rash": True}

    answer = client_as(caregiver).post(
        f"/api/v1/patients/{child.pk}/sync/", {"skin_checks": [body]}, format="json", HTTP_ACCEPT_LANGUAGE="ar"
    )

    assert answer.json()["skin_checks"][0]["advice"].startswith("اطلب الرعاية الطبية اليوم.")
    wait_for(push_receiver.deliveries, seconds=15, what="the urgent push at the local receiver")
    (push,) = push_receiver.deliveries()
    payload = push.payload()
    assert payload["title"] == TITLE
    assert payload["kind"] == "urgent_skin_signs"
    assert child.first_name not in payload["body"]
    assert payload["alert_id"] == str(Alert.objects.get(patient=child).pk)
    # Push is the dermatologist's fastest channel; the e-mail goes too, in case the phone is gone.
    wait_for(lambda: smtp_server.received, what="the e-mail beside the push")
