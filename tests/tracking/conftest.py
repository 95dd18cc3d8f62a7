"""Fixtures for the tracking tests: a patient with a login and an active twice-daily regimen."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
import time_machine
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Patient, User
from tests.factories import PatientFactory
from tracking import services
from tracking.models import Regimen
from tracking.models.regimens import ALL_WEEKDAYS


def client_as(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def make_regimen(patient: Patient, **overrides: object) -> Regimen:
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


@pytest.fixture
def patient(db: None) -> Patient:
    return PatientFactory(timezone="Asia/Qatar")


@pytest.fixture
def regimen(patient: Patient) -> Regimen:
    return make_regimen(patient)


@pytest.fixture
def client(patient: Patient) -> APIClient:
    return client_as(patient.user)


def base(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.pk}/"


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def prescribe(patient: Patient, created_by: User | None = None, **overrides: object) -> Regimen:
    """A twice-daily tacrolimus 0.1% regimen through the service, so its reminder schedules exist."""
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
    assert author is not None
    return services.regimen_prescribe(patient=patient, created_by=author, **values)


@pytest.fixture
def frozen() -> Iterator[object]:
    """Saturday 21 November 2026, 09:00 in Qatar."""
    with time_machine.travel(at("2026-11-21T09:00:00+03:00"), tick=False) as traveller:
        yield traveller
