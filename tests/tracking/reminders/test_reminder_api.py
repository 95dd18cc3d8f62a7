"""The reminders, notifications and devices routes: shapes, validation, ownership, query ceilings,
and the hooks that keep schedules and alerts current when the patient logs or moves."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.personas import client_as, prescribe
from tests.tracking.conftest import at, base
from tests.tracking.peers import make_subscription
from tracking.models import Alert, Device, Notification, Schedule
from tracking.notifications.services import device_register, occurrences_deliver
from tracking.reminders.sweep import sweep


@pytest.fixture
def regimen(patient, frozen):
    return prescribe(patient)


class TestReminderSettings:
    def test_every_kind_is_listed_with_its_defaults_and_next_time_in_the_patients_zone(self, patient, regimen):
        response = client_as(patient.user).get(f"{base(patient)}reminders/")
        assert response.status_code == 200
        results = {row["kind"]: row for row in response.json()["results"]}
        assert set(results) == {"dose", "skin_check", "poem"}
        assert results["dose"] == {
            "kind": "dose",
            "enabled": True,
            "channels": ["push", "email", "inbox"],
            "quiet_hours": None,
            "next_reminder_at": "2026-11-21T20:00:00+03:00",
        }

    def test_quiet_hours_are_set_and_hold_the_next_reminder(self, patient, regimen):
        response = client_as(patient.user).patch(
            f"{base(patient)}reminders/dose/", {"quiet_hours": {"start": "19:30", "end": "07:00"}}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["quiet_hours"] == {"start": "19:30", "end": "07:00"}
        assert response.json()["next_reminder_at"] == "2026-11-22T07:00:00+03:00"

    def test_post_sets_one_kind_and_leaves_the_other_fields(self, patient, regimen):
        client = client_as(patient.user)
        client.post(f"{base(patient)}reminders/", {"kind": "poem", "channels": ["inbox"]}, format="json")
        response = client.post(f"{base(patient)}reminders/", {"kind": "poem", "enabled": False}, format="json")
        assert response.status_code == 200
        assert response.json()["channels"] == ["inbox"]
        assert response.json()["enabled"] is False
        assert response.json()["next_reminder_at"] is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"channels": ["sms"]}, "channels[0]"),
            ({"channels": "inbox"}, "channels"),
            ({"enabled": "perhaps"}, "enabled"),
            ({"quiet_hours": {"start": "22:00"}}, "quiet_hours.end"),
            ({"quiet_hours": {"start": "7pm"}}, {"quiet_hours.start", "quiet_hours.end"}),
            ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
            ({"quiet_hours": {"start": "07:00", "end": "07:00"}}, "quiet_hours"),
            ({"times": ["08:00"]}, "times"),
        ],
    )
    def test_a_bad_setting_is_a_400_naming_the_field_by_its_path(self, patient, regimen, body, field):
        response = client_as(patient.user).patch(f"{base(patient)}reminders/dose/", body, format="json")
        assert response.status_code == 400
        assert set(response.json()) == (field if isinstance(field, set) else {field})

    def test_an_unknown_kind_is_a_404_on_its_route_and_a_400_in_a_post(self, patient, regimen):
        client = client_as(patient.user)
        assert client.get(f"{base(patient)}reminders/refill/").status_code == 404
        response = client.post(f"{base(patient)}reminders/", {"kind": "refill"}, format="json")
        assert response.status_code == 400
        assert "kind" in response.json()

    def test_the_care_team_reads_the_settings_but_cannot_change_them(self, patient, regimen, dermatologist):
        client = client_as(dermatologist)
        assert client.get(f"{base(patient)}reminders/").status_code == 200
        assert client.patch(f"{base(patient)}reminders/dose/", {"enabled": False}, format="json").status_code == 403


class TestDevices:
    def test_a_web_push_subscription_registers_once_and_again_answers_200(self, patient):
        subscription = make_subscription("https://fcm.googleapis.com/fcm/send/abc")
        client = client_as(patient.user)
        first = client.post("/api/v1/devices/", {"platform": "webpush", "token": subscription.info()}, format="json")
        again = client.post("/api/v1/devices/", {"platform": "webpush", "token": subscription.token()}, format="json")
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json()["id"] == again.json()["id"]
        assert Device.objects.count() == 1

    @pytest.mark.parametrize(
        "token",
        [
            "not json",
            json.dumps({"endpoint": "https://push.example.org/x"}),
            json.dumps({"endpoint": "http://10.0.0.5/internal", "keys": {"p256dh": "a", "auth": "b"}}),
            json.dumps(["https://push.example.org/x"]),
        ],
    )
    def test_a_web_push_token_that_is_not_an_https_subscription_is_a_400(self, patient, token):
        response = client_as(patient.user).post(
            "/api/v1/devices/", {"platform": "webpush", "token": token}, format="json"
        )
        assert response.status_code == 400
        assert "token" in response.json()

    def test_an_unknown_platform_is_a_400(self, patient):
        response = client_as(patient.user).post("/api/v1/devices/", {"platform": "sms", "token": "x"}, format="json")
        assert response.status_code == 400
        assert "platform" in response.json()

    def test_a_device_is_removed_by_its_owner_only(self, patient, cle_patient):
        device = Device.objects.create(user=patient.user, platform="fcm", token="t", token_sha256="d")
        stranger = client_as(cle_patient.user)
        assert stranger.delete(f"/api/v1/devices/{device.pk}/").status_code == 404
        assert client_as(patient.user).delete(f"/api/v1/devices/{device.pk}/").status_code == 204
        assert not Device.objects.exists()

    def test_registering_someone_elses_token_moves_it_to_the_new_login(self, patient, cle_patient):
        device, created = device_register(user=patient.user, platform="fcm", token="shared2")
        assert created
        moved, created_again = device_register(user=cle_patient.user, platform="fcm", token="shared2")
        assert (moved.pk, created_again) == (device.pk, False)


class TestHooks:
    def test_a_concerning_skin_check_raises_an_alert_for_the_care_team(
        self, patient, regimen, eager_tasks, frozen, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = client_as(patient.user).post(
                f"{base(patient)}skin-checks/",
                {
                    "id": "7d7e2b4e-8f4b-4f55-9b1b-0f7cc2a5d7f1",
                    "performed_at": "2026-11-21T08:30:00+03:00",
                    "performed_by": "self",
                    "concerning": True,
                },
                format="json",
            )
        assert response.status_code == 201
        alert = Alert.objects.get(patient=patient, kind="concerning_skin_check")
        assert alert.evidence

    def test_logging_a_skin_check_moves_the_next_skin_check_prompt(
        self, patient, regimen, eager_tasks, frozen, django_capture_on_commit_callbacks
    ):
        before = Schedule.objects.get(patient=patient, kind="skin_check").next_fire_at
        with django_capture_on_commit_callbacks(execute=True):
            client_as(patient.user).post(
                f"{base(patient)}skin-checks/",
                {
                    "id": "1d7e2b4e-8f4b-4f55-9b1b-0f7cc2a5d7f1",
                    "performed_at": "2026-11-21T08:30:00+03:00",
                    "performed_by": "self",
                    "concerning": False,
                },
                format="json",
            )
        after = Schedule.objects.get(patient=patient, kind="skin_check").next_fire_at
        assert before == at("2027-01-30T18:00:00+03:00")
        assert after == at("2027-02-19T18:00:00+03:00")

    def test_moving_house_through_the_api_moves_the_reminders_to_the_new_zone(self, patient, regimen):
        response = client_as(patient.user).patch(base(patient), {"timezone": "Europe/Berlin"}, format="json")
        assert response.status_code == 200
        schedule = Schedule.objects.get(patient=patient, kind="dose")
        assert schedule.timezone == "Europe/Berlin"
        # 09:00 in Qatar is 07:00 in Berlin: the next dose there is at 08:00 Berlin time.
        assert schedule.next_fire_at == at("2026-11-21T08:00:00+01:00")


def test_the_inbox_costs_the_same_queries_for_3_and_30_notifications(patient, regimen):
    client = client_as(patient.user)
    counts = []
    for day in (datetime.date(2026, 11, 21), datetime.date(2026, 12, 5)):
        while Notification.objects.count() < (3 if day.day == 21 else 30):
            with time_machine.travel(Schedule.objects.get(patient=patient, kind="dose").next_fire_at, tick=False):
                occurrences_deliver(sweep().pending_ids)
        with time_machine.travel(at("2026-12-31T12:00:00+03:00"), tick=False):
            client = client_as(patient.user)
            with CaptureQueriesContext(connection) as queries:
                assert client.get("/api/v1/notifications/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 3
