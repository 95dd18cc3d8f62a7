"""What patients log: applications, symptoms, POEM questionnaires and skin checks.

Every log carries the client's own UUID, so an entry written offline and synced twice is stored
once, and a fingerprint of what was first sent, so a replay can be told from a changed one.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext

from accounts.models import Patient
from tracking import rules
from tracking.models.regimens import Regimen


def validate_body_areas(value: object) -> None:
    allowed = ", ".join(rules.BODY_AREAS)
    if not isinstance(value, list) or not all(isinstance(area, str) for area in value):
        raise ValidationError(gettext("A list of area codes. Allowed: {allowed}.").format(allowed=allowed))
    unknown = [area for area in value if area not in rules.BODY_AREAS]
    if unknown:
        raise ValidationError(
            gettext("Unknown area code(s): {unknown}. Allowed: {allowed}.").format(
                unknown=", ".join(unknown), allowed=allowed
            )
        )


def validate_positive_ftu(value: Decimal) -> None:
    if value <= 0:
        raise ValidationError(
            gettext("An amount is more than 0 and at most {max} FTU.").format(max=rules.MAX_FTU_PER_APPLICATION)
        )


def nrs_validators(name: str) -> list:
    message = f"{name} is scored {rules.NRS_MIN}-{rules.NRS_MAX} (0 none, 10 worst imaginable)."
    return [MinValueValidator(rules.NRS_MIN, message), MaxValueValidator(rules.NRS_MAX, message)]


class PatientLog(models.Model):
    """Fields every log shares. `EVENT_TIME` names the field holding when it happened."""

    EVENT_TIME: ClassVar[str]

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, help_text="Chosen by the client.")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    note = models.TextField(blank=True, max_length=2000)
    fingerprint = models.CharField(
        max_length=64, editable=False, help_text="SHA-256 of the content first sent, to tell a replay from a change."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(
        null=True, blank=True, help_text="Deleted by its creator; kept so a late replay is not stored again."
    )

    class Meta:
        abstract = True

    @property
    def event_time(self) -> datetime.datetime:
        """When it happened, whatever the subclass calls that field."""
        moment: datetime.datetime = getattr(self, self.EVENT_TIME)
        return moment


class Application(PatientLog):
    EVENT_TIME = "applied_at"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="applications")
    regimen = models.ForeignKey(Regimen, on_delete=models.PROTECT, related_name="applications")
    applied_at = models.DateTimeField()
    body_areas = models.JSONField(validators=[validate_body_areas])
    amount_ftu = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[validate_positive_ftu, MaxValueValidator(rules.MAX_FTU_PER_APPLICATION)],
        help_text="Fingertip units, 0 < x <= 40.",
    )

    class Meta:
        indexes: ClassVar = [models.Index(fields=("patient", "applied_at"), name="application_patient_time")]

    def __str__(self) -> str:
        return f"application at {self.applied_at:%Y-%m-%d %H:%M}Z"


class Symptom(PatientLog):
    EVENT_TIME = "recorded_at"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="symptoms")
    recorded_at = models.DateTimeField()
    burning = models.PositiveSmallIntegerField(null=True, blank=True, validators=nrs_validators("Burning"))
    itch = models.PositiveSmallIntegerField(null=True, blank=True, validators=nrs_validators("Itch"))
    flare_severity = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[
            MinValueValidator(rules.FLARE_SEVERITY_MIN, rules.FLARE_SEVERITY_RANGE_MESSAGE),
            MaxValueValidator(rules.FLARE_SEVERITY_MAX, rules.FLARE_SEVERITY_RANGE_MESSAGE),
        ],
    )
    body_areas = models.JSONField(default=list, blank=True, validators=[validate_body_areas])
    application = models.ForeignKey(
        Application,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="symptoms",
        help_text="The application that caused this burning, if the patient linked one.",
    )

    class Meta:
        indexes: ClassVar = [models.Index(fields=("patient", "recorded_at"), name="symptom_patient_time")]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(burning__isnull=False)
                | models.Q(itch__isnull=False)
                | models.Q(flare_severity__isnull=False),
                name="symptom_has_a_score",
            ),
        ]

    def __str__(self) -> str:
        return f"symptoms at {self.recorded_at:%Y-%m-%d %H:%M}Z"

    def clean(self) -> None:
        super().clean()
        if self.burning is None and self.itch is None and self.flare_severity is None:
            raise ValidationError(
                gettext(
                    "Send at least one score: burning ({nrs}), itch ({nrs}) "
                    "or flare_severity ({flare_min}-{flare_max})."
                ).format(
                    nrs=f"{rules.NRS_MIN}-{rules.NRS_MAX}",
                    flare_min=rules.FLARE_SEVERITY_MIN,
                    flare_max=rules.FLARE_SEVERITY_MAX,
                )
            )


class PoemEntry(PatientLog):
    EVENT_TIME = "recorded_at"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="poem_entries")
    recorded_at = models.DateTimeField()
    answers = models.JSONField(help_text="Seven items, each 0-4 (null for an unanswered item).")
    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0-28; empty when not scorable.")
    band = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name = "POEM entry"
        verbose_name_plural = "POEM entries"
        indexes: ClassVar = [models.Index(fields=("patient", "recorded_at"), name="poem_patient_time")]

    def __str__(self) -> str:
        return f"POEM {self.score} at {self.recorded_at:%Y-%m-%d %H:%M}Z"


class PerformedBy(models.TextChoices):
    SELF = "self", "the patient or a caregiver"
    CLINICIAN = "clinician", "a clinician"


class SkinCheck(PatientLog):
    EVENT_TIME = "performed_at"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="skin_checks")
    performed_at = models.DateTimeField()
    performed_by = models.CharField(max_length=16, choices=PerformedBy.choices, default=PerformedBy.SELF)
    concerning = models.BooleanField(
        help_text="Something the care team should see: marked so, or a self-check question answered yes."
    )
    # The self-check's answers (rules.SKIN_CHECK_QUESTIONS): yes, no, or not answered (null; every check
    # logged before the questions existed).
    new_or_changing_spot = models.BooleanField(null=True, blank=True, help_text="A new or changing mole or spot.")
    sore_not_healing = models.BooleanField(null=True, blank=True, help_text="A sore that does not heal.")
    swollen_lymph_nodes = models.BooleanField(null=True, blank=True, help_text="Swollen lymph nodes.")
    blisters_or_erosions = models.BooleanField(
        null=True, blank=True, help_text="Painful clustered blisters or punched-out erosions."
    )
    fever = models.BooleanField(null=True, blank=True, help_text="A fever.")
    spreading_rash = models.BooleanField(null=True, blank=True, help_text="A rash that is spreading.")
    urgent_signs = models.JSONField(
        default=list,
        blank=True,
        help_text="The urgent signs the answers report (rules.skin_check_urgent_signs); empty when none.",
    )

    class Meta:
        indexes: ClassVar = [models.Index(fields=("patient", "performed_at"), name="skincheck_patient_time")]

    def __str__(self) -> str:
        return f"skin check at {self.performed_at:%Y-%m-%d %H:%M}Z"

    @property
    def answers(self) -> dict[str, bool | None]:
        """The self-check's answers by question (rules.SKIN_CHECK_ANSWERS)."""
        return {name: getattr(self, name) for name in rules.SKIN_CHECK_ANSWERS}

    @property
    def is_urgent(self) -> bool:
        return bool(self.urgent_signs)
