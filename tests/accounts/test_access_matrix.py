"""Every patient route x {patient, caregiver, other patient, other caregiver, assigned and
unassigned dermatologist, anonymous} → the expected status. Add a route with one line in ROUTES."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Role
from tests.access import ACT, ACTORS, READ, Route, World, fresh_join_code
from tests.factories import (
    CaregiverFactory,
    CareTeamMembershipFactory,
    DependentFactory,
    DermatologistFactory,
    PatientFactory,
)

ROUTES = [
    Route("GET", "/api/v1/patients/{patient}/", READ),
    Route("PATCH", "/api/v1/patients/{patient}/", ACT, body=lambda world: {"first_name": "Renamed"}),
    Route(
        "POST",
        "/api/v1/care-team/join/",
        ACT,
        body=fresh_join_code,
        # Clinicians never join care teams by code: refused by role before the patient is looked up.
        overrides=(("unassigned_dermatologist", 403),),
    ),
]


@pytest.fixture
def world(db: None) -> World:
    caregiver = CaregiverFactory()
    patient = PatientFactory(user__role=Role.PATIENT)
    patient.caregivers.add(caregiver)  # a teenager with a login of their own and a parent
    dermatologist = DermatologistFactory()
    CareTeamMembershipFactory(patient=patient, clinician=dermatologist)

    other_patient = PatientFactory()
    other_dependent = DependentFactory()
    unassigned_dermatologist = DermatologistFactory()
    CareTeamMembershipFactory(patient=other_patient, clinician=unassigned_dermatologist)

    return World(
        patient=patient,
        dermatologist=dermatologist,
        users={
            "patient": patient.user,
            "caregiver": caregiver,
            "other_patient": other_patient.user,
            "other_caregiver": other_dependent.caregivers.get(),
            "assigned_dermatologist": dermatologist,
            "unassigned_dermatologist": unassigned_dermatologist,
            "anonymous": None,
        },
        extra={
            "joining_dermatologist": DermatologistFactory(),
            "code_expires_at": timezone.now() + datetime.timedelta(minutes=30),
        },
    )


def client_for(world: World, actor: str) -> APIClient:
    client = APIClient()
    user = world.users[actor]
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
def test_route_answers_each_caller_as_expected(world: World, route: Route, actor: str) -> None:
    client = client_for(world, actor)
    body = route.body(world) if route.body else None
    path = route.path.format(patient=world.patient.pk)

    response = client.generic(route.method, path, data=_json(body), content_type="application/json")

    assert response.status_code == route.status_for(actor), response.content
    assert response["Content-Type"].startswith("application/json") or response.status_code == 204


@pytest.mark.parametrize("route", [route for route in ROUTES if "{patient}" in route.path], ids=lambda r: r.id)
def test_an_unknown_patient_id_is_a_404_like_someone_elses(world: World, route: Route) -> None:
    client = client_for(world, "patient")
    body = route.body(world) if route.body else None
    path = route.path.format(patient="00000000-0000-4000-8000-000000000000")

    response = client.generic(route.method, path, data=_json(body), content_type="application/json")

    assert response.status_code == 404


def _json(body: dict | None) -> str:
    import json

    return json.dumps(body) if body is not None else ""
