"""Fixtures for the tracking tests: the AD patient persona (tests/personas.py) with an active twice-daily regimen."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
import time_machine
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from accounts.models import Patient
from tests.personas import client_as, regimen_row
from tests.tracking.peers import SmtpServer, VapidKeys, WebPushReceiver, make_vapid_keys, use_smtp_server
from tests.workers import real_worker
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


# --- Web Push against a local receiver (tests/tracking/peers.py) ---------------------------------------


@pytest.fixture
def vapid_keys(settings: Settings) -> VapidKeys:
    """A fresh VAPID key pair in the settings, as `make run` would configure one."""
    keys = make_vapid_keys()
    settings.WEBPUSH_VAPID_PRIVATE_KEY = keys.private_key
    settings.WEBPUSH_VAPID_PUBLIC_KEY = keys.public_key
    settings.WEBPUSH_VAPID_SUBJECT = "mailto:care-team@example.org"
    return keys


@pytest.fixture
def loopback_push_service(settings: Settings) -> None:
    """What lets a local receiver stand in for a push service: `localhost` allowed, and the test switch."""
    settings.WEBPUSH_ALLOWED_HOSTS = ["localhost"]
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True


@pytest.fixture
def push_receiver(loopback_push_service: None) -> Iterator[WebPushReceiver]:
    with WebPushReceiver() as receiver:
        yield receiver


# --- Real peers: a Celery worker on Redis, an SMTP server on loopback ----------------------------------


@pytest.fixture
def redis_worker(redis_url: str) -> Iterator[None]:
    """A real Celery worker on the test Redis, in a thread, for the test."""
    with real_worker(redis_url, {}):
        yield


@pytest.fixture
def smtp_server(settings: Settings) -> Iterator[SmtpServer]:
    """A real SMTP server on loopback that Django's mail sends to; `.received` holds what arrived."""
    with SmtpServer() as server:
        use_smtp_server(settings, server.host, server.port)
        yield server
