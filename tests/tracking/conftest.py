"""Fixtures for the tracking tests: a patient with a login and an active twice-daily regimen."""

from __future__ import annotations

import datetime

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Patient, User
from tests.factories import PatientFactory
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
