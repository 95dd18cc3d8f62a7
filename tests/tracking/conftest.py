"""Fixtures for the tracking tests: the AD patient persona (tests/personas.py) with an active twice-daily regimen."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Patient
from tests.personas import client_as, regimen_row
from tracking.models import Regimen


@pytest.fixture
def patient(ad_patient: Patient) -> Patient:
    """Amira, the adult AD patient with a login in Asia/Qatar (UTC+3, no DST), on the clinic's care team."""
    return ad_patient


@pytest.fixture
def regimen(patient: Patient) -> Regimen:
    return regimen_row(patient)


@pytest.fixture
def client(patient: Patient) -> APIClient:
    return client_as(patient.user)


def base(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.pk}/"


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


@pytest.fixture
def frozen() -> Iterator[object]:
    """Saturday 21 November 2026, 09:00 in Qatar."""
    with time_machine.travel(at("2026-11-21T09:00:00+03:00"), tick=False) as traveller:
        yield traveller
