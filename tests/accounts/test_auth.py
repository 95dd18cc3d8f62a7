"""Auth endpoints: register, tokens, refresh rotation, logout, /me/, lockout and password hashing."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Patient, User
from tacro_topical import settings as project_settings
from tests.factories import (
    TEST_PASSWORD,
    CareTeamMembershipFactory,
    DependentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

REGISTER_URL = "/api/v1/auth/register/"
TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
LOGOUT_URL = "/api/v1/auth/logout/"
ME_URL = "/api/v1/me/"
ADMIN_LOGIN_URL = "/admin/login/"

NEW_PASSWORD = "plum-orbit-lantern-42"


def patient_registration(**overrides: Any) -> dict[str, Any]:
    body = {
        "email": "new.patient@test.example",
        "password": NEW_PASSWORD,
        "first_name": "Amira",
        "last_name": "Saleh",
        "role": "patient",
        "birth_date": "1991-04-03",
        "timezone": "Asia/Qatar",
        "condition": "cle_discoid",
    }
    body.update(overrides)
    return body


def caregiver_registration(**overrides: Any) -> dict[str, Any]:
    body = {
        "email": "new.parent@test.example",
        "password": NEW_PASSWORD,
        "first_name": "Daniel",
        "last_name": "Weber",
        "role": "caregiver",
    }
    body.update(overrides)
    return body


def all_keys(value: Any) -> set[str]:
    """Every dict key anywhere in a JSON document."""
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in all_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in all_keys(item)}
    return set()


def messages_for(response: Any, field: str) -> str:
    body = response.json()
    assert field in body, f"{field!r} not named in {body}"
    messages = body[field]
    return " ".join(messages) if isinstance(messages, list) else str(messages)


def sign_in(client: APIClient, email: str, password: str = TEST_PASSWORD, **extra: Any) -> Any:
    return client.post(TOKEN_URL, {"email": email, "password": password}, format="json", **extra)


def token_pair(client: APIClient, user: User) -> dict[str, str]:
    response = sign_in(client, user.email)
    assert response.status_code == 200, response.content
    return response.json()


# --- Register -----------------------------------------------------------------------------


def test_a_patient_registers_and_gets_their_own_patient_record(api_client: APIClient) -> None:
    response = api_client.post(REGISTER_URL, patient_registration(), format="json")

    assert response.status_code == 202, response.content
    assert set(response.json()) == {"detail"}
    user = User.objects.get(email="new.patient@test.example")
    assert user.role == "patient"
    assert user.email_verified_at is None
    patient = Patient.objects.get(user=user)
    assert patient.birth_date == datetime.date(1991, 4, 3)
    assert patient.timezone == "Asia/Qatar"
    assert patient.condition == "cle_discoid"


def test_the_registration_answer_never_carries_the_password(api_client: APIClient) -> None:
    response = api_client.post(REGISTER_URL, patient_registration(), format="json")

    assert response.status_code == 202, response.content
    assert not any("password" in key for key in all_keys(response.json()))
    assert NEW_PASSWORD not in response.content.decode()


def test_a_caregiver_registers_without_patients(api_client: APIClient) -> None:
    response = api_client.post(REGISTER_URL, caregiver_registration(), format="json")

    assert response.status_code == 202, response.content
    assert User.objects.get(email="new.parent@test.example").role == "caregiver"
    assert not Patient.objects.filter(user__email="new.parent@test.example").exists()


def test_a_registered_user_can_sign_in_with_the_chosen_password(api_client: APIClient) -> None:
    assert api_client.post(REGISTER_URL, caregiver_registration(), format="json").status_code == 202

    response = sign_in(api_client, "new.parent@test.example", NEW_PASSWORD)

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("spelling", ["taken@test.example", "Taken@Test.EXAMPLE"])
def test_registering_a_taken_email_makes_no_second_account_whatever_its_letter_case(
    api_client: APIClient, spelling: str
) -> None:
    owner = UserFactory(email="taken@test.example")

    response = api_client.post(REGISTER_URL, caregiver_registration(email=spelling), format="json")

    assert response.status_code == 202, response.content
    assert list(User.objects.filter(email__iexact="taken@test.example")) == [owner]
    owner.refresh_from_db()
    assert owner.check_password(TEST_PASSWORD)
    assert owner.role == "patient"


@pytest.mark.parametrize("password", ["password123", "short", "1234567890123", "new.parent@test.example"])
def test_a_weak_or_common_password_is_refused_naming_password(api_client: APIClient, password: str) -> None:
    response = api_client.post(REGISTER_URL, caregiver_registration(password=password), format="json")

    assert response.status_code == 400
    assert messages_for(response, "password")
    assert not User.objects.filter(email="new.parent@test.example").exists()


def test_a_dermatologist_cannot_self_register_and_the_message_lists_the_allowed_roles(
    api_client: APIClient,
) -> None:
    response = api_client.post(REGISTER_URL, caregiver_registration(role="dermatologist"), format="json")

    assert response.status_code == 400
    message = messages_for(response, "role")
    assert "patient" in message
    assert "caregiver" in message
    assert "clinic_staff" not in message
    assert not User.objects.filter(email="new.parent@test.example").exists()


@pytest.mark.parametrize("missing", ["birth_date", "timezone", "condition"])
def test_a_patient_registration_without_a_required_patient_field_names_it(api_client: APIClient, missing: str) -> None:
    body = patient_registration()
    del body[missing]

    response = api_client.post(REGISTER_URL, body, format="json")

    assert response.status_code == 400
    assert messages_for(response, missing)
    assert not User.objects.filter(email="new.patient@test.example").exists()


def test_a_patient_registration_without_any_patient_field_names_all_three(api_client: APIClient) -> None:
    body = patient_registration()
    for name in ("birth_date", "timezone", "condition"):
        del body[name]

    response = api_client.post(REGISTER_URL, body, format="json")

    assert response.status_code == 400
    assert {"birth_date", "timezone", "condition"} <= set(response.json())


def test_an_unknown_timezone_is_refused_naming_timezone(api_client: APIClient) -> None:
    response = api_client.post(REGISTER_URL, patient_registration(timezone="Mars/Olympus"), format="json")

    assert response.status_code == 400
    assert "Mars/Olympus" in messages_for(response, "timezone")
    assert not User.objects.filter(email="new.patient@test.example").exists()


def test_a_birth_date_in_the_future_is_refused_and_no_account_is_left_behind(api_client: APIClient) -> None:
    future = (timezone.localdate() + datetime.timedelta(days=30)).isoformat()

    response = api_client.post(REGISTER_URL, patient_registration(birth_date=future), format="json")

    assert response.status_code == 400
    assert messages_for(response, "birth_date")
    assert not User.objects.filter(email="new.patient@test.example").exists()


def test_a_registered_email_is_stored_in_lower_case(api_client: APIClient) -> None:
    response = api_client.post(REGISTER_URL, caregiver_registration(email="New.Parent@Test.EXAMPLE"), format="json")

    assert response.status_code == 202, response.content
    assert User.objects.filter(email="new.parent@test.example").exists()


def test_a_malformed_json_body_is_a_400_with_a_json_detail(api_client: APIClient) -> None:
    response = api_client.post(REGISTER_URL, data='{"email": "a@test.example", ', content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


# --- Tokens -------------------------------------------------------------------------------


def test_signing_in_with_email_and_password_gives_an_access_and_a_refresh_token(api_client: APIClient) -> None:
    user = UserFactory()

    response = sign_in(api_client, user.email)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access"]
    assert body["refresh"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert api_client.get(ME_URL).json()["email"] == user.email


def test_signing_in_works_with_the_email_in_another_letter_case(api_client: APIClient) -> None:
    user = UserFactory(email="mixed.case@test.example")

    response = sign_in(api_client, "Mixed.CASE@Test.Example")

    assert response.status_code == 200, response.content
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert api_client.get(ME_URL).json()["id"] == user.pk


def test_a_wrong_password_is_a_401(api_client: APIClient) -> None:
    user = UserFactory()

    response = sign_in(api_client, user.email, "not-the-password")

    assert response.status_code == 401
    assert "access" not in response.json()


def test_signing_in_with_a_malformed_json_body_is_a_400_with_a_json_detail(api_client: APIClient) -> None:
    response = api_client.post(TOKEN_URL, data='{"email": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"]


def test_signing_in_without_a_password_is_a_400_naming_password(api_client: APIClient) -> None:
    response = api_client.post(TOKEN_URL, {"email": UserFactory().email}, format="json")

    assert response.status_code == 400
    assert messages_for(response, "password")


def test_refreshing_gives_a_new_access_and_a_new_refresh_token(api_client: APIClient) -> None:
    pair = token_pair(api_client, UserFactory())

    response = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["access"]
    assert body["refresh"]
    assert body["refresh"] != pair["refresh"]
    assert body["access"] != pair["access"]


def test_a_rotated_out_refresh_token_is_refused(api_client: APIClient) -> None:
    pair = token_pair(api_client, UserFactory())
    assert api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").status_code == 200

    response = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 401


def test_the_rotated_in_refresh_token_keeps_working(api_client: APIClient) -> None:
    pair = token_pair(api_client, UserFactory())
    rotated = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").json()

    response = api_client.post(REFRESH_URL, {"refresh": rotated["refresh"]}, format="json")

    assert response.status_code == 200, response.content


# --- Logout -------------------------------------------------------------------------------


def test_logging_out_answers_205_and_the_refresh_token_stops_working(api_client: APIClient) -> None:
    pair = token_pair(api_client, UserFactory())

    response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 205
    assert api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").status_code == 401


def test_logging_out_twice_with_the_same_token_is_a_401(api_client: APIClient) -> None:
    pair = token_pair(api_client, UserFactory())
    assert api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json").status_code == 205

    response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 401


def test_logging_out_with_a_garbage_token_is_a_401(api_client: APIClient) -> None:
    response = api_client.post(LOGOUT_URL, {"refresh": "not.a.token"}, format="json")

    assert response.status_code == 401
    assert response.json()["detail"]


def test_logging_out_without_a_refresh_token_is_a_400_naming_refresh(api_client: APIClient) -> None:
    response = api_client.post(LOGOUT_URL, {}, format="json")

    assert response.status_code == 400
    assert messages_for(response, "refresh")


# --- Me -----------------------------------------------------------------------------------


def me_as(client: APIClient, user: User) -> Any:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair(client, user)['access']}")
    return client.get(ME_URL)


def test_me_shows_a_patient_their_role_and_their_own_record(api_client: APIClient, ad_patient: Patient) -> None:
    response = me_as(api_client, ad_patient.user)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["role"] == "patient"
    assert body["email"] == ad_patient.user.email
    assert [item["id"] for item in body["patients"]] == [str(ad_patient.pk)]
    assert "password" not in all_keys(body)


def test_me_shows_a_caregiver_their_dependent(api_client: APIClient, caregiver: User) -> None:
    dependent = DependentFactory(caregiver=caregiver)
    DependentFactory()  # someone else's child

    response = me_as(api_client, caregiver)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["role"] == "caregiver"
    assert [item["id"] for item in body["patients"]] == [str(dependent.pk)]


def test_me_shows_a_dermatologist_no_patients_even_when_on_a_care_team(
    api_client: APIClient, dermatologist: User
) -> None:
    CareTeamMembershipFactory(clinician=dermatologist)

    response = me_as(api_client, dermatologist)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["role"] == "dermatologist"
    assert body["patients"] == []


def test_me_without_credentials_is_a_401(api_client: APIClient) -> None:
    response = api_client.get(ME_URL)

    assert response.status_code == 401


def test_me_with_a_garbage_bearer_token_is_a_401(api_client: APIClient) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")

    response = api_client.get(ME_URL)

    assert response.status_code == 401


# --- Lockout ------------------------------------------------------------------------------


def assert_locked_out(response: Any) -> None:
    assert response.status_code == 429, response.content
    retry_after = response["Retry-After"]
    assert retry_after.isdigit(), retry_after
    assert int(retry_after) > 0
    assert "locked" in response.json()["detail"].lower()


def fail_until_locked(client: APIClient, email: str, limit: int, **extra: Any) -> Any:
    """Send `limit` wrong passwords; the last (or, failing that, one more) must be the lockout."""
    responses = [sign_in(client, email, "wrong-password", **extra) for _ in range(limit)]
    assert all(response.status_code == 401 for response in responses[:-1]), [r.status_code for r in responses]
    last = responses[-1]
    if last.status_code == 401:
        last = sign_in(client, email, "wrong-password", **extra)
    return last


def test_five_failed_sign_ins_lock_the_account_with_the_default_limit(api_client: APIClient) -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    user = UserFactory()

    locked = fail_until_locked(api_client, user.email, limit=5)

    assert_locked_out(locked)
    assert_locked_out(sign_in(api_client, user.email, TEST_PASSWORD))


def test_four_failed_sign_ins_do_not_lock_the_account(api_client: APIClient) -> None:
    user = UserFactory()
    for _ in range(4):
        assert sign_in(api_client, user.email, "wrong-password").status_code == 401

    response = sign_in(api_client, user.email, TEST_PASSWORD)

    assert response.status_code == 200, response.content


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_successful_admin_login_resets_the_failure_count(dermatologist: User) -> None:
    client = Client()
    for _ in range(2):
        assert client.post(ADMIN_LOGIN_URL, {"username": dermatologist.email, "password": "wrong"}).status_code == 200
    assert client.post(ADMIN_LOGIN_URL, {"username": dermatologist.email, "password": TEST_PASSWORD}).status_code == 302
    client.logout()
    for _ in range(2):
        assert client.post(ADMIN_LOGIN_URL, {"username": dermatologist.email, "password": "wrong"}).status_code == 200

    response = client.post(ADMIN_LOGIN_URL, {"username": dermatologist.email, "password": TEST_PASSWORD})

    assert response.status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_successful_sign_in_resets_the_failure_count(api_client: APIClient) -> None:
    user = UserFactory()
    for _ in range(2):
        assert sign_in(api_client, user.email, "wrong-password").status_code == 401
    assert sign_in(api_client, user.email, TEST_PASSWORD).status_code == 200
    for _ in range(2):
        assert sign_in(api_client, user.email, "wrong-password").status_code == 401

    response = sign_in(api_client, user.email, TEST_PASSWORD)

    assert response.status_code == 200, response.content


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_locked_account_refuses_even_the_correct_password(api_client: APIClient) -> None:
    user = UserFactory()
    fail_until_locked(api_client, user.email, limit=3)

    response = sign_in(api_client, user.email, TEST_PASSWORD)

    assert_locked_out(response)
    assert "access" not in response.json()


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_locked_account_stays_locked_when_signing_in_from_another_address(api_client: APIClient) -> None:
    user = UserFactory()
    fail_until_locked(api_client, user.email, limit=3, REMOTE_ADDR="203.0.113.7")

    response = sign_in(api_client, user.email, TEST_PASSWORD, REMOTE_ADDR="198.51.100.9")

    assert_locked_out(response)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_lockout_counts_failures_whatever_the_email_letter_case(api_client: APIClient) -> None:
    user = UserFactory(email="case.lock@test.example")
    spellings = ["case.lock@test.example", "CASE.LOCK@test.example", "Case.Lock@Test.Example"]
    for spelling in spellings:
        sign_in(api_client, spelling, "wrong-password", REMOTE_ADDR="203.0.113.7")

    response = sign_in(api_client, user.email, TEST_PASSWORD, REMOTE_ADDR="198.51.100.9")

    assert_locked_out(response)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_the_admin_login_form_locks_the_account_after_repeated_failures(dermatologist: User) -> None:
    client = Client()
    statuses = [
        client.post(ADMIN_LOGIN_URL, {"username": dermatologist.email, "password": "wrong-password"}).status_code
        for _ in range(4)
    ]
    assert statuses[0] == 200  # the form again, with an error
    assert 429 in statuses

    response = client.post(ADMIN_LOGIN_URL, {"username": dermatologist.email, "password": TEST_PASSWORD})

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


@override_settings(AXES_FAILURE_LIMIT=3)
def test_failures_on_the_admin_form_lock_the_api_sign_in_too(api_client: APIClient, dermatologist: User) -> None:
    client = Client()
    for _ in range(3):
        client.post(ADMIN_LOGIN_URL, {"username": dermatologist.email, "password": "wrong-password"})

    response = sign_in(api_client, dermatologist.email, TEST_PASSWORD, REMOTE_ADDR="198.51.100.9")

    assert_locked_out(response)


def test_the_admin_login_form_lets_a_staff_user_in_with_the_right_password(dermatologist: User) -> None:
    client = Client()

    response = client.post(ADMIN_LOGIN_URL, {"username": dermatologist.email, "password": TEST_PASSWORD})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(dermatologist.pk)


# --- Password hashing ---------------------------------------------------------------------


def test_a_registered_users_password_is_stored_with_argon2(api_client: APIClient) -> None:
    with override_settings(PASSWORD_HASHERS=project_settings.PASSWORD_HASHERS):
        response = api_client.post(REGISTER_URL, caregiver_registration(), format="json")
        assert response.status_code == 202, response.content
        user = User.objects.get(email="new.parent@test.example")

        assert user.password.startswith("argon2")
        assert NEW_PASSWORD not in user.password
        assert user.check_password(NEW_PASSWORD)


def test_the_project_hashes_with_argon2_first() -> None:
    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
