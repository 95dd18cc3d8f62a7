"""A prescription of a topical calcineurin inhibitor, as the patient follows it day by day."""

from __future__ import annotations

import datetime
import uuid
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext

from accounts.models import Patient
from tracking import rules


class Phase(models.TextChoices):
    TREATMENT = "treatment", "treatment (twice daily until clear)"
    MAINTENANCE = "maintenance", "maintenance (proactive, on chosen weekdays)"


ALL_WEEKDAYS = rules.ALL_WEEKDAYS  # the label's every day (treatment); read from here by reminders, demo and tests
STRENGTH_CHOICES = [(strength, f"{strength}%") for strength in rules.ALL_STRENGTHS]
TUBE_CHOICES = [(grams, f"{grams} g") for grams in rules.TUBE_SIZES_GRAMS]


class Regimen(models.Model):
    """One drug, strength and phase over a span of dates. A step-down ends it and starts the next."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="regimens")
    drug = models.CharField(max_length=16, choices=[(drug.value, drug.value) for drug in rules.Drug])
    strength = models.CharField(
        max_length=8,
        choices=STRENGTH_CHOICES,
        help_text='Percent, as a string: tacrolimus "0.03" or "0.1"; pimecrolimus "1".',
    )
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.TREATMENT)
    body_areas = models.JSONField(help_text="Area codes, at least one.")
    times = models.JSONField(help_text='Local times of day, "HH:MM", in the patient\'s time zone.')
    weekdays = models.JSONField(help_text="ISO weekdays (1 = Monday); every day for treatment.")
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Last day of use; empty while ongoing.")
    tube_grams = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        choices=TUBE_CHOICES,
        help_text="Size of the tube in use, for the refill estimate.",
    )
    previous = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="next",
        help_text="The regimen this one stepped down from.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-start_date", "-created_at")
        indexes: ClassVar = [models.Index(fields=("patient", "start_date"), name="regimen_patient_start")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="regimen_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.drug} {self.strength}% {self.phase} from {self.start_date}"

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if self.end_date and self.start_date and self.end_date < self.start_date:
            errors["end_date"] = gettext("The end date cannot be before the start date ({start}).").format(
                start=self.start_date
            )
        drug = rules.Drug.named(self.drug)
        if drug is not None and self.start_date and self.patient_id:
            problem = rules.strength_problem(
                drug=drug,
                strength=self.strength,
                age_years=self.patient.age_on(self.start_date),
            )
            if problem:
                # Too young for any TCI is about the drug itself; the rest are about the strength.
                too_young = self.patient.age_on(self.start_date) < rules.MIN_AGE_YEARS_ANY_TCI
                allowed = rules.STRENGTHS_BY_DRUG[drug]
                errors["drug" if too_young and self.strength in allowed else "strength"] = problem
        errors |= self._schedule_problems()
        if errors:
            raise ValidationError(errors)

    def _schedule_problems(self) -> dict[str, str]:
        errors: dict[str, str] = {}
        times, weekdays = list(self.times or []), list(self.weekdays or [])
        if len(set(times)) != len(times):
            errors["times"] = gettext("Each time of day may appear once.")
        if self.phase == Phase.MAINTENANCE and not weekdays:
            errors["weekdays"] = gettext("Maintenance runs on chosen weekdays: give ISO weekday numbers, e.g. [1, 4].")
        elif self.phase == Phase.TREATMENT and sorted(set(weekdays)) != list(ALL_WEEKDAYS):
            errors["weekdays"] = gettext(
                "Treatment is daily: leave weekdays out, or give all seven [1, 2, 3, 4, 5, 6, 7]."
            )
        elif len(set(weekdays)) != len(weekdays):
            errors["weekdays"] = gettext("Each weekday may appear once.")
        return errors

    def wall_times(self) -> list[datetime.time]:
        return [datetime.time.fromisoformat(value) for value in self.times]

    def is_active_on(self, date: datetime.date) -> bool:
        return self.start_date <= date and (self.end_date is None or date <= self.end_date)

    def runs_on(self, date: datetime.date) -> bool:
        """Whether doses are due on this date: active, and (for maintenance) one of its weekdays."""
        return self.is_active_on(date) and date.isoweekday() in self.weekdays
