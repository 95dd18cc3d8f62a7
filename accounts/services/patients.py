"""Writes on patients and care teams: a caregiver's dependents, a patient's details, join codes."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import (
    CareTeamJoinCode,
    CareTeamMembership,
    Patient,
    PatientTimezoneChange,
    Role,
    User,
)
from accounts.services.users import PATIENT_EDITABLE_FIELDS, refuse_uneditable
from accounts.signals import patient_timezone_changed


@transaction.atomic
def patient_create_dependent(
    *,
    caregiver: User,
    first_name: str,
    birth_date: datetime.date,
    timezone_name: str,
    condition: str,
    last_name: str = "",
) -> Patient:
    """A caregiver adds a child (or other dependent) without a login of their own."""
    patient = Patient(
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        timezone=timezone_name,
        condition=condition,
    )
    patient.full_clean()
    patient.save()
    patient.caregivers.add(caregiver)
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, **changes: object) -> Patient:
    """Change a patient's own details. Only PATIENT_EDITABLE_FIELDS may change."""
    refuse_uneditable(changes, PATIENT_EDITABLE_FIELDS)
    left_timezone = patient.timezone
    for name, value in changes.items():
        setattr(patient, name, value)
    patient.full_clean()
    if patient.timezone != left_timezone:
        # Logs already written keep the local dates they had: remember the zone being left.
        PatientTimezoneChange.objects.create(patient=patient, timezone=left_timezone, until=timezone.now())
    if changes:
        patient.save(update_fields=[*changes, "updated_at"])
    if patient.timezone != left_timezone:
        patient_timezone_changed.send(sender=Patient, patient=patient)
    return patient


@transaction.atomic
def join_code_issue(*, dermatologist: User, created_by: User) -> CareTeamJoinCode:
    """Make a short-lived, single-use code that adds `dermatologist` to a patient's care team."""
    if dermatologist.role != Role.DERMATOLOGIST:
        raise ValidationError({"dermatologist": gettext("Join codes are issued for dermatologists only.")})
    if created_by.role == Role.DERMATOLOGIST and created_by.pk != dermatologist.pk and not created_by.is_superuser:
        raise ValidationError({"dermatologist": gettext("A dermatologist issues join codes for themselves only.")})
    now = timezone.now()
    join_code = CareTeamJoinCode(
        dermatologist=dermatologist,
        created_by=created_by,
        created_at=now,
        expires_at=now + settings.CARE_TEAM_JOIN_CODE_TTL,
    )
    join_code.full_clean()
    join_code.save()
    return join_code


@transaction.atomic
def care_team_join(*, code: str, patient: Patient) -> CareTeamMembership:
    """Spend a join code: add its dermatologist to the patient's care team.

    The code row is locked so two patients racing on one code cannot both spend it.
    Joining a team one is already on is not an error; the code is still spent.
    """
    now = timezone.now()
    join_code = (
        CareTeamJoinCode.objects.select_for_update()
        .select_related("dermatologist")
        .filter(code=code.strip().upper())
        .first()
    )
    if join_code is None or not join_code.is_usable_at(now) or not join_code.dermatologist.is_active:
        raise ValidationError(
            {"code": gettext("This code is unknown, expired or already used. Ask your clinic for a new one.")}
        )
    membership, _ = CareTeamMembership.objects.get_or_create(
        patient=patient, clinician=join_code.dermatologist, defaults={"joined_at": now}
    )
    join_code.used_at = now
    join_code.used_for = patient
    join_code.save(update_fields=["used_at", "used_for"])
    return membership
