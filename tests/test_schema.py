"""The OpenAPI schema is complete: it builds without warnings and documents every route and error."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

DOCUMENTED = {
    ("get", "/api/v1/health/"): {"200", "503"},
    ("post", "/api/v1/auth/register/"): {"201", "400"},
    ("post", "/api/v1/auth/token/"): {"200", "400", "401", "429"},
    ("post", "/api/v1/auth/token/refresh/"): {"200", "400", "401"},
    ("post", "/api/v1/auth/logout/"): {"205", "400", "401"},
    ("get", "/api/v1/me/"): {"200", "401"},
    ("get", "/api/v1/patients/"): {"200", "400", "401"},
    ("post", "/api/v1/patients/"): {"201", "400", "401", "403"},
    ("get", "/api/v1/patients/{patient_id}/"): {"200", "401", "404"},
    ("patch", "/api/v1/patients/{patient_id}/"): {"200", "400", "401", "403", "404"},
    ("post", "/api/v1/care-team/join/"): {"200", "400", "401", "403", "404", "429"},
    ("get", "/api/v1/patients/{patient_id}/regimens/"): {"200", "400", "401", "404"},
    ("post", "/api/v1/patients/{patient_id}/regimens/"): {"201", "400", "401", "403", "404"},
    ("get", "/api/v1/patients/{patient_id}/regimens/{regimen_id}/"): {"200", "401", "404"},
    ("patch", "/api/v1/patients/{patient_id}/regimens/{regimen_id}/"): {"200", "400", "401", "403", "404"},
    ("post", "/api/v1/patients/{patient_id}/regimens/{regimen_id}/step-down/"): {"201", "400", "401", "403", "404"},
    **{
        operation: codes
        for segment in ("applications", "symptoms", "poem", "skin-checks")
        for operation, codes in {
            ("get", f"/api/v1/patients/{{patient_id}}/{segment}/"): {"200", "400", "401", "404"},
            ("post", f"/api/v1/patients/{{patient_id}}/{segment}/"): {"200", "201", "400", "401", "403", "404", "409"},
            ("get", f"/api/v1/patients/{{patient_id}}/{segment}/{{log_id}}/"): {"200", "401", "404"},
            ("patch", f"/api/v1/patients/{{patient_id}}/{segment}/{{log_id}}/"): {"200", "400", "401", "403", "404"},
            ("delete", f"/api/v1/patients/{{patient_id}}/{segment}/{{log_id}}/"): {"204", "401", "403", "404"},
        }.items()
    },
    ("post", "/api/v1/patients/{patient_id}/sync/"): {"200", "400", "401", "403", "404"},
    ("get", "/api/v1/patients/{patient_id}/adherence/"): {"200", "400", "401", "404"},
    ("get", "/api/v1/patients/{patient_id}/reminders/"): {"200", "401", "404"},
    ("post", "/api/v1/patients/{patient_id}/reminders/"): {"200", "400", "401", "403", "404"},
    ("get", "/api/v1/patients/{patient_id}/reminders/{kind}/"): {"200", "401", "404"},
    ("patch", "/api/v1/patients/{patient_id}/reminders/{kind}/"): {"200", "400", "401", "403", "404"},
    ("get", "/api/v1/notifications/"): {"200", "400", "401"},
    ("post", "/api/v1/notifications/{notification_id}/ack/"): {"200", "401", "404"},
    ("post", "/api/v1/notifications/{notification_id}/snooze/"): {"200", "400", "401", "404"},
    ("get", "/api/v1/devices/"): {"200", "400", "401"},
    ("post", "/api/v1/devices/"): {"200", "201", "400", "401"},
    ("delete", "/api/v1/devices/{device_id}/"): {"204", "401", "404"},
}
# And a 429 wherever a throttle counts the request: every write, and every /auth/ route.
THROTTLED = {(method, path) for method, path in DOCUMENTED if method != "get" or path.startswith("/api/v1/auth/")}


@pytest.fixture(scope="module")
def schema(django_db_blocker: pytest.FixtureRequest) -> dict:
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_schema_builds_without_warnings_or_errors(tmp_path: object) -> None:
    # --fail-on-warn turns every drf-spectacular guess (an undocumented body, a missing type) into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path) + "/schema.yaml")


# Actions whose path says it all: no body is read.
BODILESS = {("post", "/api/v1/notifications/{notification_id}/ack/")}


@pytest.mark.parametrize(("method", "path"), sorted(DOCUMENTED), ids=lambda value: str(value))
def test_every_route_documents_its_bodies_and_error_codes(schema: dict, method: str, path: str) -> None:
    operation = schema["paths"][path][method]

    throttled = {"429"} if (method, path) in THROTTLED else set()
    assert set(operation["responses"]) == DOCUMENTED[(method, path)] | throttled
    if method in {"post", "patch"} and (method, path) not in BODILESS:
        assert "requestBody" in operation
    if (method, path) in BODILESS:
        assert "requestBody" not in operation


def test_the_schema_documents_no_route_we_did_not_list(schema: dict) -> None:
    listed = {(method, path) for path, operations in schema["paths"].items() for method in operations}
    assert listed == set(DOCUMENTED)


@pytest.mark.django_db
def test_the_docs_page_loads_swagger_ui_from_our_own_static_files() -> None:
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
