"""Writes on accounts, patients and care teams. Each owns its transaction and validates the row."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from typing import cast

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import (
    CLINICIAN_ROLES,
    AccessChannel,
    AccessRecord,
    CareTeamJoinCode,
    CareTeamMembership,
    Patient,
    PatientTimezoneChange,
    Role,
    User,
    normalize_email_address,
)
from accounts.signals import patient_timezone_changed

PATIENT_EDITABLE_FIELDS = ("first_name", "last_name", "birth_date", "timezone", "condition")


@transaction.atomic
def user_register(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    role: Role,
    birth_date: datetime.date | None = None,
    timezone_name: str | None = None,
    condition: str | None = None,
) -> User:
    """Create a patient or caregiver login; a patient also gets their own Patient record.

    Raises ValidationError keyed by field: a taken e-mail, a weak password, missing patient fields.
    """
    if role not in (Role.PATIENT, Role.CAREGIVER):
        raise ValidationError({"role": "Only patients and caregivers register themselves."})
    # Every problem in one answer: a person fixing a form should not meet them one at a time.
    problems: dict[str, list[str]] = {}
    if role == Role.PATIENT:
        problems |= patient_registration_missing(
            birth_date=birth_date, timezone_name=timezone_name, condition=condition
        )
    email = normalize_email_address(email)
    user = User(email=email, first_name=first_name, last_name=last_name, role=role)
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        problems["password"] = error.messages
    problems |= _clean_problems(user, exclude=["password"])
    patient = None
    if role == Role.PATIENT and not problems.keys() & set(PATIENT_REGISTRATION_FIELDS):
        patient = Patient(
            first_name=first_name,
            last_name=last_name,
            # Checked present above.
            birth_date=cast(datetime.date, birth_date),
            timezone=cast(str, timezone_name),
            condition=cast(str, condition),
        )
        problems |= _clean_problems(patient, exclude=["user"])
    if problems:
        raise ValidationError(problems)
    user.set_password(password)
    try:
        # A savepoint, so a lost race on the unique e-mail leaves the outer transaction usable.
        with transaction.atomic():
            user.save()
    except IntegrityError as error:
        raise ValidationError({"email": "An account with this e-mail address already exists."}) from error
    if patient is not None:
        patient.user = user
        patient.save()
    return user


# What a patient, and only a patient, must give at registration.
PATIENT_REGISTRATION_FIELDS = ("birth_date", "timezone", "condition")


def patient_registration_missing(
    *, birth_date: object, timezone_name: object, condition: object
) -> dict[str, list[str]]:
    """The fields a patient must give at registration that are missing, each with why."""
    given = dict(zip(PATIENT_REGISTRATION_FIELDS, (birth_date, timezone_name, condition), strict=True))
    return {name: ["Required when registering a patient."] for name, value in given.items() if value in (None, "")}


def _clean_problems(row: User | Patient, *, exclude: list[str]) -> dict[str, list[str]]:
    try:
        row.full_clean(exclude=exclude)
    except ValidationError as error:
        return dict(error.message_dict)
    return {}


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
    unknown = set(changes) - set(PATIENT_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
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
        raise ValidationError({"dermatologist": "Join codes are issued for dermatologists only."})
    if created_by.role == Role.DERMATOLOGIST and created_by.pk != dermatologist.pk and not created_by.is_superuser:
        raise ValidationError({"dermatologist": "A dermatologist issues join codes for themselves only."})
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
        raise ValidationError({"code": "This code is unknown, expired or already used. Ask your clinic for a new one."})
    membership, _ = CareTeamMembership.objects.get_or_create(
        patient=patient, clinician=join_code.dermatologist, defaults={"joined_at": now}
    )
    join_code.used_at = now
    join_code.used_for = patient
    join_code.save(update_fields=["used_at", "used_for"])
    return membership


def is_audited_viewer(user: object) -> bool:
    """A clinician's or superuser's reads are audited; a patient or caregiver reads their own record."""
    return bool(
        getattr(user, "is_authenticated", False)
        and (getattr(user, "is_superuser", False) or getattr(user, "role", None) in CLINICIAN_ROLES)
    )


# Query parameters a clinician types: a search may hold a patient's name, which the audit must not keep.
TYPED_PARAMETERS = frozenset({"q"})


def audited_path(request: HttpRequest) -> str:
    """The request's path and query, with what was typed into a search left out."""
    query = request.GET.copy()
    for name in TYPED_PARAMETERS & set(query):
        query[name] = "redacted"
    encoded = query.urlencode(safe="/")
    return f"{request.path}?{encoded}" if encoded else request.path


def access_record(
    *, viewer: User | AnonymousUser, patient_ids: Iterable[uuid.UUID], channel: AccessChannel, what: str, path: str
) -> int:
    """Record that a clinician viewed these patients' data (one row each, one query); return the count.

    Nothing is recorded for patients and caregivers. `what` names the page or operation; `path` is
    the request path with its query (`audited_path`), which holds ids and dates, never a patient's
    words. One bulk INSERT, without full_clean: every field is set here, from the request.
    """
    if not is_audited_viewer(viewer):
        return 0
    viewer = cast(User, viewer)  # authenticated: is_audited_viewer said so
    records = [
        AccessRecord(viewer=viewer, patient_id=patient_id, channel=channel, what=what[:80], path=path[:500])
        for patient_id in dict.fromkeys(patient_ids)  # once per patient, in the order shown
    ]
    AccessRecord.objects.bulk_create(records)
    return len(records)
