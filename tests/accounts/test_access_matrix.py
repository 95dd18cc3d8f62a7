"""Every patient route x {patient, caregiver, other patient, other caregiver, assigned and
unassigned dermatologist, anonymous} → the expected status. Add a route with one line in ROUTES."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Patient, User
from tests.access import ACT, ACTORS, READ, BodyFactory, Route, World, fresh_join_code
from tests.factories import CaregiverFactory, CareTeamMembershipFactory, DermatologistFactory
from tests.personas import client_as, regimen_row
from tracking.models import Application, PoemEntry, SkinCheck, Symptom


def new_log(kind: str) -> BodyFactory:
    """A valid body with a fresh client id for one log type."""

    def body(world: World) -> dict[str, Any]:
        now = timezone.now().isoformat()
        return {"id": str(uuid.uuid4()), **LOG_BODIES[kind](now)}

    return body


LOG_BODIES: dict[str, Callable[[str], dict[str, Any]]] = {
    "applications": lambda now: {"applied_at": now, "body_areas": ["face"]},
    "symptoms": lambda now: {"recorded_at": now, "burning": 2},
    "poem": lambda now: {"recorded_at": now, "answers": [1, 1, 1, 1, 1, 1, 1]},
    "skin-checks": lambda now: {"performed_at": now, "performed_by": "self", "concerning": False},
}
CORRECTIONS: dict[str, dict[str, Any]] = {
    "applications": {"amount_ftu": 2},
    "symptoms": {"itch": 3},
    "poem": {"note": "a better week"},
    "skin-checks": {"note": "rechecked"},
}
# The patient logged the entries the detail routes name: only the creator corrects or deletes.
NOT_THE_CREATOR = (("caregiver", 403),)


def log_routes(kind: str) -> list[Route]:
    listing = f"/api/v1/patients/{{patient}}/{kind}/"
    detail = f"{listing}{{{kind}}}/"
    return [
        Route("GET", listing, READ),
        Route("POST", listing, ACT, body=new_log(kind), success=201),
        Route("GET", detail, READ),
        Route("PATCH", detail, ACT, body=lambda world: CORRECTIONS[kind], overrides=NOT_THE_CREATOR),
        Route("DELETE", detail, ACT, success=204, overrides=NOT_THE_CREATOR),
    ]


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
    Route("GET", "/api/v1/patients/{patient}/regimens/", READ),
    Route(
        "POST",
        "/api/v1/patients/{patient}/regimens/",
        ACT,
        body=lambda world: {
            "drug": "pimecrolimus",
            "strength": "1",
            "body_areas": ["face"],
            "times": ["09:00"],
            "start_date": "2026-11-01",
        },
        success=201,
    ),
    Route("GET", "/api/v1/patients/{patient}/regimens/{regimen}/", READ),
    Route("PATCH", "/api/v1/patients/{patient}/regimens/{regimen}/", ACT, body=lambda world: {"tube_grams": 60}),
    Route(
        "POST",
        "/api/v1/patients/{patient}/regimens/{regimen}/step-down/",
        ACT,
        body=lambda world: {"strength": "0.03"},
        success=201,
    ),
    *(route for kind in LOG_BODIES for route in log_routes(kind)),
    Route(
        "POST",
        "/api/v1/patients/{patient}/sync/",
        ACT,
        body=lambda world: {"applications": [new_log("applications")(world)], "poem": [new_log("poem")(world)]},
    ),
    Route("GET", "/api/v1/patients/{patient}/adherence/", READ),
    Route("GET", "/api/v1/patients/{patient}/reminders/", READ),
    Route("POST", "/api/v1/patients/{patient}/reminders/", ACT, body=lambda world: {"kind": "dose", "enabled": False}),
    Route("GET", "/api/v1/patients/{patient}/reminders/dose/", READ),
    Route("PATCH", "/api/v1/patients/{patient}/reminders/poem/", ACT, body=lambda world: {"channels": ["inbox"]}),
]


@pytest.fixture
def world(ad_patient: Patient, cle_patient: Patient, caregiver: User, child: Patient, stranger: User) -> World:
    """The shared personas (tests/personas.py) around the AD patient, with two additions the matrix needs."""
    patient = ad_patient
    parent = CaregiverFactory()
    patient.caregivers.add(parent)  # a teenager with a login of their own and a parent
    dermatologist = patient.care_team.get()
    # A dermatologist with patients of their own, none of them this one: a care-team row must not leak.
    unassigned_dermatologist = DermatologistFactory()
    CareTeamMembershipFactory(patient=cle_patient, clinician=unassigned_dermatologist)

    regimen = regimen_row(patient, start_date=datetime.date(2026, 1, 1))
    now = timezone.now()
    logged = {
        "applications": Application.objects.create(
            patient=patient, regimen=regimen, applied_at=now, body_areas=["face"], created_by=patient.user
        ),
        "symptoms": Symptom.objects.create(patient=patient, recorded_at=now, burning=3, created_by=patient.user),
        "poem": PoemEntry.objects.create(
            patient=patient, recorded_at=now, answers=[1] * 7, score=7, band="mild", created_by=patient.user
        ),
        "skin-checks": SkinCheck.objects.create(
            patient=patient, performed_at=now, performed_by="self", concerning=False, created_by=patient.user
        ),
    }

    return World(
        patient=patient,
        dermatologist=dermatologist,
        users={
            "patient": patient.user,
            "caregiver": parent,
            "other_patient": cle_patient.user,
            "other_caregiver": caregiver,  # `child` is their dependent; this patient is not
            "assigned_dermatologist": dermatologist,
            "unassigned_dermatologist": unassigned_dermatologist,
            "anonymous": None,
        },
        extra={
            "joining_dermatologist": stranger,
            "code_expires_at": timezone.now() + datetime.timedelta(minutes=30),
        },
        ids={"regimen": str(regimen.pk), **{kind: str(entry.pk) for kind, entry in logged.items()}},
    )


def client_for(world: World, actor: str) -> APIClient:
    user = world.users[actor]
    return APIClient() if user is None else client_as(user)


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.id)
def test_route_answers_each_caller_as_expected(world: World, route: Route, actor: str) -> None:
    client = client_for(world, actor)
    body = route.body(world) if route.body else None
    path = world.path(route)

    response = client.generic(route.method, path, data=_json(body), content_type="application/json")

    assert response.status_code == route.status_for(actor), response.content
    assert response.status_code == 204 or response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("route", [route for route in ROUTES if "{patient}" in route.path], ids=lambda r: r.id)
def test_an_unknown_patient_id_is_a_404_like_someone_elses(world: World, route: Route) -> None:
    client = client_for(world, "patient")
    body = route.body(world) if route.body else None
    path = world.path(route, patient_id="00000000-0000-4000-8000-000000000000")

    response = client.generic(route.method, path, data=_json(body), content_type="application/json")

    assert response.status_code == 404


def _json(body: dict | None) -> str:
    import json

    return json.dumps(body) if body is not None else ""
