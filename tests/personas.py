"""The people every test may share: one clinic, its patients, and a stranger (after healthchecks' BaseTestCase).

- `clinic`: the care team. `clinic.dermatologist` reviews every patient below; `clinic.staff` (clinic staff)
  sees every patient by role.
- `ad_patient`: an adult with atopic dermatitis and a login of their own, in Asia/Qatar.
- `cle_patient`: an adult with discoid cutaneous lupus and a login of their own, in Europe/London.
- `caregiver` and `child`: a parent and the dependent child (no login) they act for, in Asia/Qatar.
- `stranger`: a dermatologist outside the clinic, on no care team: signed in, staff, related to nobody.

Each is a pytest fixture (registered in tests/conftest.py), created only when a test asks for it;
`world` gathers them all. Build anything else with tests/factories.py. `prescribe` and `client_as` are the
one way the suite prescribes a regimen and signs in to the API; `regimen_row` the one way to store a regimen
without its reminder schedules.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import CareTeamMembership, Condition, Patient, User
from tests.factories import (
    CaregiverFactory,
    ClinicStaffFactory,
    DependentFactory,
    DermatologistFactory,
    PatientFactory,
)
from tracking import services
from tracking.models import Regimen
from tracking.models.regimens import ALL_WEEKDAYS

# What makes each persona who they are; e-mail addresses stay the factories' (unique per call).
AD_PATIENT: dict[str, object] = {
    "user__first_name": "Amira",
    "user__last_name": "Nassar",
    "birth_date": datetime.date(1990, 5, 17),
    "timezone": "Asia/Qatar",
    "condition": Condition.ATOPIC_DERMATITIS,
}
CLE_PATIENT: dict[str, object] = {
    "user__first_name": "Lina",
    "user__last_name": "Haddad",
    "birth_date": datetime.date(1984, 9, 3),
    "timezone": "Europe/London",
    "condition": Condition.CLE_DISCOID,
}
CHILD: dict[str, object] = {
    "first_name": "Yusuf",
    "last_name": "Saleh",
    "birth_date": datetime.date(2018, 3, 2),
    "timezone": "Asia/Qatar",
    "condition": Condition.ATOPIC_DERMATITIS,
}


@dataclass(frozen=True)
class Clinic:
    """A care team: the dermatologist who reviews the clinic's patients, and staff who see every patient.

    `ad_patient`, `cle_patient` and `child_of` make one more patient of the clinic, like the persona with
    `overrides` on top (factory_boy keywords: `timezone=...`, `user__first_name=...`), for a test that
    needs a variant or a second one.
    """

    dermatologist: User
    staff: User

    def admit(self, patient: Patient) -> Patient:
        """Put the clinic's dermatologist on the patient's care team."""
        CareTeamMembership.objects.create(patient=patient, clinician=self.dermatologist)
        return patient

    def ad_patient(self, **overrides: object) -> Patient:
        return self.admit(PatientFactory(**{**AD_PATIENT, **overrides}))

    def cle_patient(self, **overrides: object) -> Patient:
        return self.admit(PatientFactory(**{**CLE_PATIENT, **overrides}))

    def child_of(self, caregiver: User, **overrides: object) -> Patient:
        return self.admit(DependentFactory(caregiver=caregiver, **{**CHILD, **overrides}))


@dataclass(frozen=True)
class World:
    """Every persona at once, for tests that compare what each of them may see or do."""

    clinic: Clinic
    ad_patient: Patient
    cle_patient: Patient
    caregiver: User
    child: Patient
    stranger: User

    @property
    def dermatologist(self) -> User:
        return self.clinic.dermatologist


# --- fixtures: each creates its persona on first use in a test ------------------------------------------------


@pytest.fixture
def persona_clinic(db: None) -> Clinic:
    """The clinic the other personas hang on: a module may name a fixture of its own `clinic` without
    cutting them loose from it."""
    return Clinic(
        dermatologist=DermatologistFactory(first_name="Dana", last_name="Derm"),
        staff=ClinicStaffFactory(first_name="Sami", last_name="Staff"),
    )


@pytest.fixture
def clinic(persona_clinic: Clinic) -> Clinic:
    return persona_clinic


@pytest.fixture
def dermatologist(persona_clinic: Clinic) -> User:
    return persona_clinic.dermatologist


@pytest.fixture
def clinic_staff(persona_clinic: Clinic) -> User:
    return persona_clinic.staff


@pytest.fixture
def ad_patient(persona_clinic: Clinic) -> Patient:
    return persona_clinic.ad_patient()


@pytest.fixture
def cle_patient(persona_clinic: Clinic) -> Patient:
    return persona_clinic.cle_patient()


@pytest.fixture
def caregiver(db: None) -> User:
    return CaregiverFactory(first_name="Omar", last_name="Saleh")


@pytest.fixture
def child(persona_clinic: Clinic, caregiver: User) -> Patient:
    return persona_clinic.child_of(caregiver)


@pytest.fixture
def stranger(db: None) -> User:
    return DermatologistFactory(first_name="Sara", last_name="Stranger")


@pytest.fixture
def world(
    persona_clinic: Clinic, ad_patient: Patient, cle_patient: Patient, caregiver: User, child: Patient, stranger: User
) -> World:
    return World(
        clinic=persona_clinic,
        ad_patient=ad_patient,
        cle_patient=cle_patient,
        caregiver=caregiver,
        child=child,
        stranger=stranger,
    )


# --- acting as a persona -------------------------------------------------------------------------------------


def client_as(user: User) -> APIClient:
    """An API client signed in as the user with a bearer token, as a phone would be."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def admin_client_as(user: User) -> Client:
    """A browser session signed in as the user, for the admin (no sign-in form: not what these tests test)."""
    client = Client()
    client.force_login(user)
    return client


def prescribe(patient: Patient, created_by: User | None = None, **overrides: object) -> Regimen:
    """A twice-daily tacrolimus 0.1% regimen through the service, so its reminder schedules exist.

    `created_by` defaults to the patient's own login: pass the caregiver for a child (and `strength="0.03"`,
    the child's label strength).
    """
    values: dict[str, object] = {
        "drug": "tacrolimus",
        "strength": "0.1",
        "phase": "treatment",
        "body_areas": ["face", "neck"],
        "times": ["08:00", "20:00"],
        "weekdays": list(ALL_WEEKDAYS),
        "start_date": datetime.date(2026, 11, 1),
    }
    values.update(overrides)
    author = created_by or patient.user
    assert author is not None, "a child's regimen needs created_by (their caregiver or dermatologist)"
    return services.regimen_prescribe(patient=patient, created_by=author, **values)


def regimen_row(patient: Patient, **overrides: object) -> Regimen:
    """A twice-daily tacrolimus 0.1% regimen saved straight to the table: no service, so no reminder schedules,
    no follow-up task. For tests of logs, adherence and pages that need a regimen to point at, not its reminders.
    """
    values: dict[str, object] = {
        "drug": "tacrolimus",
        "strength": "0.1",
        "phase": "treatment",
        "body_areas": ["face", "neck", "hand_left"],
        "times": ["08:00", "20:00"],
        "weekdays": list(ALL_WEEKDAYS),
        "start_date": datetime.date(2026, 10, 1),
        "created_by": patient.user,
    }
    values.update(overrides)
    return Regimen.objects.create(patient=patient, **values)
