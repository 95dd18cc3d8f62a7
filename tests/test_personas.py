"""The shared personas are the world tests/personas.py says they are: who each one may see and act for."""

from __future__ import annotations

import pytest

from accounts.models import Condition, Patient, Role, User
from accounts.selectors import patients_actable_by, patients_visible_to
from tests.personas import World, client_as, prescribe

pytestmark = pytest.mark.django_db


def visible(user: User) -> set[Patient]:
    return set(patients_visible_to(user))


def test_each_persona_sees_whom_the_world_says(world: World) -> None:
    patients = {world.ad_patient, world.cle_patient, world.child}

    assert visible(world.dermatologist) == patients
    assert visible(world.clinic.staff) == patients
    assert visible(world.ad_patient.user) == {world.ad_patient}
    assert visible(world.cle_patient.user) == {world.cle_patient}
    assert visible(world.caregiver) == {world.child}
    assert visible(world.stranger) == set()
    assert not patients_actable_by(world.dermatologist).exists()


def test_the_personas_have_the_roles_conditions_and_zones_they_are_named_for(world: World) -> None:
    assert world.dermatologist.role == Role.DERMATOLOGIST
    assert world.clinic.staff.role == Role.CLINIC_STAFF
    assert world.stranger.role == Role.DERMATOLOGIST
    assert world.caregiver.role == Role.CAREGIVER
    assert world.ad_patient.condition == Condition.ATOPIC_DERMATITIS
    assert world.ad_patient.timezone == "Asia/Qatar"
    assert world.cle_patient.condition.startswith("cle_")
    assert world.cle_patient.timezone == "Europe/London"
    assert world.child.user is None
    assert world.child.age_on(world.child.birth_date.replace(year=2026)) < 16  # a child on the label


def test_a_persona_signs_in_to_the_api_and_a_prescription_makes_reminder_schedules(world: World) -> None:
    regimen = prescribe(world.ad_patient)

    response = client_as(world.ad_patient.user).get(f"/api/v1/patients/{world.ad_patient.pk}/reminders/")

    assert response.status_code == 200, response.content
    assert regimen.created_by == world.ad_patient.user
    assert response.json()["results"]
