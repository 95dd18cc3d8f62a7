"""Bad input is a 400 naming each offending field, by its path, in the one error shape (issue #14).

Ids are UUID strings only, dates stay within plausible bounds, every offending field is named in one
answer, and every error body is `{"detail": ...}` or a map of field paths to messages.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Patient, Role, User
from accounts.tokens import SessionRefreshToken
from tacro_topical.errors import errors_by_field_path
from tests.accounts.test_auth import REFRESH_URL, caregiver_registration, patient_registration
from tests.personas import client_as
from tests.tracking.conftest import base
from tests.tracking.test_logs import application_body, poem_body, skin_check_body, symptom_body
from tracking.models import Application, PoemEntry, Regimen, SkinCheck, Symptom

NOW = datetime.datetime(2026, 11, 21, 9, 0, tzinfo=datetime.UTC)
LOGS = {
    "applications": (Application, application_body, "applied_at"),
    "symptoms": (Symptom, symptom_body, "recorded_at"),
    "poem": (PoemEntry, poem_body, "recorded_at"),
    "skin-checks": (SkinCheck, skin_check_body, "performed_at"),
}
REGISTER_URL = "/api/v1/auth/register/"


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def assert_error_shape(body: Any) -> None:
    """The schema's `Error`: `detail` a string; any other key a field path with a list of messages."""
    assert isinstance(body, dict)
    assert body
    for key, value in body.items():
        if key == "detail":
            assert isinstance(value, str)
        else:
            assert isinstance(value, list)
            assert value
            assert all(isinstance(message, str) for message in value), (key, value)


# --- Ids are UUID strings ------------------------------------------------------------------------


@pytest.mark.parametrize("segment", sorted(LOGS))
@pytest.mark.parametrize("not_a_uuid", [1, True, 0, 3.0, ["0b7e0d34-8b43-4a35-9d2c-7d1b8d0c4a11"]])
def test_a_log_id_that_is_not_a_uuid_string_is_a_400_naming_id(
    regimen: Regimen, client: APIClient, patient: Patient, segment: str, not_a_uuid: object
) -> None:
    model, body, _time_field = LOGS[segment]

    response = client.post(f"{base(patient)}{segment}/", body(id=not_a_uuid), format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"id"}
    assert_error_shape(response.json())
    assert not model._default_manager.exists()


def test_a_synced_item_with_an_integer_id_is_invalid_and_not_stored(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = {"applications": [application_body(id=7), application_body()], "skin_checks": [skin_check_body(id=True)]}

    answer = client.post(f"{base(patient)}sync/", body, format="json").json()

    assert [item["status"] for item in answer["applications"]] == ["invalid", "created"]
    assert set(answer["applications"][0]["errors"]) == {"id"}
    assert answer["skin_checks"][0]["status"] == "invalid"
    assert Application.objects.count() == 1
    assert not SkinCheck.objects.exists()


def test_the_same_integer_id_from_two_patients_is_refused_for_both(
    regimen: Regimen, patient: Patient, child: Patient, caregiver: User
) -> None:
    # It once became 00000000-0000-0000-0000-000000000005, and the second patient got a 409.
    for person, client in ((patient, client_as(patient.user)), (child, client_as(caregiver))):
        response = client.post(f"{base(person)}symptoms/", symptom_body(id=5), format="json")
        assert response.status_code == 400
        assert set(response.json()) == {"id"}


@pytest.mark.parametrize(("field", "segment"), [("regimen", "applications"), ("application", "symptoms")])
def test_a_reference_that_is_not_a_uuid_string_is_a_400_naming_it(
    regimen: Regimen, client: APIClient, patient: Patient, field: str, segment: str
) -> None:
    _model, body, _time_field = LOGS[segment]

    response = client.post(f"{base(patient)}{segment}/", body(**{field: 1}), format="json")

    assert response.status_code == 400
    assert set(response.json()) == {field}


def test_a_care_team_join_naming_the_patient_by_a_number_is_a_400(client: APIClient, patient: Patient) -> None:
    response = client.post("/api/v1/care-team/join/", {"code": "ABCD1234", "patient": 1}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"patient"}


# --- Plausible dates -----------------------------------------------------------------------------


@pytest.mark.parametrize("segment", sorted(LOGS))
@pytest.mark.parametrize("when", ["0001-01-01T08:00:00+00:00", "1900-06-01T08:00:00+03:00", "1999-12-31T23:59:59Z"])
def test_a_log_time_before_2000_is_a_400_naming_the_time(
    regimen: Regimen, client: APIClient, patient: Patient, segment: str, when: str
) -> None:
    model, body, time_field = LOGS[segment]

    response = client.post(f"{base(patient)}{segment}/", body(at=when), format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {time_field}
    assert "2000-01-01" in response.json()[time_field][0]
    assert not model._default_manager.exists()


def test_a_log_time_on_the_first_day_of_2000_is_taken(client: APIClient, patient: Patient) -> None:
    response = client.post(f"{base(patient)}symptoms/", symptom_body(at="2000-01-01T00:00:00Z"), format="json")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start_date", "9999-12-31"),
        ("start_date", "1999-12-31"),
        ("start_date", "2027-11-23"),  # a year and two days ahead
        ("end_date", "9999-12-31"),
        ("end_date", "2036-11-22"),  # ten years and a day or two ahead
    ],
)
def test_a_regimen_date_out_of_bounds_is_a_400_naming_it(
    client: APIClient, patient: Patient, field: str, value: str
) -> None:
    body = {
        "drug": "tacrolimus",
        "strength": "0.1",
        "body_areas": ["face"],
        "times": ["08:00"],
        "start_date": "2026-11-21",
        field: value,
    }

    response = client.post(f"{base(patient)}regimens/", body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {field}
    assert not Regimen.objects.exists()


def test_a_regimen_within_the_bounds_is_taken(client: APIClient, patient: Patient) -> None:
    body = {
        "drug": "tacrolimus",
        "strength": "0.1",
        "body_areas": ["face"],
        "times": ["08:00"],
        "start_date": "2027-11-21",
        "end_date": "2036-11-19",
    }

    response = client.post(f"{base(patient)}regimens/", body, format="json")

    assert response.status_code == 201, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("birth_date", ["0001-01-01", "1899-12-31", "2026-11-23"])
def test_a_birth_date_out_of_bounds_is_a_400_naming_it_everywhere_one_is_given(
    birth_date: str, caregiver: User
) -> None:
    dependent = {"first_name": "Sara", "birth_date": birth_date, "timezone": "Asia/Qatar", "condition": "cle_acute"}

    registered = APIClient().post(REGISTER_URL, patient_registration(birth_date=birth_date), format="json")
    added = client_as(caregiver).post("/api/v1/patients/", dependent, format="json")

    for response in (registered, added):
        assert response.status_code == 400, response.content
        assert set(response.json()) == {"birth_date"}
    assert not Patient.objects.exists()


def test_a_birth_date_in_1900_is_taken(client: APIClient, patient: Patient) -> None:
    response = client.patch(base(patient), {"birth_date": "1900-01-01"}, format="json")

    assert response.status_code == 200, response.content


# --- Every offending field in one answer ----------------------------------------------------------


@pytest.mark.django_db
def test_registration_names_every_offending_field_at_once() -> None:
    body = patient_registration(email="not-an-address", password="123", birth_date="0001-01-01")

    response = APIClient().post(REGISTER_URL, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"email", "password", "birth_date"}
    assert_error_shape(response.json())
    assert not User.objects.exists()


@pytest.mark.django_db
def test_a_patient_registration_names_missing_fields_beside_a_bad_one() -> None:
    body = patient_registration(email="not-an-address")
    del body["timezone"], body["condition"]

    response = APIClient().post(REGISTER_URL, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"email", "timezone", "condition"}


@pytest.mark.django_db
def test_the_registration_service_names_a_weak_password_but_never_a_taken_address() -> None:
    # A taken address is not a problem to name (API.md): saying so would tell that its owner is treated here.
    services.user_register(**caregiver_registration(role=Role.CAREGIVER))
    again = caregiver_registration(role=Role.CAREGIVER, password="password")

    with pytest.raises(ValidationError) as refused:
        services.user_register(**again)

    assert set(refused.value.message_dict) == {"password"}
    assert User.objects.count() == 1


def test_an_unknown_field_is_named_beside_the_bad_ones(regimen: Regimen, client: APIClient, patient: Patient) -> None:
    body = application_body(colour="red", amount_ftu=41, body_areas=["face", "elbow"])

    response = client.post(f"{base(patient)}applications/", body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"colour", "amount_ftu", "body_areas[1]"}
    assert_error_shape(response.json())


def test_a_fixed_regimen_field_in_a_patch_keeps_its_step_down_hint_beside_other_errors(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    response = client.patch(
        f"{base(patient)}regimens/{regimen.pk}/", {"strength": "0.03", "times": ["8am"]}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"strength", "times[0]"}
    assert "step-down" in response.json()["strength"][0]


def test_a_sync_batch_names_nested_errors_by_path_within_each_item(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    body = {"applications": [application_body(body_areas=["face", "elbow"], amount_ftu=0)]}

    answer = client.post(f"{base(patient)}sync/", body, format="json").json()

    assert set(answer["applications"][0]["errors"]) == {"body_areas[1]", "amount_ftu"}


# --- Amounts are numbers, both ways --------------------------------------------------------------


@pytest.mark.parametrize("amount", [1.5, "1.5"])
def test_an_amount_goes_in_as_a_number_and_comes_back_as_one(
    regimen: Regimen, client: APIClient, patient: Patient, amount: object
) -> None:
    response = client.post(f"{base(patient)}applications/", application_body(amount_ftu=amount), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["amount_ftu"] == 1.5


@pytest.mark.parametrize("amount", [0, -1, 40.01, 100, 1.555])
def test_an_amount_outside_more_than_0_up_to_40_is_a_400_saying_so(
    regimen: Regimen, client: APIClient, patient: Patient, amount: object
) -> None:
    response = client.post(f"{base(patient)}applications/", application_body(amount_ftu=amount), format="json")

    assert response.status_code == 400
    assert "more than 0 and at most 40" in response.json()["amount_ftu"][0]


# --- 401s in the one error shape -----------------------------------------------------------------


def test_an_invalid_access_token_is_a_401_with_only_a_detail(patient: Patient) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = client.get("/api/v1/me/")

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}


def test_a_rotated_out_refresh_token_is_a_401_with_only_a_detail(patient: Patient) -> None:
    assert patient.user is not None
    refresh = str(SessionRefreshToken.for_user(patient.user))
    assert APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json").status_code == 200

    reused = APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json")
    after_logout = APIClient().post("/api/v1/auth/logout/", {"refresh": refresh}, format="json")

    for response in (reused, after_logout):
        assert response.status_code == 401
        assert set(response.json()) == {"detail"}


# --- The error map ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ({"email": ["Bad."]}, {"email": ["Bad."]}),
        ({"times": {1: ["Not HH:MM."]}}, {"times[1]": ["Not HH:MM."]}),
        (
            {"quiet_hours": {"start": ["Bad."], "non_field_errors": ["Both."]}},
            {"quiet_hours.start": ["Bad."], "quiet_hours": ["Both."]},
        ),
        ({"items": [{}, {}, {}, {"amount_ftu": ["Too much."]}]}, {"items[3].amount_ftu": ["Too much."]}),
        ({"items": {"2": {"body_areas": {"0": ["Unknown."]}}}}, {"items[2].body_areas[0]": ["Unknown."]}),
        (["Send an object."], {"non_field_errors": ["Send an object."]}),
        ("Nothing to read.", {"non_field_errors": ["Nothing to read."]}),
        ({"__all__": ["Whole body."]}, {"non_field_errors": ["Whole body."]}),
    ],
)
def test_nested_errors_are_named_by_path(detail: Any, expected: dict[str, list[str]]) -> None:
    assert errors_by_field_path(detail) == expected


def test_every_patient_log_route_refuses_a_string_that_is_not_a_uuid(
    regimen: Regimen, client: APIClient, patient: Patient
) -> None:
    response = client.post(f"{base(patient)}applications/", application_body(id=str(uuid.uuid4())[:-1]), format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"id"}


@pytest.mark.django_db
@pytest.mark.parametrize("length", [254, 255, 256, 5000])
def test_signing_in_with_an_address_longer_than_any_account_has_is_a_400_or_401_never_a_500(length: int) -> None:
    # Review of #22: 256 characters reached django-axes' varchar(255) and answered 500.
    address = "a" * (length - len("@test.example")) + "@test.example"

    response = APIClient().post("/api/v1/auth/token/", {"email": address, "password": "x" * 12}, format="json")

    assert response.status_code == (401 if length <= 254 else 400), response.content
    if length > 254:
        assert set(response.json()) == {"email"}
