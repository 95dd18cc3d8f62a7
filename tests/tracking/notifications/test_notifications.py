"""Delivery from the occurrence outbox: who gets what, skips, follow-ups, snooze, ack, retries.

Unit tests: the sweep and delivery services are called directly (no broker); email goes to
Django's in-memory outbox. The end-to-end path with a real worker is in test_reminders_e2e.py.
"""

from __future__ import annotations

import datetime
import smtplib
import uuid

import pytest
import time_machine
from django.core import mail

from accounts.models import Condition
from tests.factories import CaregiverFactory
from tests.personas import client_as, prescribe
from tests.tracking.conftest import at
from tracking import rules
from tracking.models import (
    Application,
    Delivery,
    DeliveryStatus,
    Device,
    Notification,
    Occurrence,
    OccurrenceState,
    ReminderSetting,
)
from tracking.notifications.services import delivery_send, notification_ack, occurrences_deliver, stale_work
from tracking.notifications.transports.base import DeliveryError
from tracking.notifications.transports.email import EmailTransport
from tracking.reminders.services import reminder_setting_update
from tracking.reminders.sweep import sweep

UTC = datetime.UTC


def log_application(patient, regimen, applied_at: str) -> None:
    Application.objects.create(
        patient=patient,
        regimen=regimen,
        applied_at=at(applied_at),
        body_areas=["face"],
        fingerprint="test",
        created_by=patient.user,
    )


SENT_AT = at("2026-11-21T20:01:00+03:00")


def fire(now: str) -> list[uuid.UUID]:
    """Sweep at `now` and deliver what it wrote, as the tasks would."""
    with time_machine.travel(at(now), tick=False):
        result = sweep()
        if result.pending_ids:
            occurrences_deliver(result.pending_ids)
        return result.pending_ids


@pytest.fixture
def regimen(patient, frozen):
    return prescribe(patient)


class TestFanOut:
    def test_a_due_dose_reminder_reaches_the_patients_inbox_email_and_push(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        notification = Notification.objects.get()
        assert notification.recipient == patient.user
        assert notification.title == "Time for your treatment"  # no drug name on a lock screen
        assert "face and neck" in notification.body
        assert "dermatologist" in notification.body
        statuses = dict(Delivery.objects.values_list("channel", "status"))
        assert statuses == {"inbox": "sent", "email": "pending", "push": "skipped"}
        assert Delivery.objects.get(channel="push").detail == "No push device registered."
        assert Occurrence.objects.get(slot="20:00").state == OccurrenceState.DELIVERED

    def test_the_caregivers_of_a_child_get_the_reminder_named_for_the_child(self, child, caregiver, frozen):
        second_parent = CaregiverFactory()
        child.caregivers.add(second_parent)
        prescribe(child, created_by=caregiver, strength="0.03")
        fire("2026-11-21T20:00:00+03:00")
        notifications = Notification.objects.all()
        assert {n.recipient_id for n in notifications} == set(child.caregivers.values_list("pk", flat=True))
        assert all(n.title == "Time for Yusuf's treatment" for n in notifications)

    def test_a_dose_already_logged_is_skipped_and_recorded_as_skipped(self, patient, regimen):
        log_application(patient, regimen, "2026-11-21T19:40:00+03:00")
        fire("2026-11-21T20:00:00+03:00")
        occurrence = Occurrence.objects.get(slot="20:00")
        assert occurrence.state == OccurrenceState.SKIPPED
        assert occurrence.skip_reason.startswith("Already logged")
        assert not Notification.objects.exists()

    def test_a_morning_log_does_not_skip_the_evening_reminder(self, patient, regimen):
        log_application(patient, regimen, "2026-11-21T08:05:00+03:00")
        fire("2026-11-21T20:00:00+03:00")
        assert Occurrence.objects.get(slot="20:00").state == OccurrenceState.DELIVERED

    def test_channels_follow_the_setting(self, patient, regimen):
        reminder_setting_update(patient=patient, kind="dose", channels=["inbox"])
        fire("2026-11-21T20:00:00+03:00")
        assert list(Delivery.objects.values_list("channel", flat=True)) == ["inbox"]

    def test_without_the_inbox_channel_nothing_shows_in_the_inbox(self, patient, regimen):
        reminder_setting_update(patient=patient, kind="dose", channels=["email"])
        fire("2026-11-21T20:00:00+03:00")
        response = client_as(patient.user).get("/api/v1/notifications/")
        assert response.json()["results"] == []
        assert Delivery.objects.get().channel == "email"

    def test_lupus_patients_get_sun_protection_advice_in_their_reminders(self, clinic, frozen):
        # Subacute CLE in Qatar, so the 20:00 slot is due when fire() sweeps at 20:00 Qatar time.
        patient = clinic.cle_patient(timezone="Asia/Qatar", condition=Condition.CLE_SUBACUTE)
        prescribe(patient)
        fire("2026-11-21T20:00:00+03:00")
        assert rules.CLE_SUN_PROTECTION_ADVICE in Notification.objects.get().body

    def test_eczema_patients_get_no_lupus_advice(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        assert rules.CLE_SUN_PROTECTION_ADVICE not in Notification.objects.get().body

    def test_the_skin_check_prompt_carries_the_self_check_list_and_asks_to_log_it(self, patient, frozen):
        prescribe(patient, start_date=datetime.date(2026, 8, 24))  # 90 days before 22 November
        fire("2026-11-22T18:00:00+03:00")
        prompt = Notification.objects.get(kind="skin_check")
        for item in rules.SKIN_CHECK_LIST:
            assert item in prompt.body
        assert "Log the check" in prompt.body

    def test_the_refill_prompt_names_the_estimated_empty_date(self, patient, frozen):
        # 30 g, face and neck twice a day (2.5 FTU = 1.25 g a dose): empty around 3 December.
        regimen = prescribe(patient, start_date=datetime.date(2026, 11, 21), tube_grams=30)
        for day in range(21, 27):
            log_application(patient, regimen, f"2026-11-{day}T08:00:00+03:00")
            log_application(patient, regimen, f"2026-11-{day}T20:00:00+03:00")
        fire("2026-11-27T18:00:00+03:00")
        prompt = Notification.objects.get(kind="refill")
        assert prompt.title == rules.REFILL_PROMPT_TITLE
        assert "may run out around 3 December" in prompt.body  # a day in words, never an ISO date
        assert "dermatologist or pharmacy" in prompt.body

    def test_a_refill_prompt_is_skipped_when_the_estimate_moved_beyond_a_week(self, patient, frozen):
        # Nothing logged since the prompt was scheduled: from 27 November the full tube lasts 12 more days.
        prescribe(patient, start_date=datetime.date(2026, 11, 21), tube_grams=30)
        fire("2026-11-27T18:00:00+03:00")
        prompt = Occurrence.objects.get(kind="refill")
        assert prompt.state == OccurrenceState.SKIPPED
        assert "no longer estimated" in prompt.skip_reason

    def test_a_poem_prompt_is_skipped_when_a_poem_was_logged_this_week(self, patient, frozen):
        from tracking.models import PoemEntry

        prescribe(patient, start_date=datetime.date(2026, 11, 1), times=["08:00"])
        PoemEntry.objects.create(
            patient=patient, recorded_at=at("2026-11-20T10:00:00+03:00"), answers=[1] * 7, score=7, fingerprint="x"
        )
        fire("2026-11-22T18:00:00+03:00")
        assert Occurrence.objects.get(kind="poem").skip_reason == "A POEM was logged within the past week."

    def test_a_switched_off_reminder_written_before_the_switch_is_skipped(self, patient, regimen):
        with time_machine.travel(at("2026-11-21T20:00:00+03:00"), tick=False):
            ids = sweep().pending_ids
            ReminderSetting.objects.update_or_create(patient=patient, kind="dose", defaults={"enabled": False})
            occurrences_deliver(ids)
        assert Occurrence.objects.get(slot="20:00").skip_reason == "This kind of reminder is switched off."

    def test_delivering_the_same_occurrence_twice_notifies_once(self, patient, regimen):
        ids = fire("2026-11-21T20:00:00+03:00")
        again = occurrences_deliver(ids)
        assert again.delivered == 0
        assert Notification.objects.count() == 1


class TestFollowUp:
    def test_a_missed_dose_gets_one_follow_up_an_hour_after_the_slot(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        follow_up = Occurrence.objects.get(slot="20:00 follow-up")
        assert follow_up.state == OccurrenceState.SCHEDULED
        assert follow_up.due_at == at("2026-11-21T21:00:00+03:00")
        fire("2026-11-21T21:00:00+03:00")
        follow_up.refresh_from_db()
        assert follow_up.state == OccurrenceState.DELIVERED
        assert Notification.objects.get(kind="dose_follow_up").title == "Did you apply your treatment?"
        assert Occurrence.objects.filter(slot__contains="follow-up").count() == 1  # no follow-up of the follow-up

    def test_no_follow_up_when_the_dose_is_logged_by_then(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        log_application(patient, regimen, "2026-11-21T20:30:00+03:00")
        fire("2026-11-21T21:00:00+03:00")
        follow_up = Occurrence.objects.get(slot="20:00 follow-up")
        assert follow_up.state == OccurrenceState.SKIPPED
        assert not Notification.objects.filter(kind="dose_follow_up").exists()

    def test_no_follow_up_when_the_reminder_was_acknowledged(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        notification_ack(notification=Notification.objects.get())
        fire("2026-11-21T21:00:00+03:00")
        assert Occurrence.objects.get(slot="20:00 follow-up").skip_reason.startswith("The reminder it follows")

    def test_the_follow_up_delay_is_a_setting(self, patient, regimen, settings):
        settings.MISSED_DOSE_FOLLOW_UP_MINUTES = 30
        fire("2026-11-21T20:00:00+03:00")
        assert Occurrence.objects.get(slot="20:00 follow-up").due_at == at("2026-11-21T20:30:00+03:00")

    def test_no_follow_up_for_prompts(self, patient, frozen):
        prescribe(patient, start_date=datetime.date(2026, 8, 24))
        fire("2026-11-22T18:00:00+03:00")
        assert not Occurrence.objects.filter(kind="dose_follow_up", follows__kind="skin_check").exists()


class TestInboxApi:
    def test_the_inbox_lists_the_callers_notifications_newest_first(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        fire("2026-11-21T21:00:00+03:00")
        fire("2026-11-22T08:00:00+03:00")
        response = client_as(patient.user).get("/api/v1/notifications/")
        assert response.status_code == 200
        results = response.json()["results"]
        assert [r["kind"] for r in results] == ["dose", "dose_follow_up", "dose"]
        assert results[0]["occurrence"] == str(Occurrence.objects.get(slot="08:00", local_date="2026-11-22").pk)

    def test_another_users_notification_is_a_404_for_ack_and_snooze(self, patient, regimen, cle_patient):
        fire("2026-11-21T20:00:00+03:00")
        stranger = client_as(cle_patient.user)
        notification = Notification.objects.get()
        assert stranger.post(f"/api/v1/notifications/{notification.pk}/ack/").status_code == 404
        snooze = stranger.post(f"/api/v1/notifications/{notification.pk}/snooze/", {"minutes": 10}, format="json")
        assert snooze.status_code == 404
        assert stranger.get("/api/v1/notifications/").json()["results"] == []

    @pytest.mark.parametrize("path", ["/api/v1/notifications/", "/api/v1/devices/"])
    def test_options_on_a_paged_list_answers_without_describing_a_serializer(self, patient, path):
        response = client_as(patient.user).options(path)

        assert response.status_code == 200
        assert "actions" not in response.json()

    def test_ack_marks_it_read_once(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        notification = Notification.objects.get()
        with time_machine.travel(at("2026-11-21T20:05:00+03:00"), tick=False):
            first = client_as(patient.user).post(f"/api/v1/notifications/{notification.pk}/ack/")
        with time_machine.travel(at("2026-11-21T20:09:00+03:00"), tick=False):
            second = client_as(patient.user).post(f"/api/v1/notifications/{notification.pk}/ack/")
        assert first.status_code == second.status_code == 200
        assert first.json()["acked_at"] == second.json()["acked_at"]

    @pytest.mark.parametrize("minutes", [4, 241, 0, -5, "ten", None, 10.5, True])
    def test_snooze_takes_5_to_240_minutes(self, patient, regimen, minutes):
        fire("2026-11-21T20:00:00+03:00")
        notification = Notification.objects.get()
        response = client_as(patient.user).post(
            f"/api/v1/notifications/{notification.pk}/snooze/", {"minutes": minutes}, format="json"
        )
        assert response.status_code == 400
        assert "minutes" in response.json()

    def test_snooze_reminds_only_the_snoozer_again_after_the_minutes(self, child, frozen):
        other_parent = CaregiverFactory()
        child.caregivers.add(other_parent)
        prescribe(child, created_by=other_parent, strength="0.03")
        fire("2026-11-21T20:00:00+03:00")
        mine = Notification.objects.get(recipient=other_parent)
        with time_machine.travel(at("2026-11-21T20:02:00+03:00"), tick=False):
            response = client_as(other_parent).post(
                f"/api/v1/notifications/{mine.pk}/snooze/", {"minutes": 15}, format="json"
            )
        assert response.status_code == 200
        assert response.json()["snoozed_until"] is not None
        fire("2026-11-21T20:16:00+03:00")
        assert not Notification.objects.filter(occurrence__slot="20:00 snooze 1").exists()
        fire("2026-11-21T20:17:00+03:00")
        again = Notification.objects.get(occurrence__slot="20:00 snooze 1")
        assert again.recipient == other_parent

    def test_a_snoozed_dose_logged_meanwhile_is_not_sent_again(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        client_as(patient.user).post(
            f"/api/v1/notifications/{Notification.objects.get().pk}/snooze/", {"minutes": 5}, format="json"
        )
        log_application(patient, regimen, "2026-11-21T20:03:00+03:00")
        fire("2026-11-21T20:10:00+03:00")
        assert Occurrence.objects.get(slot="20:00 snooze 1").state == OccurrenceState.SKIPPED


class TestSending:
    def test_an_email_delivery_sends_text_and_html(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        delivery = Delivery.objects.get(channel="email")
        assert delivery_send(delivery.pk, now=SENT_AT).status == DeliveryStatus.SENT
        (message,) = mail.outbox
        assert message.to == [patient.user.email]
        assert message.subject == "Time for your treatment"
        assert "face and neck" in message.body
        html, mimetype = message.alternatives[0]
        assert mimetype == "text/html"
        assert "face and neck" in html
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("sent", 1)

    def test_a_transient_error_is_retried_with_exponential_backoff(self, patient, regimen, monkeypatch, settings):
        settings.DELIVERY_BACKOFF_SECONDS = 30
        fire("2026-11-21T20:00:00+03:00")
        delivery = Delivery.objects.get(channel="email")

        def refuse(self, message, device):
            raise DeliveryError("The mail server could not be reached: ConnectionRefusedError", permanent=False)

        monkeypatch.setattr(EmailTransport, "send", refuse)
        now = at("2026-11-21T20:00:00+03:00")
        waits = []
        for _ in range(3):
            outcome = delivery_send(delivery.pk, now=now)
            waits.append(outcome.retry_in)
            now += outcome.retry_in
        assert waits == [datetime.timedelta(seconds=s) for s in (30, 60, 120)]
        delivery.refresh_from_db()
        assert delivery.status == "pending"
        assert "could not be reached" in delivery.detail

    def test_a_delivery_that_keeps_failing_is_recorded_failed(self, patient, regimen, monkeypatch, settings):
        settings.DELIVERY_MAX_ATTEMPTS = 2
        fire("2026-11-21T20:00:00+03:00")
        delivery = Delivery.objects.get(channel="email")
        monkeypatch.setattr(
            EmailTransport, "send", lambda self, m, d: (_ for _ in ()).throw(DeliveryError("busy", permanent=False))
        )
        now = at("2026-11-21T20:00:00+03:00")
        first = delivery_send(delivery.pk, now=now)
        second = delivery_send(delivery.pk, now=now + first.retry_in)
        assert second.status == "failed"
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.detail) == ("failed", 2, "busy")

    def test_a_permanent_error_is_not_retried(self, patient, regimen, monkeypatch):
        fire("2026-11-21T20:00:00+03:00")
        delivery = Delivery.objects.get(channel="email")
        monkeypatch.setattr(
            EmailTransport,
            "send",
            lambda self, m, d: (_ for _ in ()).throw(
                DeliveryError("The mail server refused the recipient", permanent=True)
            ),
        )
        assert delivery_send(delivery.pk, now=SENT_AT).status == "failed"

    def test_smtp_refusing_the_recipient_is_permanent(self, patient, regimen, monkeypatch):
        fire("2026-11-21T20:00:00+03:00")

        def refused(*args, **kwargs):
            raise smtplib.SMTPRecipientsRefused({"x@test.example": (550, b"no such user")})

        monkeypatch.setattr("django.core.mail.EmailMessage.send", refused)
        assert delivery_send(Delivery.objects.get(channel="email").pk, now=SENT_AT).status == "failed"

    def test_a_delivery_not_yet_due_for_retry_is_left_alone(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        delivery = Delivery.objects.get(channel="email")
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=at("2026-11-21T21:00:00+03:00"))
        assert delivery_send(delivery.pk, now=at("2026-11-21T20:30:00+03:00")) is None
        assert not mail.outbox

    def test_a_sent_delivery_is_not_sent_again(self, patient, regimen):
        fire("2026-11-21T20:00:00+03:00")
        delivery = Delivery.objects.get(channel="email")
        delivery_send(delivery.pk, now=SENT_AT)
        assert delivery_send(delivery.pk, now=SENT_AT) is None
        assert len(mail.outbox) == 1

    def test_push_without_credentials_is_skipped_and_says_why(self, patient, regimen, settings):
        settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
        Device.objects.create(user=patient.user, platform="webpush", token="{}", token_sha256="a")
        fire("2026-11-21T20:00:00+03:00")
        delivery = Delivery.objects.get(channel="webpush")
        assert delivery_send(delivery.pk, now=SENT_AT).status == "skipped"
        delivery.refresh_from_db()
        assert delivery.detail


class TestStaleWork:
    def test_pending_occurrences_nobody_picked_up_are_handed_out_again(self, patient, regimen, settings):
        settings.REMINDER_REQUEUE_AFTER_SECONDS = 300
        with time_machine.travel(at("2026-11-21T20:00:00+03:00"), tick=False):
            ids = sweep().pending_ids  # written, but the message to a worker was lost
        assert stale_work(now=at("2026-11-21T20:04:00+03:00")).occurrence_ids == []
        assert stale_work(now=at("2026-11-21T20:06:00+03:00")).occurrence_ids == ids

    def test_a_delivery_whose_worker_died_mid_send_is_handed_out_again(self, patient, regimen, settings):
        settings.REMINDER_REQUEUE_AFTER_SECONDS = 300
        fire("2026-11-21T20:00:00+03:00")
        delivery = Delivery.objects.get(channel="email")
        # A worker took it (its lease runs 5 minutes) and died before recording anything.
        Delivery.objects.filter(pk=delivery.pk).update(attempts=1, next_attempt_at=at("2026-11-21T20:05:00+03:00"))
        assert stale_work(now=at("2026-11-21T20:07:00+03:00")).delivery_ids == []
        assert stale_work(now=at("2026-11-21T20:11:00+03:00")).delivery_ids == [delivery.pk]
