"""What the dermatologist's patient list shows, kept per patient so the list sorts and filters in SQL.

Adherence is counted dose by dose in Python (tracking.adherence): it cannot be ordered by in a
query over 10,000 patients. `tracking.review.services.summary_refresh` recomputes a row after new logs,
after alerts change and in the hourly alert sweep; the review page itself always reads live.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from accounts.models import Patient
from tracking.models.regimens import Regimen


class PatientSummary(models.Model):
    patient = models.OneToOneField(Patient, on_delete=models.CASCADE, primary_key=True, related_name="summary")
    current_regimen = models.ForeignKey(
        Regimen, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", help_text="Active today."
    )
    adherence_pct = models.FloatField(null=True, blank=True, help_text="Logged over expected doses, last 14 days.")
    last_application_at = models.DateTimeField(null=True, blank=True)
    latest_flare_severity = models.PositiveSmallIntegerField(null=True, blank=True)
    latest_flare_at = models.DateTimeField(null=True, blank=True)
    burning_by_day = models.JSONField(
        default=list, blank=True, help_text="Highest burning score per local day, oldest first; null for no score."
    )
    latest_poem_score = models.PositiveSmallIntegerField(null=True, blank=True)
    latest_poem_band = models.CharField(max_length=32, blank=True)
    latest_poem_at = models.DateTimeField(null=True, blank=True)
    open_alerts = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField()

    class Meta:
        verbose_name = "patient summary"
        verbose_name_plural = "patient summaries"
        indexes: ClassVar = [
            # The patient list's default order: open alerts first, then the lowest adherence.
            models.Index(fields=("-open_alerts", "adherence_pct"), name="summary_triage"),
        ]

    def __str__(self) -> str:
        return f"summary of {self.patient_id} at {self.refreshed_at:%Y-%m-%d %H:%M}Z"
