"""A log's id stored by someone else between `logs_record`'s read of stored ids and its INSERT.

The usual write is one INSERT with no read to confirm it; only when the INSERT finds an id taken
is it redone skipping taken ids, and the winners read. These tests make the race happen for real:
the competing row is committed from inside the service, after its first read (the "build" step).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Patient
from tests.personas import client_as, regimen_row
from tests.tracking.conftest import base
from tests.tracking.test_logs import NOW, application_body
from tracking import services
from tracking.models import Application, Regimen

# Time runs (tick): the competing row and ours must not share a creation instant.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def running_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


def race(monkeypatch: pytest.MonkeyPatch, competitor: Callable[[], None]) -> None:
    """Run `competitor` (committed at once: autocommit) after the service read the stored ids."""
    kind = services.LOG_KINDS[Application]

    def build(patient: Patient, items: list[dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        competitor()
        return kind.build(patient, items)

    monkeypatch.setitem(services.LOG_KINDS, Application, replace(kind, build=build))


def stored_copy(patient: Patient, regimen: Regimen, body: dict[str, Any], **changes: Any) -> Callable[[], None]:
    """What the same client's other request would store for `body` (with `changes`)."""

    def store() -> None:
        values = {**services.LOG_KINDS[Application].optional, **body, **changes}
        values["applied_at"] = datetime.datetime.fromisoformat(values["applied_at"])
        values["id"] = uuid.UUID(values["id"])
        values["amount_ftu"] = Decimal(str(values["amount_ftu"]))
        Application.objects.create(
            patient=patient,
            regimen=regimen,
            created_by=patient.user,
            fingerprint=services.fingerprint({**values, "regimen": None}),
            **{name: value for name, value in values.items() if name != "regimen"},
        )

    return store


def test_the_same_log_stored_meanwhile_is_a_duplicate_stored_once(
    monkeypatch: pytest.MonkeyPatch, patient: Patient, regimen: Regimen, client: APIClient
) -> None:
    body = application_body()
    race(monkeypatch, stored_copy(patient, regimen, body))

    response = client.post(f"{base(patient)}applications/", body, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["id"] == body["id"]
    assert Application.objects.filter(pk=body["id"]).count() == 1


def test_other_content_stored_meanwhile_under_the_id_is_a_conflict_showing_what_is_kept(
    monkeypatch: pytest.MonkeyPatch, patient: Patient, regimen: Regimen, client: APIClient
) -> None:
    body = application_body()
    race(monkeypatch, stored_copy(patient, regimen, body, note="the other request's note"))

    response = client.post(f"{base(patient)}applications/", body, format="json")

    assert response.status_code == 409, response.content
    assert response.json()["stored"]["note"] == "the other request's note"
    assert Application.objects.get(pk=body["id"]).note == "the other request's note"


def test_an_id_taken_meanwhile_by_another_patient_is_a_conflict_that_reveals_nothing(
    monkeypatch: pytest.MonkeyPatch, patient: Patient, regimen: Regimen, client: APIClient, cle_patient: Patient
) -> None:
    body = application_body()
    race(monkeypatch, stored_copy(cle_patient, regimen_row(cle_patient), body, note="the cle_patient's"))

    response = client.post(f"{base(patient)}applications/", body, format="json")

    assert response.status_code == 409, response.content
    assert "stored" not in response.json()
    assert Application.objects.get(pk=body["id"]).patient_id == cle_patient.pk


def test_in_a_batch_only_the_id_taken_meanwhile_is_not_ours_and_the_rest_is_stored(
    monkeypatch: pytest.MonkeyPatch, patient: Patient, regimen: Regimen, client: APIClient
) -> None:
    bodies = [application_body(f"2026-11-{day}T08:05:00+03:00") for day in (19, 20, 21)]
    race(monkeypatch, stored_copy(patient, regimen, bodies[1], note="written elsewhere"))

    response = client.post(f"{base(patient)}sync/", {"applications": bodies}, format="json")

    assert response.status_code == 200, response.content
    assert [item["status"] for item in response.json()["applications"]] == ["created", "conflict", "created"]
    assert Application.objects.filter(patient=patient).count() == 3
    assert Application.objects.get(pk=bodies[1]["id"]).note == "written elsewhere"


def test_a_single_new_log_is_one_insert_with_no_read_to_confirm_it(
    patient: Patient, regimen: Regimen, django_assert_num_queries: Any
) -> None:
    """JWT user, the patient (and whether the caller may act), the zone history, stored ids,
    regimens, the INSERT: the service's answer needs no more, whatever the request."""
    client = client_as(patient.user)
    client.post(f"{base(patient)}applications/", application_body(), format="json")  # warm: no first-use reads

    with django_assert_num_queries(6):
        response = client.post(f"{base(patient)}applications/", application_body(), format="json")

    assert response.status_code == 201
