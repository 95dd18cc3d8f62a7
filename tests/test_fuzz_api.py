"""Fuzz every API operation against the OpenAPI schema at /api/schema/, signed in as a demo patient.

schemathesis reads the schema from the WSGI app in-process (no server) and, for each operation,
sends the schema's boundary values and invalid shapes (its coverage phase) and then
`FUZZ_EXAMPLES` generated requests, valid and invalid, from a fixed seed, so CI runs the same
requests every time. Path parameters mostly name the demo clinic's real objects, so requests
reach the views' real code and not only the 404 for an unknown id.

A request fails the test when the answer is a 5xx, or one the schema does not describe: an
undocumented status code or content type, a body off its documented schema, or a documented
header missing or malformed.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.db.models import QuerySet
from django.test import override_settings
from pytest_django import DjangoDbBlocker
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Patient, User
from tracking.models import Application, Notification, PoemEntry, Regimen, Schedule, SkinCheck, Symptom
from tracking.notifications import services as notifications
from tracking.reminders import sweep as reminder_sweep

# Generated requests per operation, on top of the coverage phase's: 35-75 s in all on two cores.
FUZZ_EXAMPLES = 20
DEMO_LOGIN = "amira@demo.example"

# Read when the module is collected; the schema view needs no database.
SCHEMA = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    WSGIHandler(),
    config=schemathesis.Config.from_dict(
        {
            # The same requests on every run: a fixed seed (each operation derives its own from it), and
            # no example database carrying failures over from an earlier run.
            "seed": 20261121,
            "generation": {
                "max-examples": FUZZ_EXAMPLES,
                "database": "none",
                # The test signs every request in itself (below); a generated token would only be a 401.
                "with-security-parameters": False,
            },
        }
    ),
)

# A 5xx, and the four ways an answer can leave the documented contract (the headers check bites where
# the schema documents a header: Retry-After on a 429). Not negative_data_rejection: DRF coerces on
# purpose (0 to "0" for a string, a blank query value as absent), so it would fail on accepted input
# the API means to accept; nor positive_data_acceptance: well-formed requests meet clinical rules.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@dataclass(frozen=True)
class DemoClinic:
    """The demo patient's token and the ids of what the demo clinic holds, by path parameter."""

    token: str
    patient: list[str]
    regimen: list[str]
    logs: dict[str, list[str]]  # by the route's segment: "applications", "symptoms", ...
    notification: list[str]
    device: list[str]

    def real_values(self, parameter: str, path: str) -> list[str]:
        if parameter == "log_id":
            segment = path.split("/")[5]  # /api/v1/patients/{patient_id}/<segment>/{log_id}/
            return self.logs[segment]
        return {
            "patient_id": self.patient,
            "regimen_id": self.regimen,
            "notification_id": self.notification,
            "device_id": self.device,
        }.get(parameter, [])


def ids(queryset: QuerySet[Any]) -> list[str]:
    return [str(pk) for pk in queryset.values_list("pk", flat=True)]


@pytest.fixture(scope="module")
def demo_clinic(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[DemoClinic]:
    """Seeded once for the module, inside a transaction rolled back at the end; each operation's
    test runs in a savepoint inside it, so every operation starts from the same clinic."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=StringIO())
        user = User.objects.get(email=DEMO_LOGIN)
        patient = Patient.objects.get(user=user)
        # Sweep when each of her reminders is next due, so her inbox holds some to ack and snooze.
        schedules = Schedule.objects.filter(patient=patient, next_fire_at__isnull=False).order_by("next_fire_at")
        for due in list(schedules.values_list("next_fire_at", flat=True)):
            notifications.occurrences_deliver(reminder_sweep.sweep(now=due).pending_ids, now=due)
        notifications.device_register(user=user, platform="fcm", token="demo-fcm-token")
        demo = DemoClinic(
            token=str(AccessToken.for_user(user)),
            patient=[str(patient.pk)],
            regimen=ids(Regimen.objects.filter(patient=patient)),
            logs={
                segment: ids(model.objects.filter(patient=patient).order_by("-created_at")[:5])
                for segment, model in (
                    ("applications", Application),
                    ("symptoms", Symptom),
                    ("poem", PoemEntry),
                    ("skin-checks", SkinCheck),
                )
            },
            notification=ids(Notification.objects.filter(recipient=user)[:5]),
            device=ids(user.devices.all()),
        )
        # Each kind of path parameter must have something real to name, or its operations only ever 404.
        assert all([demo.patient, demo.regimen, *demo.logs.values(), demo.notification, demo.device])
        yield demo
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def unthrottled() -> Iterator[None]:
    """Throttle rates far above what the fuzzer sends, so it reaches the views and not a 429.

    The project's throttles read REST_FRAMEWORK's rates on each request; DRF's own (the care-team
    join's ScopedRateThrottle) read a dict bound at import, which is replaced as well.
    """
    raised = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "100000/minute")
    rest_framework = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": raised}
    with override_settings(REST_FRAMEWORK=rest_framework), pytest.MonkeyPatch.context() as patch:
        patch.setattr(SimpleRateThrottle, "THROTTLE_RATES", raised)
        yield


@pytest.fixture(scope="module")
def connection_kept() -> Iterator[None]:
    """As Django's test client does: the app must not close the database connection, and with it the
    test's transaction, when a request starts or finishes (autocommit is off inside the test)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def aim_at_demo_objects(case: schemathesis.Case, demo: DemoClinic) -> None:
    """Point generated ids at the demo clinic's objects, so requests reach the views' code (a reminder's
    `kind` needs no help: the schema lists its values).

    Path parameters, and the references in bodies (`regimen`, `application`, `patient`), sync
    batches included. The coverage phase always names real objects (it varies bodies and queries
    around one fixed id); a generated request does three times in four, choosing by the generated
    value so that it replays and shrinks the same way, and the fourth is an unknown id. Values the
    schema rejects (negative cases) are left as they are.
    """
    always = case.meta is not None and case.meta.phase.name == TestPhase.COVERAGE
    for name, value in list((case.path_parameters or {}).items()):
        case.path_parameters[name] = aim(value, demo.real_values(name, case.operation.path), always)
    aim_body(case.body, demo, always)


def aim_body(body: object, demo: DemoClinic, always: bool) -> None:
    references = {"regimen": demo.regimen, "application": demo.logs["applications"], "patient": demo.patient}
    if isinstance(body, list):
        for item in body:
            aim_body(item, demo, always)
    elif isinstance(body, dict):
        for name, value in body.items():
            if name in references:
                body[name] = aim(value, references[name], always)
            else:
                aim_body(value, demo, always)


def aim(value: object, real: list[str], always: bool) -> object:
    """One of `real`, chosen by the generated value; the value itself when it is not a UUID as the
    schema spells one (a negative case)."""
    if not real or not isinstance(value, str) or not is_uuid(value):
        return value
    digest = zlib.crc32(value.encode())
    return real[digest % len(real)] if always or digest % 4 else value


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


@pytest.mark.django_db
@SCHEMA.parametrize()
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, demo_clinic: DemoClinic, unthrottled: None, connection_kept: None
):
    aim_at_demo_objects(case, demo_clinic)
    case.call_and_validate(headers={"Authorization": f"Bearer {demo_clinic.token}"}, checks=CHECKS)


# --- Bodies nested too deeply (issue #14) ------------------------------------------------------------
# Python's json parser recurses once per level and raised RecursionError near a thousand: a 500 on every
# write, the anonymous /auth/ routes included. Every such body must be a 400 in the error shape.
WRITES = sorted(
    (method, path)
    for path, operations in SCHEMA.raw_schema["paths"].items()
    for method, operation in operations.items()
    if method in {"post", "patch"} and "requestBody" in operation
)
DEEP_BODIES = {
    "list-990": "[" * 990 + "]" * 990,
    "list-3000": "[" * 3000 + "]" * 3000,
    "object-3000": '{"note": ' * 3000 + "1" + "}" * 3000,
    "in-a-field-3000": '{"body_areas": ' + "[" * 3000 + "]" * 3000 + "}",
}


@pytest.mark.django_db
@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
@pytest.mark.parametrize(("method", "path"), WRITES, ids=lambda value: str(value))
def test_a_body_nested_too_deeply_is_a_400_on_every_write(
    method: str, path: str, shape: str, demo_clinic: DemoClinic, unthrottled: None, connection_kept: None
) -> None:
    placeholders = ("patient_id", "regimen_id", "log_id", "notification_id")
    values = {name: demo_clinic.real_values(name, path)[0] for name in placeholders if "{" + name + "}" in path}
    values["kind"] = "dose"
    token = demo_clinic.token
    if (method, path) == ("post", "/api/v1/patients/"):  # only a caregiver adds a dependent; others get a 403 first
        caregiver = User.objects.filter(role="caregiver").first()
        assert caregiver is not None
        token = str(AccessToken.for_user(caregiver))
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.generic(
        method.upper(), path.format(**values), DEEP_BODIES[shape], content_type="application/json"
    )

    assert response.status_code == 400, (response.status_code, response.content[:200])
    body = response.json()
    assert body
    assert all(
        isinstance(value, str) if key == "detail" else all(isinstance(item, str) for item in value)
        for key, value in body.items()
    )
