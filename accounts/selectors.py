"""Reads that decide who may see which patient. Every API view and admin page starts here."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AnonymousUser
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When

from accounts.models import (
    CLINICIAN_ROLES,
    STAFF_MANAGED_ROLES,
    CareTeamJoinCode,
    CareTeamMembership,
    Patient,
    Role,
    User,
)


def _is_self_or_dependent(user: User) -> Q:
    """The patient record is the user's own, or the user is one of its caregivers."""
    caregiver_link = Patient.caregivers.through.objects.filter(patient_id=OuterRef("pk"), user_id=user.pk)
    return Q(user_id=user.pk) | Q(Exists(caregiver_link))


def patients_visible_to(user: User | AnonymousUser) -> QuerySet[Patient]:
    """The patients this user may see: to act for them, or to review them.

    - a patient: their own record; a caregiver: their dependents;
    - a dermatologist: the patients on whose care team they are;
    - clinic staff and superusers: every patient.
    Anyone else, inactive or anonymous, sees nobody. Links are tested with EXISTS,
    so a patient appears once however many links reach them. A patient or caregiver sees exactly
    whom they act for (`patients_actable_by`): `patient_visible_to` relies on it.
    """
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    if user.is_superuser or user.role == Role.CLINIC_STAFF:
        return Patient.objects.all()
    visible = _is_self_or_dependent(user)
    if user.role == Role.DERMATOLOGIST:
        # Only a dermatologist's care-team rows grant review: a stray row for anyone else grants nothing.
        visible |= Q(Exists(CareTeamMembership.objects.filter(patient_id=OuterRef("pk"), clinician_id=user.pk)))
    return Patient.objects.filter(visible)


def patients_actable_by(user: User | AnonymousUser) -> QuerySet[Patient]:
    """The patients this user may act for (log, edit, join a care team): themselves or their dependents.

    A subset of `patients_visible_to`: clinicians review but never act for a patient.
    """
    if not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    return Patient.objects.filter(_is_self_or_dependent(user))


def patient_visible_to(user: User | AnonymousUser, patient_id: uuid.UUID | str) -> tuple[Patient, bool] | None:
    """One patient this user may see, and whether they may also act for them; None if they may not see them.

    One query, on every API request under /patients/{patient}/: `may_act` is `patients_actable_by`'s
    condition, read in the same SELECT.
    """
    if not user.is_authenticated or not user.is_active:
        return None  # sees nobody (`patients_visible_to`)
    if user.is_superuser or user.role in CLINICIAN_ROLES:
        # CASE, not the bare condition: `user_id = …` is NULL for a dependent without a login, not false.
        may_act: Case | Value = Case(When(_is_self_or_dependent(user), then=Value(True)), default=Value(False))
    else:
        may_act = Value(True)  # a patient or caregiver sees exactly whom they act for: nothing to test twice
    # One row by its key: no ORDER BY to build (Meta.ordering, or first()'s).
    found = next(iter(patients_visible_to(user).filter(pk=patient_id).annotate(may_act=may_act).order_by()[:1]), None)
    return None if found is None else (found, found.may_act)


def users_managed_by(user: User | AnonymousUser, users: QuerySet[User] | None = None) -> QuerySet[User]:
    """The accounts `user` may see and change in the admin (of `users`, default all).

    A superuser: every account. Anyone else (clinic staff): patients, caregivers and dermatologists
    whose powers come from their role alone; never a superuser, other clinic staff, or an account a
    superuser gave groups or permissions, which may hold more than the staff member does.
    """
    users = User.objects.all() if users is None else users
    if user.is_superuser:
        return users
    return users.filter(is_superuser=False, role__in=STAFF_MANAGED_ROLES, groups=None, user_permissions=None)


def join_codes_visible_to(user: User | AnonymousUser) -> QuerySet[CareTeamJoinCode]:
    """Care-team join codes: clinic staff and superusers see every one, a dermatologist those they issued."""
    codes = CareTeamJoinCode.objects.select_related("dermatologist", "used_for")
    if user.is_superuser or getattr(user, "role", None) == Role.CLINIC_STAFF:
        return codes
    return codes.filter(dermatologist_id=user.pk) if user.is_authenticated else codes.none()


def dermatologists_able_to_review() -> QuerySet[User]:
    """Dermatologists who can sign in: a code issued to an inactive login would add nobody to a care team."""
    return User.objects.filter(role=Role.DERMATOLOGIST, is_active=True)


def caregivers_assignable_by(user: User | AnonymousUser, patient: Patient | None) -> QuerySet[User]:
    """Who `user` may make this patient's caregiver in the admin: active caregiver accounts they manage.

    The patient's current caregivers stay listed, so saving the page never drops one silently.
    """
    managed = users_managed_by(user).filter(role=Role.CAREGIVER, is_active=True)
    current = Q(dependents=patient) if patient is not None and patient.pk else Q(pk__in=[])
    return User.objects.filter(Q(pk__in=managed.values("pk")) | current).distinct()
