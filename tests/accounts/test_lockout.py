"""The sign-in lockout (django-axes) counts failures per account: another account's success never clears
them, and one address's failures never lock out the other people behind it. The address it records is
the one the throttles use (tacro_topical/client_address.py)."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Patient, User
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
ADMIN_LOGIN_URL = "/admin/login/"
ATTACKER_ADDRESS = "203.0.113.50"


def sign_in(client: APIClient, email: str, password: str, **extra: Any) -> Any:
    return client.post(TOKEN_URL, {"email": email, "password": password}, format="json", **extra)


def admin_sign_in(client: Client, email: str, password: str, **extra: Any) -> Any:
    return client.post(ADMIN_LOGIN_URL, {"username": email, "password": password}, **extra)


def assert_locked_out(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert "locked" in response.content.decode().lower()


def test_signing_in_to_ones_own_account_does_not_clear_the_failures_against_a_patients(ad_patient: Patient) -> None:
    """The finding: 3 rounds of 4 wrong passwords for a patient, each followed by a sign-in to the attacker's
    own account from the same address; the 13th try, with the right password, signed in."""
    patient = ad_patient.user
    attacker = UserFactory()
    client = APIClient(REMOTE_ADDR=ATTACKER_ADDRESS)
    guesses: list[int] = []
    own_sign_ins: list[int] = []
    for _round in range(3):
        guesses += [sign_in(client, patient.email, "wrong-password").status_code for _ in range(4)]
        own_sign_ins.append(sign_in(client, attacker.email, TEST_PASSWORD).status_code)

    thirteenth = sign_in(client, patient.email, TEST_PASSWORD)

    assert guesses[:4] == [401] * 4
    assert guesses[4:] == [429] * 8  # locked from the 5th failure on
    assert own_sign_ins == [200] * 3  # the attacker's own account is not locked by their guesses at another
    assert_locked_out(thirteenth)
    assert "access" not in thirteenth.json()


def test_signing_in_to_ones_own_account_does_not_clear_the_failures_against_a_dermatologists_admin_login(
    dermatologist: User,
) -> None:
    attacker = UserFactory()
    admin = Client(REMOTE_ADDR=ATTACKER_ADDRESS)
    api = APIClient(REMOTE_ADDR=ATTACKER_ADDRESS)
    for _round in range(3):
        for _guess in range(4):
            admin_sign_in(admin, dermatologist.email, "wrong-password")
        assert sign_in(api, attacker.email, TEST_PASSWORD).status_code == 200

    thirteenth = admin_sign_in(admin, dermatologist.email, TEST_PASSWORD)

    assert_locked_out(thirteenth)
    assert "_auth_user_id" not in admin.session


def test_one_addresss_failures_do_not_lock_out_the_others_behind_it(dermatologist: User, ad_patient: Patient) -> None:
    """A clinic behind one NAT: anyone's failures for made-up accounts must not lock the patients and the
    dermatologist out."""
    patient = ad_patient.user
    shared_address = {"REMOTE_ADDR": "198.51.100.20"}
    api = APIClient(**shared_address)
    failures = [sign_in(api, f"made-up-{number}@test.example", "wrong-password").status_code for number in range(6)]

    patient_answer = sign_in(api, patient.email, TEST_PASSWORD)
    admin_answer = admin_sign_in(Client(**shared_address), dermatologist.email, TEST_PASSWORD)

    assert failures == [401] * 6
    assert patient_answer.status_code == 200, patient_answer.content
    assert admin_answer.status_code == 302  # the password is accepted: on to the admin (or its second step)


def test_an_accounts_own_failures_still_lock_it_from_every_address(ad_patient: Patient) -> None:
    patient = ad_patient.user
    for number in range(5):
        sign_in(APIClient(REMOTE_ADDR=f"198.51.100.{number + 1}"), patient.email, "wrong-password")

    response = sign_in(APIClient(REMOTE_ADDR="192.0.2.77"), patient.email, TEST_PASSWORD)

    assert_locked_out(response)


# --- Which address a failure is recorded under --------------------------------------------------------


def recorded_address_of_a_failure(**extra: Any) -> str:
    user = UserFactory()
    sign_in(APIClient(), user.email, "wrong-password", **extra)
    return str(AccessAttempt.objects.get(username=user.email).ip_address)


def test_the_lockout_ignores_x_forwarded_for_without_proxies(settings: Any) -> None:
    settings.NUM_PROXIES = 0

    recorded = recorded_address_of_a_failure(REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR="203.0.113.9")

    assert recorded == "192.0.2.10"


def test_the_lockout_takes_the_address_our_proxy_saw_with_one_proxy(settings: Any) -> None:
    settings.NUM_PROXIES = 1

    recorded = recorded_address_of_a_failure(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.99, 203.0.113.9")

    assert recorded == "203.0.113.9"  # the entry our proxy appended; 198.51.100.99 is whatever the client sent
