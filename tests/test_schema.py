"""The OpenAPI schema is complete: it builds without warnings and documents every route and error."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

DOCUMENTED = {
    ("get", "/api/v1/health/"): {"200", "503"},
    ("post", "/api/v1/auth/register/"): {"202", "400"},
    ("post", "/api/v1/auth/verify-email/"): {"204", "400"},
    ("post", "/api/v1/auth/token/"): {"200", "400", "401", "429"},
    ("post", "/api/v1/auth/token/refresh/"): {"200", "400", "401"},
    ("post", "/api/v1/auth/logout/"): {"205", "400", "401"},
    ("post", "/api/v1/auth/password/reset/"): {"202", "400"},
    ("post", "/api/v1/auth/password/reset/confirm/"): {"204", "400"},
    ("post", "/api/v1/auth/password/change/"): {"204", "400", "401"},
    ("get", "/api/v1/me/"): {"200", "401"},
    ("patch", "/api/v1/me/"): {"200", "400", "401"},
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
    ("post", "/api/v1/devices/{device_id}/test/"): {"202", "401", "404", "409", "503"},
    ("get", "/api/v1/push/vapid-public-key/"): {"200", "404"},
}
# And a 429 wherever a throttle counts the request: every route (reads and writes per user, /auth/ and the
# health check per client address).
THROTTLED = set(DOCUMENTED)


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
BODILESS = {("post", "/api/v1/notifications/{notification_id}/ack/"), ("post", "/api/v1/devices/{device_id}/test/")}


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


# --- What a generated client needs (issue #14) ------------------------------------------------------

ANONYMOUS = {
    ("post", "/api/v1/auth/register/"),
    ("post", "/api/v1/auth/verify-email/"),
    ("post", "/api/v1/auth/password/reset/"),
    ("post", "/api/v1/auth/password/reset/confirm/"),
    ("post", "/api/v1/auth/token/"),
    ("post", "/api/v1/auth/token/refresh/"),
    ("post", "/api/v1/auth/logout/"),
    ("get", "/api/v1/health/"),
    ("get", "/api/v1/push/vapid-public-key/"),
}


def untyped(node: object, path: str = "") -> list[str]:
    """Every property or array item in the schema that names no type, so a client would read it as Any."""
    found: list[str] = []
    if isinstance(node, dict):
        for name, inner in node.items():
            here = f"{path}/{name}"
            if name == "properties" and isinstance(inner, dict):
                for field, spec in inner.items():
                    if not {"type", "$ref", "allOf", "oneOf", "anyOf", "enum"} & set(spec):
                        found.append(f"{here}/{field}")
            if name == "items" and isinstance(inner, dict) and not {"type", "$ref", "allOf", "oneOf"} & set(inner):
                found.append(here)
            found += untyped(inner, here)
    elif isinstance(node, list):
        for position, inner in enumerate(node):
            found += untyped(inner, f"{path}/{position}")
    return found


def test_every_field_and_array_item_has_a_type(schema: dict) -> None:
    assert untyped(schema) == []


def test_only_the_anonymous_operations_need_no_token(schema: dict) -> None:
    anonymous = {
        (method, path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == []
    }
    assert anonymous == ANONYMOUS
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if (method, path) not in ANONYMOUS:
                assert operation["security"] == [{"jwtAuth": []}, {"cookieAuth": []}], (method, path)


def test_every_error_answer_is_the_one_error_shape_and_a_conflict_types_what_is_stored(schema: dict) -> None:
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for code, answer in operation["responses"].items():
                if code.startswith("4"):
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    name = ref.rsplit("/", 1)[1]
                    kind = path.rstrip("/").rsplit("/", 1)[1].replace("-", "_")
                    # A log's 409 shows what is stored; any other 409 (a device that cannot get push) is an Error.
                    expected = (
                        f"{LOG_COMPONENTS[kind]}Conflict" if code == "409" and kind in LOG_COMPONENTS else "Error"
                    )
                    assert name == expected, (method, path, code)
    error = schema["components"]["schemas"]["Error"]
    assert error["properties"] == {"detail": {"type": "string", "description": "What went wrong, in plain words."}}
    assert error["additionalProperties"] == {"type": "array", "items": {"type": "string"}}
    stored = schema["components"]["schemas"]["PoemConflict"]["properties"]["stored"]
    assert stored["allOf"] == [{"$ref": "#/components/schemas/Poem"}]


LOG_COMPONENTS = {"applications": "Application", "symptoms": "Symptom", "poem": "Poem", "skin_checks": "SkinCheck"}


def test_decimals_are_numbers_both_ways_with_the_label_bounds(schema: dict) -> None:
    schemas = schema["components"]["schemas"]
    for component in ("ApplicationInputRequest", "Application", "PatchedApplicationCorrectionRequest"):
        amount = schemas[component]["properties"]["amount_ftu"]
        assert amount["type"] == "number"
        assert (amount["minimum"], amount["maximum"]) == (0.01, 40)  # more than 0, 2 decimal places


def test_bands_phases_and_times_are_typed_as_a_client_reads_them(schema: dict) -> None:
    schemas = schema["components"]["schemas"]
    assert schemas["PoemBandEnum"]["enum"] == [
        "clear_or_almost_clear",
        "mild",
        "moderate",
        "severe",
        "very_severe",
    ]
    assert schemas["PhaseEnum"]["enum"] == ["treatment", "maintenance"]
    assert schemas["Poem"]["properties"]["answers"]["items"]["maximum"] == 4
    assert schemas["Regimen"]["properties"]["weekdays"]["items"]["type"] == "integer"
    for side in ("start", "end"):
        quiet = schemas["QuietHours"]["properties"][side]
        assert quiet["type"] == "string"
        assert "format" not in quiet  # OpenAPI's `time` means HH:MM:SS with an offset; these are "HH:MM"
        assert quiet["pattern"].startswith("^")


def test_every_page_declares_its_links_and_results(schema: dict) -> None:
    pages = [name for name in schema["components"]["schemas"] if name.startswith("Paginated")]
    assert pages
    for name in pages:
        assert schema["components"]["schemas"][name]["required"] == ["next", "previous", "results"]


def test_operation_ids_are_readable_and_unique(schema: dict) -> None:
    operation_ids = [
        operation["operationId"] for operations in schema["paths"].values() for operation in operations.values()
    ]
    assert len(operation_ids) == len(set(operation_ids))
    assert all(operation_id.replace("_", "").isalpha() for operation_id in operation_ids), operation_ids
