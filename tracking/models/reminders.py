"""Reminders as rows: settings, schedules with a derived `next_fire_at`, occurrences (the outbox),
what each recipient got, per channel, and the devices push goes to.

The sweep (tracking.reminders) claims due schedules and writes one occurrence per
(schedule, local date, slot); the unique constraint is what makes two sweeps harmless.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models

from accounts.models import Patient
from tracking.models.regimens import Regimen


class ReminderKind(models.TextChoices):
    """What a patient can switch on and off in `reminders/` (API.md)."""

    DOSE = "dose", "dose reminder"
    SKIN_CHECK = "skin_check", "skin-check prompt"
    POEM = "poem", "weekly POEM prompt"


class Channel(models.TextChoices):
    PUSH = "push", "push"
    EMAIL = "email", "email"
    INBOX = "inbox", "inbox"


ALL_CHANNELS: tuple[str, ...] = tuple(Channel.values)


class ReminderSetting(models.Model):
    """A patient's choice for one kind of reminder. Absent means the default: on, every channel."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminder_settings")
    kind = models.CharField(max_length=16, choices=ReminderKind.choices)
    enabled = models.BooleanField(default=True)
    channels = models.JSONField(default=list, help_text='Any of "push", "email", "inbox".')
    quiet_hours_start = models.TimeField(null=True, blank=True, help_text="Local time quiet hours begin.")
    quiet_hours_end = models.TimeField(null=True, blank=True, help_text="Local time quiet hours end.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=("patient", "kind"), name="reminder_setting_one_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for patient {self.patient_id}"


class ScheduleKind(models.TextChoices):
    """What a schedule fires. Refill prompts follow the dose setting (they are about the doses)."""

    DOSE = "dose", "dose reminder"
    SKIN_CHECK = "skin_check", "skin-check prompt"
    POEM = "poem", "weekly POEM prompt"
    REFILL = "refill", "refill prompt"


class Schedule(models.Model):
    """When one kind of reminder fires for one patient (and, for doses and refills, one regimen).

    The local times, weekdays, interval and zone are the truth; `next_fire_at` and the nominal
    slot it belongs to (`next_local_date`, `next_slot`) are derived, and recomputed whenever a
    regimen, the patient's zone or a reminder setting changes.
    """

    id = models.BigAutoField(primary_key=True)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminder_schedules")
    kind = models.CharField(max_length=16, choices=ScheduleKind.choices)
    regimen = models.ForeignKey(
        Regimen, on_delete=models.CASCADE, null=True, blank=True, related_name="reminder_schedules"
    )
    timezone = models.CharField(max_length=64)
    times = models.JSONField(help_text='Local wall times, "HH:MM".')
    weekdays = models.JSONField(help_text="ISO weekdays it runs on.")
    start_date = models.DateField(help_text="First local date it may fire on.")
    end_date = models.DateField(null=True, blank=True, help_text="Last local date it may fire on.")
    every_days = models.PositiveSmallIntegerField(
        default=1, help_text="Fires on start_date and every this many days after it (1: daily)."
    )
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    next_local_date = models.DateField(null=True, blank=True)
    next_slot = models.CharField(max_length=5, blank=True, help_text='The nominal wall time, "HH:MM".')
    next_fire_at = models.DateTimeField(null=True, blank=True, help_text="UTC; null when nothing is due any more.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes: ClassVar = [
            # Only rows that will fire are in the index the sweep reads.
            models.Index(fields=("next_fire_at",), name="schedule_due", condition=models.Q(next_fire_at__isnull=False)),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=("patient", "kind"),
                condition=models.Q(regimen__isnull=True),
                name="schedule_one_per_patient_kind",
            ),
            models.UniqueConstraint(
                fields=("regimen", "kind"),
                condition=models.Q(regimen__isnull=False),
                name="schedule_one_per_regimen_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} schedule {self.pk}"


class OccurrenceState(models.TextChoices):
    SCHEDULED = "scheduled", "scheduled (a follow-up or snooze, not yet due)"
    PENDING = "pending", "pending delivery"
    DELIVERED = "delivered", "delivered"
    SKIPPED = "skipped", "skipped"


class Occurrence(models.Model):
    """One firing of a schedule: the outbox row delivery works from.

    `slot` is the nominal wall time ("08:00"), or it names a follow-up or snooze of one
    ("08:00 follow-up", "08:00 snooze 1"), so each is unique on its own.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="occurrences")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="reminder_occurrences")
    kind = models.CharField(max_length=24)
    local_date = models.DateField()
    slot = models.CharField(max_length=40)
    due_at = models.DateTimeField(help_text="When it is sent (UTC), quiet hours and DST applied.")
    slot_at = models.DateTimeField(help_text="The nominal slot's instant (UTC), for skip and follow-up checks.")
    state = models.CharField(max_length=16, choices=OccurrenceState.choices, default=OccurrenceState.PENDING)
    skip_reason = models.CharField(max_length=200, blank=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="Only this user (a snooze); empty: the patient's login and caregivers.",
    )
    follows = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="follow_ups")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(
                fields=("state", "due_at"),
                name="occurrence_open",
                condition=models.Q(state__in=("scheduled", "pending")),
            ),
            # The review page's timeline: one patient's reminders over a few weeks.
            models.Index(fields=("patient", "due_at"), name="occurrence_patient_due"),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=("schedule", "local_date", "slot"), name="occurrence_once_per_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.local_date} {self.slot}"


class Notification(models.Model):
    """What one recipient got for one occurrence (a reminder) or one alert (a clinician told at once):
    the inbox entry, and the handle for ack and snooze (a reminder's only)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    occurrence = models.ForeignKey(
        Occurrence, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    alert = models.ForeignKey(
        "tracking.Alert",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notifications",
        help_text="The care-team alert a clinician is told about at once (tracking.models.IMMEDIATE_ALERT_KINDS).",
    )
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24)
    title = models.CharField(max_length=200)
    body = models.TextField()
    in_inbox = models.BooleanField(default=True, help_text="Whether the inbox is one of its channels.")
    created_at = models.DateTimeField()
    acked_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar = [
            models.Index(fields=("recipient", "-created_at"), name="notification_inbox"),
        ]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=("occurrence", "recipient"), name="notification_once_per_recipient"),
            # A redelivered task, or two evaluations at once, tell a clinician about an alert once.
            models.UniqueConstraint(
                fields=("alert", "recipient"),
                condition=models.Q(alert__isnull=False),
                name="notification_once_per_alert_recipient",
            ),
            models.CheckConstraint(
                condition=models.Q(occurrence__isnull=False) | models.Q(alert__isnull=False),
                name="notification_about_something",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "pending"
    SENT = "sent", "sent"
    FAILED = "failed", "failed"
    SKIPPED = "skipped", "skipped"


class Platform(models.TextChoices):
    WEBPUSH = "webpush", "Web Push"
    FCM = "fcm", "Firebase Cloud Messaging"
    APNS = "apns", "Apple Push Notification service"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Device(models.Model):
    """Where a user receives push. Deactivated, not deleted, on a permanent error, so it is visible why."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="devices")
    platform = models.CharField(max_length=8, choices=Platform.choices)
    token = models.TextField(help_text="FCM/APNs token, or the Web Push subscription JSON.")
    token_sha256 = models.CharField(max_length=64, editable=False)
    active = models.BooleanField(default=True)
    deactivated_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            # A token names one app install; registering it again moves it to the new login.
            models.UniqueConstraint(fields=("platform", "token_sha256"), name="device_token_once"),
        ]

    def __str__(self) -> str:
        return f"{self.platform} device {self.pk}"


class Delivery(models.Model):
    """One channel's attempt at one notification: sent, failed with the error, or skipped and why."""

    id = models.BigAutoField(primary_key=True)
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8)
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries")
    status = models.CharField(max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    detail = models.CharField(max_length=500, blank=True, help_text="The error, or why it was skipped.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes: ClassVar = [
            models.Index(fields=("next_attempt_at",), name="delivery_pending", condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.status}"
