"""An account's life: registering without telling whether an address is taken, confirming the address,
resetting a forgotten password, changing it, and the account's language (issue #22, Medium 8)."""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import Language, User
from accounts.tokens import SIGN_IN_REFUSED
from tests.accounts.test_auth import (
    ME_URL,
    NEW_PASSWORD,
    REGISTER_URL,
    caregiver_registration,
    patient_registration,
    sign_in,
)
from tests.factories import TEST_PASSWORD, PatientFactory, UserFactory
from tests.test_configuration import PROJECT_DIR, STRONG_SECRET

pytestmark = pytest.mark.django_db

VERIFY_URL = "/api/v1/auth/verify-email/"
RESET_URL = "/api/v1/auth/password/reset/"
RESET_CONFIRM_URL = "/api/v1/auth/password/reset/confirm/"
CHANGE_URL = "/api/v1/auth/password/change/"
Sending = Callable[[], AbstractContextManager[Any]]


def link_in(message: mail.EmailMessage) -> dict[str, str]:
    """The query of the web-app link in an e-mail's text body (after the `#`, where the app reads it)."""
    (url,) = re.findall(r"https?://\S+", str(message.body))
    fragment = urlsplit(url).fragment
    path, _, query = fragment.partition("?")
    assert url.startswith(f"{settings.SITE_URL}/app/#/"), url
    return {"path": path, **{key: values[0] for key, values in parse_qs(query).items()}}


def everything_sent(message: mail.EmailMultiAlternatives) -> str:
    return "\n".join([str(message.subject), str(message.body), *(str(body) for body, _kind in message.alternatives)])


def signed_in(user: User, password: str = TEST_PASSWORD) -> APIClient:
    client = APIClient()
    response = sign_in(client, user.email, password)
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


# --- Registering never says whether an address is taken ------------------------------------------


def test_registering_a_new_and_a_taken_address_gives_byte_identical_answers(sending: Sending) -> None:
    UserFactory(email="taken@test.example")

    with sending():
        new = APIClient().post(REGISTER_URL, caregiver_registration(email="new@test.example"), format="json")
        taken = APIClient().post(REGISTER_URL, caregiver_registration(email="taken@test.example"), format="json")

    assert (new.status_code, taken.status_code) == (202, 202)
    assert new.content == taken.content
    assert set(new.json()) == {"detail"}
    assert {message.to[0] for message in mail.outbox} == {"new@test.example", "taken@test.example"}


def test_a_new_account_is_sent_a_link_confirming_its_address(sending: Sending) -> None:
    with sending():
        APIClient().post(REGISTER_URL, patient_registration(), format="json")

    (message,) = mail.outbox
    assert message.to == ["new.patient@test.example"]
    assert message.subject == "Confirm your e-mail address"
    assert link_in(message)["path"] == "/verify-email"
    assert NEW_PASSWORD not in everything_sent(message)


def test_the_owner_of_a_taken_address_is_told_with_a_link_to_reset_the_password(sending: Sending) -> None:
    owner = PatientFactory(user__email="taken@test.example").user

    with sending():
        APIClient().post(REGISTER_URL, caregiver_registration(email="Taken@Test.example"), format="json")

    (message,) = mail.outbox
    assert message.to == [owner.email]
    assert "tried to create an account" in message.subject
    link = link_in(message)
    assert link["path"] == "/reset-password"
    assert NEW_PASSWORD not in everything_sent(message)
    # The link in it works: the owner can choose a new password with it.
    body = {"uid": link["uid"], "token": link["token"], "new_password": "a-brand-new-passphrase"}
    assert APIClient().post(RESET_CONFIRM_URL, body, format="json").status_code == 204


def test_registering_a_taken_address_with_a_bad_password_names_the_password_never_the_address() -> None:
    UserFactory(email="amira.saleh.taken@test.example")
    # Too like the address: only the service, which knows the address, finds this, beside the taken address.
    body = caregiver_registration(email="amira.saleh.taken@test.example", password="amira.saleh.taken")

    response = APIClient().post(REGISTER_URL, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"password"}


def test_e_mails_wait_for_the_registration_to_commit(sending: Sending, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=False) as pending:
        APIClient().post(REGISTER_URL, caregiver_registration(), format="json")

    assert mail.outbox == []
    assert len(pending) == 1


def test_registration_takes_the_language_from_accept_language_or_the_body() -> None:
    client = APIClient()
    client.post(
        REGISTER_URL,
        caregiver_registration(email="a@test.example"),
        format="json",
        HTTP_ACCEPT_LANGUAGE="ar-QA,ar;q=0.9",
    )
    client.post(REGISTER_URL, caregiver_registration(email="b@test.example"), format="json", HTTP_ACCEPT_LANGUAGE="fr")
    client.post(
        REGISTER_URL,
        caregiver_registration(email="c@test.example", language="ar"),
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    languages = dict(User.objects.values_list("email", "language"))

    assert languages == {"a@test.example": "ar", "b@test.example": "en", "c@test.example": "ar"}


# --- Confirming the address ------------------------------------------------------------------------


def registered_and_linked(sending: Sending, **overrides: Any) -> tuple[User, str]:
    with sending():
        response = APIClient().post(REGISTER_URL, caregiver_registration(**overrides), format="json")
    assert response.status_code == 202, response.content
    token = link_in(mail.outbox[-1])["token"]
    return User.objects.get(email=caregiver_registration(**overrides)["email"]), token


def test_following_the_link_confirms_the_address(sending: Sending) -> None:
    user, token = registered_and_linked(sending)
    assert user.email_verified_at is None

    response = APIClient().post(VERIFY_URL, {"token": token}, format="json")

    assert response.status_code == 204
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_following_the_link_twice_changes_nothing(sending: Sending) -> None:
    user, token = registered_and_linked(sending)
    APIClient().post(VERIFY_URL, {"token": token}, format="json")
    user.refresh_from_db()
    confirmed_at = user.email_verified_at

    response = APIClient().post(VERIFY_URL, {"token": token}, format="json")

    assert response.status_code == 204
    user.refresh_from_db()
    assert user.email_verified_at == confirmed_at


@pytest.mark.parametrize("token", ["not-a-token", "", "WzEsImFiYyJd:1xa5WF:forged"])
def test_a_bad_confirmation_token_is_a_400_naming_token(token: str) -> None:
    response = APIClient().post(VERIFY_URL, {"token": token}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"token"}


def test_a_confirmation_link_expires_after_7_days(sending: Sending) -> None:
    assert settings.ACCOUNT_EMAIL_VERIFICATION_MAX_AGE == datetime.timedelta(days=7)
    with time_machine.travel(datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC), tick=False):
        user, token = registered_and_linked(sending)
    with time_machine.travel(datetime.datetime(2026, 11, 8, 9, 1, tzinfo=datetime.UTC), tick=False):
        response = APIClient().post(VERIFY_URL, {"token": token}, format="json")

    assert response.status_code == 400
    assert "expired" in response.json()["token"][0]
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_a_confirmation_link_does_not_confirm_another_address_of_the_account(sending: Sending) -> None:
    user, token = registered_and_linked(sending)
    User.objects.filter(pk=user.pk).update(email="changed@test.example")

    response = APIClient().post(VERIFY_URL, {"token": token}, format="json")

    assert response.status_code == 400


# --- Where confirmation is required (production), an unconfirmed account cannot sign in -------------


@override_settings(ACCOUNT_EMAIL_VERIFICATION_REQUIRED=True)
def test_with_confirmation_required_an_account_signs_in_once_its_address_is_confirmed(sending: Sending) -> None:
    user, token = registered_and_linked(sending)

    refused = sign_in(APIClient(), user.email, NEW_PASSWORD)
    assert refused.status_code == 401
    # Word for word what wrong credentials get: nothing says the address is waiting for confirmation.
    assert refused.content == sign_in(APIClient(), "nobody@test.example", NEW_PASSWORD).content

    assert APIClient().post(VERIFY_URL, {"token": token}, format="json").status_code == 204
    assert sign_in(APIClient(), user.email, NEW_PASSWORD).status_code == 200


@override_settings(ACCOUNT_EMAIL_VERIFICATION_REQUIRED=True)
def test_signing_in_after_registering_gives_byte_identical_refusals_for_a_new_and_a_taken_address(
    sending: Sending,
) -> None:
    # Review of #22 (defect 2): whoever registers an address chooses its password, so a refusal that said
    # "confirm your address" after that password told them the address had been free, and a "wrong
    # password" that someone is already treated here.
    UserFactory(email="taken@test.example")  # its owner's password is not NEW_PASSWORD
    with sending():
        for email in ("new@test.example", "taken@test.example"):
            registered = APIClient().post(REGISTER_URL, caregiver_registration(email=email), format="json")
            assert registered.status_code == 202

    new = sign_in(APIClient(), "new@test.example", NEW_PASSWORD)
    taken = sign_in(APIClient(), "taken@test.example", NEW_PASSWORD)

    assert (new.status_code, taken.status_code) == (401, 401)
    assert new.content == taken.content
    assert new.content == sign_in(APIClient(), "nobody@test.example", NEW_PASSWORD).content
    assert new.headers.get("WWW-Authenticate") == taken.headers.get("WWW-Authenticate")


@override_settings(ACCOUNT_EMAIL_VERIFICATION_REQUIRED=True)
def test_the_one_sign_in_refusal_tells_both_people_what_to_do(sending: Sending) -> None:
    user, _token = registered_and_linked(sending)

    unconfirmed = sign_in(APIClient(), user.email, NEW_PASSWORD)
    wrong = sign_in(APIClient(), "nobody@test.example", NEW_PASSWORD)

    assert unconfirmed.json()["detail"] == wrong.json()["detail"] == SIGN_IN_REFUSED


@override_settings(ACCOUNT_EMAIL_VERIFICATION_REQUIRED=True, AXES_FAILURE_LIMIT=3)
def test_the_lockout_does_not_tell_a_new_address_from_a_taken_one_after_registering(sending: Sending) -> None:
    # Wrong passwords lock an account; a refusal that did not count would leave the new address open
    # after the taken one had locked, and so tell them apart in a few requests.
    UserFactory(email="taken@test.example")
    with sending():
        for email in ("new@test.example", "taken@test.example"):
            APIClient().post(REGISTER_URL, caregiver_registration(email=email), format="json")

    answers = {
        email: [sign_in(APIClient(), email, NEW_PASSWORD).status_code for _attempt in range(4)]
        for email in ("new@test.example", "taken@test.example")
    }

    assert answers["new@test.example"] == answers["taken@test.example"]


@override_settings(ACCOUNT_EMAIL_VERIFICATION_REQUIRED=True)
def test_with_confirmation_required_a_wrong_password_does_not_say_the_address_is_unconfirmed(
    sending: Sending,
) -> None:
    user, _token = registered_and_linked(sending)

    response = sign_in(APIClient(), user.email, "not-the-password")

    assert response.status_code == 401
    assert "Confirm" not in response.json()["detail"]


@override_settings(ACCOUNT_EMAIL_VERIFICATION_REQUIRED=False)
def test_without_confirmation_required_a_new_account_signs_in_at_once(sending: Sending) -> None:
    user, _token = registered_and_linked(sending)

    assert sign_in(APIClient(), user.email, NEW_PASSWORD).status_code == 200


@override_settings(ACCOUNT_EMAIL_VERIFICATION_REQUIRED=True)
def test_accounts_not_self_registered_count_as_confirmed() -> None:
    # Clinic staff create clinicians in the admin; accounts from before confirmation existed got the same.
    for user in (UserFactory(), User.objects.create_user("made.by.staff@test.example", TEST_PASSWORD)):
        assert user.email_verified_at is not None
        assert sign_in(APIClient(), user.email).status_code == 200


@pytest.mark.parametrize(("mode", "required"), [("production", "True"), ("local", "False")])
def test_confirmation_is_required_by_default_in_production_only(mode: str, required: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.ACCOUNT_EMAIL_VERIFICATION_REQUIRED)",
        ],
        cwd=PROJECT_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "tacro_topical.settings",
            "DJANGO_ENV": mode,
            "SECRET_KEY": STRONG_SECRET,
            "JWT_SIGNING_KEY": STRONG_SECRET[::-1],
            "ALLOWED_HOSTS": "api.example.org",
            "SITE_URL": "https://api.example.org",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == required


# --- Resetting a forgotten password -----------------------------------------------------------------


def test_asking_for_a_reset_answers_the_same_for_any_address(sending: Sending) -> None:
    UserFactory(email="known@test.example")
    UserFactory(email="inactive@test.example", is_active=False)

    with sending():
        answers = [
            APIClient().post(RESET_URL, {"email": email}, format="json")
            for email in ("known@test.example", "unknown@test.example", "inactive@test.example", "KNOWN@test.example")
        ]

    assert {answer.status_code for answer in answers} == {202}
    assert len({answer.content for answer in answers}) == 1
    assert [message.to for message in mail.outbox] == [["known@test.example"], ["known@test.example"]]


def test_a_reset_link_sets_a_new_password_once(sending: Sending) -> None:
    user = UserFactory()
    with sending():
        APIClient().post(RESET_URL, {"email": user.email}, format="json")
    link = link_in(mail.outbox[0])
    body = {"uid": link["uid"], "token": link["token"], "new_password": NEW_PASSWORD}

    first = APIClient().post(RESET_CONFIRM_URL, body, format="json")
    again = APIClient().post(RESET_CONFIRM_URL, {**body, "new_password": "an-attackers-passphrase"}, format="json")

    assert first.status_code == 204
    assert again.status_code == 400
    assert set(again.json()) == {"token"}
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert sign_in(APIClient(), user.email, TEST_PASSWORD).status_code == 401
    assert sign_in(APIClient(), user.email, NEW_PASSWORD).status_code == 200


def test_a_reset_link_expires_after_60_minutes(sending: Sending) -> None:
    assert settings.PASSWORD_RESET_TIMEOUT == 3600
    user = UserFactory()
    start = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False), sending():
        APIClient().post(RESET_URL, {"email": user.email}, format="json")
    link = link_in(mail.outbox[0])
    body = {"uid": link["uid"], "token": link["token"], "new_password": NEW_PASSWORD}

    with time_machine.travel(start + datetime.timedelta(minutes=61), tick=False):
        response = APIClient().post(RESET_CONFIRM_URL, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"token"}
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)


def test_a_reset_with_a_bad_link_and_a_weak_password_names_both() -> None:
    user = UserFactory()

    response = APIClient().post(
        RESET_CONFIRM_URL, {"uid": "not-base64!", "token": "1-abc", "new_password": "123"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"token", "new_password"}
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)


def test_a_reset_link_also_confirms_the_address(sending: Sending) -> None:
    user, _token = registered_and_linked(sending)
    with sending():
        APIClient().post(RESET_URL, {"email": user.email}, format="json")
    link = link_in(mail.outbox[-1])

    APIClient().post(
        RESET_CONFIRM_URL,
        {"uid": link["uid"], "token": link["token"], "new_password": "another-passphrase-7"},
        format="json",
    )

    user.refresh_from_db()
    assert user.email_verified_at is not None


# --- Changing the password --------------------------------------------------------------------------


def test_changing_the_password_takes_the_old_one() -> None:
    user = UserFactory()
    client = signed_in(user)

    response = client.post(CHANGE_URL, {"old_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}, format="json")

    assert response.status_code == 204
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_changing_the_password_with_a_wrong_old_one_is_a_400_and_changes_nothing() -> None:
    user = UserFactory()
    client = signed_in(user)

    response = client.post(CHANGE_URL, {"old_password": "a-guess", "new_password": "123"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"old_password", "new_password"}
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_wrong_old_passwords_count_toward_the_sign_in_lockout() -> None:
    user = UserFactory()
    client = signed_in(user)
    statuses = [
        client.post(CHANGE_URL, {"old_password": f"guess-{n}", "new_password": NEW_PASSWORD}, format="json").status_code
        for n in range(3)
    ]

    assert statuses[:2] == [400, 400]
    assert statuses[2] == 429
    assert sign_in(APIClient(), user.email).status_code == 429


def test_changing_the_password_needs_a_signed_in_caller() -> None:
    response = APIClient().post(
        CHANGE_URL, {"old_password": TEST_PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )

    assert response.status_code == 401


# --- The account's language and names -----------------------------------------------------------------


def test_me_shows_and_changes_the_language_and_names(caregiver: User) -> None:
    client = signed_in(caregiver)
    assert client.get(ME_URL).json()["language"] == "en"

    response = client.patch(ME_URL, {"language": "ar", "first_name": "Layla"}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["language"], response.json()["first_name"]) == ("ar", "Layla")
    assert client.get(ME_URL).json()["language"] == "ar"
    caregiver.refresh_from_db()
    assert (caregiver.language, caregiver.first_name) == (Language.ARABIC, "Layla")


def test_me_refuses_an_unknown_language_or_field_naming_each() -> None:
    client = signed_in(UserFactory())

    response = client.patch(
        ME_URL, {"language": "fr", "email": "new@test.example", "role": "clinic_staff"}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"language", "email", "role"}
    assert "ar" in body["language"][0]


def test_an_arabic_speakers_e_mails_are_in_arabic(sending: Sending) -> None:
    user = UserFactory(language=Language.ARABIC, first_name="ليلى")

    with sending():
        APIClient().post(RESET_URL, {"email": user.email}, format="json")

    (message,) = mail.outbox
    assert isinstance(message, mail.EmailMultiAlternatives)
    assert message.subject == "اختر كلمة مرور جديدة"
    assert "يعمل الرابط مرة واحدة فقط، ولمدة 60 دقيقة." in message.body
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert 'lang="ar" dir="rtl"' in str(html)
    assert "مرحبًا ليلى،" in str(html)
