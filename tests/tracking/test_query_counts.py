"""Query-count ceilings: every list under /patients/{patient}/ and the sync endpoint cost the same
number of queries whatever the number of rows (no query per row), and stay under a stated ceiling.

Each list is measured with 3 rows and again with 60 (more than a page of 50), so a per-row query,
a lazy foreign key or a per-row clock lookup would show as a difference.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Patient, PatientTimezoneChange
from tests.personas import regimen_row
from tests.tracking.conftest import base
from tests.tracking.test_logs import NOW, application_body, poem_body, skin_check_body, symptom_body
from tracking.models import Application, PoemEntry, Regimen, SkinCheck, Symptom

FEW, MANY = 3, 60


@pytest.fixture(autouse=True)
def frozen() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def moved_once(patient: Patient) -> None:
    # A zone history, so echoing times in the patient's zone has something to read.
    PatientTimezoneChange.objects.create(
        patient=patient, timezone="Europe/Paris", until=datetime.datetime(2026, 10, 15, tzinfo=datetime.UTC)
    )


def measure(client: APIClient, url: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(queries), response.json()


def hours_ago(hours: int) -> datetime.datetime:
    return NOW - datetime.timedelta(hours=hours)


# --- Row makers: each adds `count` more rows, varied so that a per-row lookup would show ----------------


def add_applications(patient: Patient, regimen: Regimen, start: int, count: int) -> list[Application]:
    ended = regimen_row(patient, start_date=datetime.date(2026, 9, 1), end_date=datetime.date(2026, 9, 30))
    return Application.objects.bulk_create(
        Application(
            patient=patient,
            regimen=ended if step % 3 == 0 else regimen,  # some outside their regimen's dates: a warning each
            applied_at=hours_ago(step),
            body_areas=["face", "leg_left"] if step % 2 else ["face"],  # some outside its areas: a warning each
            amount_ftu=Decimal("2.5") if step % 2 else None,
            fingerprint="f" * 64,
            created_by=patient.user,
        )
        for step in range(start, start + count)
    )


def add_symptoms(patient: Patient, regimen: Regimen, start: int, count: int) -> None:
    applications = add_applications(patient, regimen, start, count)
    Symptom.objects.bulk_create(
        Symptom(
            patient=patient,
            recorded_at=hours_ago(step),
            burning=step % 11,
            application=applications[step - start],
            fingerprint="f" * 64,
            created_by=patient.user,
        )
        for step in range(start, start + count)
    )


def add_poem(patient: Patient, regimen: Regimen, start: int, count: int) -> None:
    PoemEntry.objects.bulk_create(
        PoemEntry(
            patient=patient,
            recorded_at=hours_ago(step),
            answers=[1] * 7,
            score=7,
            band="mild",
            fingerprint="f" * 64,
            created_by=patient.user,
        )
        for step in range(start, start + count)
    )


def add_skin_checks(patient: Patient, regimen: Regimen, start: int, count: int) -> None:
    SkinCheck.objects.bulk_create(
        SkinCheck(
            patient=patient,
            performed_at=hours_ago(step),
            performed_by="self",
            concerning=step % 2 == 0,
            fingerprint="f" * 64,
            created_by=patient.user,
        )
        for step in range(start, start + count)
    )


def add_regimens(patient: Patient, regimen: Regimen, start: int, count: int) -> None:
    # A chain of step-downs (each with a previous and a next) with tubes and logged doses.
    previous = Regimen.objects.filter(patient=patient).order_by("-start_date").first()
    for step in range(start, start + count):
        current = regimen_row(
            patient,
            start_date=datetime.date(2020, 1, 1) + datetime.timedelta(days=step),
            end_date=datetime.date(2020, 1, 1) + datetime.timedelta(days=step),
            tube_grams=30,
            previous=previous if previous is not None and previous.pk != regimen.pk else None,
        )
        Application.objects.create(
            patient=patient,
            regimen=current,
            applied_at=datetime.datetime(2020, 1, 1, 8, tzinfo=datetime.UTC) + datetime.timedelta(days=step),
            body_areas=["face"],
            amount_ftu=Decimal(1),
            fingerprint="f" * 64,
            created_by=patient.user,
        )
        previous = current


Maker = Callable[[Patient, Regimen, int, int], Any]

# (route, row maker, ceiling). Logs: authentication, the patient (who may see them), the page, and
# the zone history for echoing times. Regimens: the same without the zone history (no times echoed).
LISTS: list[tuple[str, Maker, int]] = [
    ("regimens", add_regimens, 3),
    ("applications", add_applications, 4),
    ("symptoms", add_symptoms, 4),
    ("poem", add_poem, 4),
    ("skin-checks", add_skin_checks, 4),
]


@pytest.mark.parametrize(("route", "add_rows", "ceiling"), LISTS, ids=[route for route, _, _ in LISTS])
def test_a_list_costs_the_same_queries_for_3_rows_as_for_60_and_stays_under_its_ceiling(
    route: str, add_rows: Maker, ceiling: int, regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    url = f"{base(patient)}{route}/"

    add_rows(patient, regimen, 0, FEW)
    few, few_page = measure(client, url)
    add_rows(patient, regimen, FEW, MANY - FEW)
    many, many_page = measure(client, url)

    assert len(few_page["results"]) >= FEW
    assert len(many_page["results"]) == 50  # a full page: the rows were really there to be read
    assert many == few
    assert many <= ceiling


def test_a_filtered_second_page_costs_no_more_than_the_first(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    add_applications(patient, regimen, 0, MANY)
    url = f"{base(patient)}applications/"

    first, page = measure(client, url, {"since": hours_ago(100).isoformat(), "page_size": 20})
    second, _ = measure(client, page["next"])

    assert first == second <= 4


def add_doses(patient: Patient, regimen: Regimen, count: int) -> None:
    """`count` doses at the regimen's slots, newest first from this morning, skipping 2026-11-10
    so the streak is broken inside the 28 days either way (a streak reaching back further costs one
    query per further 90 days, which is about history, not the number of rows)."""
    doses: list[datetime.datetime] = []
    day = datetime.date(2026, 11, 21)
    while len(doses) < count:
        if day != datetime.date(2026, 11, 10):
            for wall in ("20:00", "08:00"):
                moment = datetime.datetime.fromisoformat(f"{day}T{wall}:00+03:00")
                if moment <= NOW and len(doses) < count:
                    doses.append(moment)
        day -= datetime.timedelta(days=1)
    Application.objects.bulk_create(
        Application(
            patient=patient,
            regimen=regimen,
            applied_at=moment,
            body_areas=["face"],
            fingerprint="f" * 64,
            created_by=patient.user,
        )
        for moment in doses
    )


def test_adherence_costs_the_same_queries_for_3_doses_as_for_60_and_stays_under_its_ceiling(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    url = f"{base(patient)}adherence/"

    add_doses(patient, regimen, FEW)
    few, few_report = measure(client, url)
    Application.objects.all().delete()
    add_doses(patient, regimen, MANY)
    many, many_report = measure(client, url)

    assert few_report["logged_doses"] == FEW
    assert many_report["logged_doses"] == 2 * 28 - 1 - 2  # 28 days, this evening not yet due, one day missed
    # Authentication, the patient, the zone history, the regimens, the doses over the span.
    assert many == few
    assert many <= 5


# --- Sync --------------------------------------------------------------------------------------------


def batch(size: int) -> dict[str, list[dict[str, Any]]]:
    """`size` items over the four kinds, every symptom linked to an application in the batch."""
    quarter = size // 4
    minutes = [(NOW - datetime.timedelta(minutes=step)).isoformat() for step in range(size)]
    applications = [application_body(at=minutes[step]) for step in range(size - 3 * quarter)]
    return {
        "applications": applications,
        "symptoms": [symptom_body(at=minutes[step], application=applications[step]["id"]) for step in range(quarter)],
        "poem": [poem_body(at=minutes[step]) for step in range(quarter)],
        "skin_checks": [skin_check_body(at=minutes[step]) for step in range(quarter)],
    }


def sync_queries(client: APIClient, patient: Patient, body: dict[str, Any], expected: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"{base(patient)}sync/", body, format="json")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert {result["status"] for results in answer.values() for result in results} == {expected}
    assert sum(len(results) for results in answer.values()) == sum(len(items) for items in body.values())
    return len(queries)


def test_sync_costs_the_same_queries_for_10_items_as_for_200(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    small, large = batch(10), batch(200)

    created_small = sync_queries(client, patient, small, "created")
    created_large = sync_queries(client, patient, large, "created")
    replayed_small = sync_queries(client, patient, small, "duplicate")
    replayed_large = sync_queries(client, patient, large, "duplicate")

    assert created_small == created_large
    assert replayed_small == replayed_large
    # Authentication, the patient, "may act for" (3); then per kind the stored ids (1), building
    # (applications: regimens and zone history, 2; symptoms: the linked applications, 1), and for
    # new rows the INSERT within a savepoint (3) and the read-back (1): 3 + 7 + 6 + 5 + 5.
    assert created_large <= 26
    # A replay: the 3, the stored ids of each kind (4), and building applications (2).
    assert replayed_large <= 9
    sent = {key: len(small[key]) + len(large[key]) for key in small}
    assert Application.objects.count() == sent["applications"]
    assert Symptom.objects.filter(application__isnull=False).count() == sent["symptoms"]
    assert PoemEntry.objects.count() == sent["poem"]
    assert SkinCheck.objects.count() == sent["skin_checks"]


def test_sync_with_every_outcome_costs_the_same_queries_for_10_items_as_for_200(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    def mixed(size: int) -> dict[str, Any]:
        stored = [skin_check_body() for _ in range(size // 2)]
        client.post(f"{base(patient)}sync/", {"skin_checks": stored}, format="json")
        fresh = [skin_check_body() for _ in range(size // 2)]
        invalid = [skin_check_body(performed_by="neighbour") for _ in range(size // 4)]
        return {
            "skin_checks": [*stored, *fresh, *invalid, {**stored[0], "concerning": True}, {"id": str(uuid.uuid4())}]
        }

    small, large = mixed(10), mixed(200)
    with CaptureQueriesContext(connection) as small_queries:
        small_answer = client.post(f"{base(patient)}sync/", small, format="json").json()
    with CaptureQueriesContext(connection) as large_queries:
        large_answer = client.post(f"{base(patient)}sync/", large, format="json").json()

    for answer in (small_answer, large_answer):
        assert {result["status"] for result in answer["skin_checks"]} == {"created", "duplicate", "conflict", "invalid"}
    assert len(small_queries) == len(large_queries)
    assert len(large_queries) <= 8  # the 3, stored ids, the INSERT within a savepoint (3), the read-back
