"""Issue #3's figures: a 500-item sync, and adherence over a year of twice-daily logs.

Import only after `bench.environment.prepare()`: this module loads models. Every row it writes
belongs to users under BENCH_EMAIL_DOMAIN and is deleted at the end (and at the start, should an
earlier run have been interrupted), so reruns start from the same database.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.test import Client
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Condition, Patient, Role, User
from bench.measure import Benchmark, Goal
from tracking import selectors
from tracking.models import Application, PoemEntry, Regimen, SkinCheck, Symptom
from tracking.models.regimens import ALL_WEEKDAYS
from tracking.selectors import AdherenceReport

BENCH_EMAIL_DOMAIN = "tacro-bench.invalid"
ZONE = "Asia/Qatar"  # the AD patient persona's zone (tests/personas.py)
DOSE_TIMES = (datetime.time(8, 0), datetime.time(20, 0))
LOGGED_AT = (datetime.time(8, 5), datetime.time(20, 5))  # five minutes after each dose time
ADHERENCE_DAYS = 365
SYNC_ONLY_APPLICATIONS = {"applications": 500}
SYNC_MIXED = {"applications": 200, "symptoms": 200, "poem": 50, "skin_checks": 50}
SYNC_GOAL = Goal(seconds=1.0, label="1 s")
ADHERENCE_GOAL = Goal(seconds=0.050, label="50 ms", max_queries=5)


class ApiResponse(Protocol):
    """What the checks read of a test client's response."""

    status_code: int

    def json(self) -> Any: ...


# --- Fixtures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixtures:
    sync_patient: Patient
    sync_client: Client
    adherence_patient: Patient
    adherence_client: Client
    first: datetime.date  # the adherence span, ADHERENCE_DAYS local dates
    last: datetime.date


def make_patient(label: str) -> Patient:
    """A patient with a login of their own (no usable password: the bench signs in with a JWT)."""
    user = User.objects.create_user(
        email=f"{label}-{uuid.uuid4().hex[:12]}@{BENCH_EMAIL_DOMAIN}",
        password=None,
        role=Role.PATIENT,
        first_name="Bench",
        last_name=label,
    )
    return Patient.objects.create(
        user=user,
        first_name="Bench",
        last_name=label,
        birth_date=datetime.date(1990, 5, 17),
        timezone=ZONE,
        condition=Condition.ATOPIC_DERMATITIS,
    )


def make_regimen(patient: Patient, start_date: datetime.date) -> Regimen:
    """One twice-daily treatment regimen, as tests/personas.py's regimen_row makes it."""
    return Regimen.objects.create(
        patient=patient,
        drug="tacrolimus",
        strength="0.1",
        phase="treatment",
        body_areas=["face", "neck", "hand_left"],
        times=[moment.strftime("%H:%M") for moment in DOSE_TIMES],
        weekdays=list(ALL_WEEKDAYS),
        start_date=start_date,
        created_by=patient.user,
    )


def client_for(user: User) -> Client:
    """Django's test client, in-process, signed in the way the app is: `Authorization: Bearer <access>`."""
    access = RefreshToken.for_user(user).access_token
    return Client(headers={"authorization": f"Bearer {access}"})


def make_fixtures() -> Fixtures:
    sync_patient = make_patient("sync")
    today = sync_patient.local_today()
    # Long enough ago to cover every timestamp the sync bodies send (500 twelve-hour steps back).
    make_regimen(sync_patient, today - datetime.timedelta(days=400))

    adherence_patient = make_patient("adherence")
    first = today - datetime.timedelta(days=ADHERENCE_DAYS)
    last = today - datetime.timedelta(days=1)
    regimen = make_regimen(adherence_patient, first)
    zone = ZoneInfo(ZONE)
    Application.objects.bulk_create(
        Application(
            patient=adherence_patient,
            regimen=regimen,
            applied_at=datetime.datetime.combine(first + datetime.timedelta(days=offset), at, zone),
            body_areas=regimen.body_areas,
            fingerprint="bench-fixture",
            created_by=adherence_patient.user,
        )
        for offset in range(ADHERENCE_DAYS)
        for at in LOGGED_AT
    )
    assert adherence_patient.user is not None  # noqa: S101 - make_patient gives every patient a login
    assert sync_patient.user is not None  # noqa: S101
    return Fixtures(
        sync_patient=sync_patient,
        sync_client=client_for(sync_patient.user),
        adherence_patient=adherence_patient,
        adherence_client=client_for(adherence_patient.user),
        first=first,
        last=last,
    )


def delete_bench_rows() -> int:
    """Delete everything the bench made (logs first: regimens and users are protected); patients deleted."""
    users = User.objects.filter(email__endswith=f"@{BENCH_EMAIL_DOMAIN}")
    patients = Patient.objects.filter(user__in=users)
    for model in (Symptom, PoemEntry, SkinCheck, Application):
        model._default_manager.filter(patient__in=patients).delete()
    Regimen.objects.filter(patient__in=patients).delete()
    deleted, _by_model = patients.delete()
    OutstandingToken.objects.filter(user__in=users).delete()
    users.delete()
    return deleted


@contextmanager
def bench_data() -> Iterator[Fixtures]:
    delete_bench_rows()  # leftovers of an interrupted run
    try:
        yield make_fixtures()
    finally:
        delete_bench_rows()


# --- Sync -----------------------------------------------------------------------------------------


def sync_body(counts: Mapping[str, int]) -> bytes:
    """A sync body with fresh ids: `counts` items per kind, twelve hours apart, on the patient's clock.

    Applications leave their regimen out (the server finds the one active that day); every other
    symptom links to an application of the same batch.
    """
    zone = ZoneInfo(ZONE)
    latest = timezone.now().astimezone(zone).replace(second=0, microsecond=0) - datetime.timedelta(hours=1)

    def at(step: int) -> str:
        return (latest - step * datetime.timedelta(hours=12)).isoformat()

    applications = [
        {"id": str(uuid.uuid4()), "applied_at": at(step), "body_areas": ["face", "neck"], "amount_ftu": "1.5"}
        for step in range(counts.get("applications", 0))
    ]
    symptoms = [
        {
            "id": str(uuid.uuid4()),
            "recorded_at": at(step),
            "burning": step % 4,
            "itch": step % 11,
            "flare_severity": step % 5,
            "body_areas": ["face"],
            **({"application": applications[step]["id"]} if step % 2 == 0 and step < len(applications) else {}),
        }
        for step in range(counts.get("symptoms", 0))
    ]
    poem = [
        {"id": str(uuid.uuid4()), "recorded_at": at(step), "answers": [(step + item) % 5 for item in range(7)]}
        for step in range(counts.get("poem", 0))
    ]
    skin_checks = [
        {"id": str(uuid.uuid4()), "performed_at": at(step), "performed_by": "self", "concerning": False}
        for step in range(counts.get("skin_checks", 0))
    ]
    kinds: dict[str, list[dict[str, Any]]] = {
        "applications": applications,
        "symptoms": symptoms,
        "poem": poem,
        "skin_checks": skin_checks,
    }
    return json.dumps({key: items for key, items in kinds.items() if key in counts}).encode()


def check_sync(counts: Mapping[str, int]) -> Callable[[ApiResponse], None]:
    def check(response: ApiResponse) -> None:
        if response.status_code != 200:
            raise AssertionError(f"sync answered {response.status_code}: {response.json()}")
        answer = response.json()
        for key, count in counts.items():
            statuses = [item["status"] for item in answer.get(key, [])]
            if len(statuses) != count or set(statuses) != {"created"}:
                raise AssertionError(f"sync {key}: expected {count} created, got {statuses[:5]}... ({len(statuses)})")

    return check


def sync_benchmark(name: str, fixtures: Fixtures, counts: Mapping[str, int]) -> Benchmark[bytes, ApiResponse]:
    url = f"/api/v1/patients/{fixtures.sync_patient.pk}/sync/"

    def post(body: bytes) -> ApiResponse:
        # secure=True: production settings redirect plain HTTP to HTTPS.
        return fixtures.sync_client.post(url, data=body, content_type="application/json", secure=True)

    return Benchmark(
        name=name, prepare=lambda: sync_body(counts), action=post, check=check_sync(counts), goal=SYNC_GOAL
    )


# --- Adherence ------------------------------------------------------------------------------------

EXPECTED_DOSES = ADHERENCE_DAYS * len(DOSE_TIMES)


def check_totals(expected: int, logged: int, days: int) -> None:
    if (expected, logged, days) != (EXPECTED_DOSES, EXPECTED_DOSES, ADHERENCE_DAYS):
        raise AssertionError(
            f"adherence: expected/logged/days {expected}/{logged}/{days}, "
            f"not {EXPECTED_DOSES}/{EXPECTED_DOSES}/{ADHERENCE_DAYS}"
        )


def adherence_api_benchmark(fixtures: Fixtures) -> Benchmark[None, ApiResponse]:
    url = f"/api/v1/patients/{fixtures.adherence_patient.pk}/adherence/"
    query = {"from": fixtures.first.isoformat(), "to": fixtures.last.isoformat()}

    def get(_payload: None) -> ApiResponse:
        return fixtures.adherence_client.get(url, query, secure=True)

    def check(response: ApiResponse) -> None:
        if response.status_code != 200:
            raise AssertionError(f"adherence answered {response.status_code}: {response.json()}")
        answer = response.json()
        check_totals(answer["expected_doses"], answer["logged_doses"], len(answer["days"]))

    return Benchmark(
        name=f"Adherence, {ADHERENCE_DAYS} days, {EXPECTED_DOSES} logs: full GET request",
        prepare=lambda: None,
        action=get,
        check=check,
        goal=ADHERENCE_GOAL,
    )


def adherence_selector_benchmark(fixtures: Fixtures) -> Benchmark[None, AdherenceReport]:
    patient = fixtures.adherence_patient

    def select(_payload: None) -> AdherenceReport:
        return selectors.adherence_for(patient, first=fixtures.first, last=fixtures.last)

    def check(report: AdherenceReport) -> None:
        check_totals(report.expected_doses, report.logged_doses, len(report.days))

    return Benchmark(
        name=f"Adherence, {ADHERENCE_DAYS} days, {EXPECTED_DOSES} logs: selector `adherence_for` alone",
        prepare=lambda: None,
        action=select,
        check=check,
        goal=ADHERENCE_GOAL,
    )


def benchmarks(fixtures: Fixtures) -> dict[str, Benchmark[Any, Any]]:
    """Every benchmark by the key `--only` and `--profile` take, in table order."""
    mixed = " + ".join(f"{count} {key}" for key, count in SYNC_MIXED.items())
    return {
        "sync": sync_benchmark("Sync, 500 applications: full POST request", fixtures, SYNC_ONLY_APPLICATIONS),
        "mixed": sync_benchmark(f"Sync, mixed 500 ({mixed}): full POST request", fixtures, SYNC_MIXED),
        "adherence": adherence_api_benchmark(fixtures),
        "selector": adherence_selector_benchmark(fixtures),
    }
