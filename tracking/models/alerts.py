"""Alerts for the care team: raised by tracking.alerts from the logs, resolved with a note."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models

from accounts.models import Patient
from tacro_topical.text import PersonTextValidator
from tracking.models.regimens import Regimen


class AlertKind(models.TextChoices):
    PERSISTENT_BURNING = "persistent_burning", "burning that does not settle"
    NO_IMPROVEMENT = "no_improvement", "no improvement at 6 weeks"
    WORSENING_FLARE = "worsening_flare", "worsening flare"
    LOW_ADHERENCE = "low_adherence", "low adherence"
    CONCERNING_SKIN_CHECK = "concerning_skin_check", "concerning skin check"
    URGENT_SKIN_SIGNS = "urgent_skin_signs", "urgent signs in a skin check"


# Kinds the care team is told about at once, by the fastest channel each clinician has, not in the digest.
IMMEDIATE_ALERT_KINDS = frozenset({AlertKind.URGENT_SKIN_SIGNS})


class AlertSeverity(models.IntegerChoices):
    """For sorting the triage list: what needs a look soonest first."""

    LOW = 1, "low"
    MEDIUM = 2, "medium"
    HIGH = 3, "high"


class Alert(models.Model):
    """One episode of a concern. Never two open of the same kind for a patient.

    `episode_key` closes episodes that must not repeat at all (no improvement at 6 weeks is
    judged once per regimen; a concerning skin check raises one alert per check).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    severity = models.PositiveSmallIntegerField(choices=AlertSeverity.choices)
    regimen = models.ForeignKey(Regimen, on_delete=models.SET_NULL, null=True, blank=True, related_name="alerts")
    episode_key = models.CharField(max_length=80, blank=True)
    summary = models.CharField(max_length=300, help_text="What was found, in plain words, for the care team.")
    evidence = models.JSONField(default=dict, help_text="The figures the rule found.")
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True, validators=[PersonTextValidator(multiline=True)])

    class Meta:
        ordering = ("-severity", "-opened_at")
        indexes: ClassVar = [models.Index(fields=("patient", "kind", "opened_at"), name="alert_patient_kind")]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=("patient", "kind"), condition=models.Q(resolved_at__isnull=True), name="alert_one_open_per_kind"
            ),
            models.UniqueConstraint(
                fields=("patient", "kind", "episode_key"),
                condition=~models.Q(episode_key=""),
                name="alert_once_per_episode",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}, opened {self.opened_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class AlertDigest(models.Model):
    """A daily digest email sent to one clinician: the next one covers alerts opened after it."""

    clinician = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_digests")
    sent_at = models.DateTimeField()
    alert_count = models.PositiveIntegerField()

    class Meta:
        indexes: ClassVar = [models.Index(fields=("clinician", "-sent_at"), name="digest_latest")]

    def __str__(self) -> str:
        return f"digest to {self.clinician_id} at {self.sent_at:%Y-%m-%d %H:%M}"
