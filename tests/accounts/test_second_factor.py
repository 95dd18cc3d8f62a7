"""The second factor of dermatologists and clinic staff (issue #22, Medium 5): TOTP and recovery codes in the
admin and on the token endpoint, required in production and optional in local mode; admin sessions that end.

From the review of #22: enrolling takes a code e-mailed to the account first (Defect 7: a password alone
enrolled an attacker's authenticator), and the API refuses a browser session that gave no code, as the
admin does; a session from before the session clocks ends (Defect 4)."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from base64 import b32decode
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.conf import settings
from django.core import mail
from django.db.models import Sum
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts import second_factor
from accounts.models import AuthSession, Patient, User
from tacro_topical.session_timeout import LAST_SEEN_AT, SIGNED_IN_AT
from tests.factories import (
    TEST_PASSWORD,
    CareTeamMembershipFactory,
    DermatologistFactory,
)

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
SECOND_FACTOR = "/admin/second-factor/"
PATIENTS = "/admin/accounts/patient/"
TOKEN = "/api/v1/auth/token/"
API_PATIENTS = "/api/v1/patients/"
START = datetime.datetime(2026, 11, 21, 9, 0, tzinfo=datetime.UTC)
STEP = datetime.timedelta(seconds=30)  # one TOTP time step: a code works once, the next step's is new
Sending = Callable[[], AbstractContextManager[Any]]


@pytest.fixture(autouse=True)
def clock() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def required(settings: Any) -> None:
    settings.SECOND_FACTOR_REQUIRED = True


@pytest.fixture
def optional(settings: Any) -> None:
    settings.SECOND_FACTOR_REQUIRED = False


def enrol(user: User) -> TOTPDevice:
    """An authenticator that a code already confirmed, and recovery codes."""
    device = TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=True)
    second_factor.recovery_codes_issue(user=user)
    return device


def code_now(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(code_now(device)) + 1) % 1_000_000:06d}"


def password_step(client: Client, user: User, password: str = TEST_PASSWORD) -> Any:
    return client.post(f"{LOGIN}?next={PATIENTS}", {"username": user.email, "password": password, "next": PATIENTS})


def signed_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def failures(user: User) -> int:
    return AccessAttempt.objects.filter(username=user.email).aggregate(total=Sum("failures_since_start"))["total"] or 0


def email_code_sent(client: Client, sending: Sending) -> str:
    """Ask the enrolment page for the e-mailed code, and read it from the e-mail, as its owner would."""
    before = len(mail.outbox)
    with sending():
        asked = client.post(SECOND_FACTOR, {"send": "1", "next": PATIENTS})
    assert asked.status_code == 200
    assert len(mail.outbox) == before + 1, "no e-mail"
    found = re.search(r"^(\d{6})$", str(mail.outbox[-1].body), re.MULTILINE)
    assert found, mail.outbox[-1].body
    return found.group(1)


def email_step(client: Client, sending: Sending) -> None:
    """The first step of enrolment: the code e-mailed to the account, typed in."""
    code = email_code_sent(client, sending)
    response = client.post(SECOND_FACTOR, {"code": code, "next": PATIENTS})
    assert response.status_code == 302
    assert response["Location"].startswith(SECOND_FACTOR)


# --- The admin ------------------------------------------------------------------------------------------------


def test_when_required_a_clinicians_password_alone_signs_nobody_in(required: None, dermatologist: User) -> None:
    client = Client()

    response = password_step(client, dermatologist)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{SECOND_FACTOR}?next=")
    assert signed_in_as(client) is None
    assert client.get(PATIENTS)["Location"].startswith(LOGIN)


def test_a_clinician_enrols_at_first_sign_in_with_one_code_and_sees_recovery_codes_once(
    required: None, sending: Sending, dermatologist: User
) -> None:
    client = Client()
    password_step(client, dermatologist)
    email_step(client, sending)

    page = client.get(f"{SECOND_FACTOR}?next={PATIENTS}").content.decode()

    assert f"otpauth://totp/tacro-topical%3A{dermatologist.email.replace('@', '%40')}?secret=" in page
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page)
    assert secret, page
    device = TOTPDevice.objects.get(user=dermatologist)
    assert not device.confirmed  # not before a code from it
    assert b32decode(secret.group(1).replace(" ", "")) == device.bin_key

    shown = client.post(SECOND_FACTOR, {"code": code_now(device), "next": PATIENTS})

    assert shown.status_code == 200
    codes = re.findall(r"<li>([a-z2-7]{8})</li>", shown.content.decode())
    assert len(codes) == settings.SECOND_FACTOR_RECOVERY_CODES
    assert set(StaticToken.objects.filter(device__user=dermatologist).values_list("token", flat=True)) == set(codes)
    device.refresh_from_db()
    assert device.confirmed
    assert signed_in_as(client) == str(dermatologist.pk)
    assert client.get(PATIENTS).status_code == 200
    again = client.get(SECOND_FACTOR)
    assert again.status_code == 302  # the codes are not shown a second time
    assert codes[0] not in again.content.decode()


def test_a_wrong_code_at_enrolment_confirms_nothing_signs_nobody_in_and_counts_as_a_failed_sign_in(
    required: None, sending: Sending, dermatologist: User
) -> None:
    client = Client()
    password_step(client, dermatologist)
    email_step(client, sending)
    client.get(SECOND_FACTOR)
    device = TOTPDevice.objects.get(user=dermatologist)

    response = client.post(SECOND_FACTOR, {"code": wrong_code(device), "next": PATIENTS})

    assert response.status_code == 200
    assert "not accepted" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticToken.objects.filter(device__user=dermatologist).exists()
    assert signed_in_as(client) is None
    assert failures(dermatologist) == 1


def test_an_enrolled_clinician_signs_in_with_the_code_from_their_app(required: None, clinic_staff: User) -> None:
    device = enrol(clinic_staff)
    client = Client()
    password_step(client, clinic_staff)

    asked = client.get(f"{SECOND_FACTOR}?next={PATIENTS}")
    response = client.post(SECOND_FACTOR, {"code": code_now(device), "next": PATIENTS})

    assert "otpauth://" not in asked.content.decode()  # an enrolled account is never shown its secret again
    assert response.status_code == 302
    assert response["Location"] == PATIENTS
    assert signed_in_as(client) == str(clinic_staff.pk)
    assert client.get(PATIENTS).status_code == 200


def test_a_recovery_code_signs_in_to_the_admin_once(required: None, clock: Any, dermatologist: User) -> None:
    enrol(dermatologist)
    recovery = StaticToken.objects.filter(device__user=dermatologist).first().token
    client = Client()
    password_step(client, dermatologist)

    assert client.post(SECOND_FACTOR, {"code": recovery.upper(), "next": PATIENTS}).status_code == 302
    assert signed_in_as(client) == str(dermatologist.pk)
    client.post("/admin/logout/")
    clock.shift(STEP)
    password_step(client, dermatologist)
    refused = client.post(SECOND_FACTOR, {"code": recovery, "next": PATIENTS})

    assert refused.status_code == 200
    assert signed_in_as(client) is None
    assert StaticToken.objects.filter(device__user=dermatologist).count() == settings.SECOND_FACTOR_RECOVERY_CODES - 1


def test_wrong_codes_in_the_admin_lock_the_account_as_wrong_passwords_do(
    required: None, settings: Any, clock: Any, dermatologist: User
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    device = enrol(dermatologist)
    client = Client()
    password_step(client, dermatologist)
    statuses = []
    for _ in range(3):
        clock.shift(STEP)
        statuses.append(client.post(SECOND_FACTOR, {"code": wrong_code(device), "next": PATIENTS}).status_code)

    assert statuses == [200, 200, 429]
    clock.shift(STEP)
    assert client.post(SECOND_FACTOR, {"code": code_now(device), "next": PATIENTS}).status_code == 302  # to login
    assert signed_in_as(client) is None
    assert password_step(Client(), dermatologist).status_code == 429


def test_the_code_step_lasts_five_minutes(required: None, clock: Any, dermatologist: User) -> None:
    device = enrol(dermatologist)
    client = Client()
    password_step(client, dermatologist)
    clock.shift(datetime.timedelta(minutes=5, seconds=1))

    response = client.post(SECOND_FACTOR, {"code": code_now(device), "next": PATIENTS})

    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert signed_in_as(client) is None


def test_the_admin_refuses_a_session_without_a_code_when_required_and_allows_it_when_not(
    settings: Any, dermatologist: User
) -> None:
    client = Client()
    client.force_login(dermatologist)  # signed in by password alone

    settings.SECOND_FACTOR_REQUIRED = True
    refused = client.get(PATIENTS)
    settings.SECOND_FACTOR_REQUIRED = False
    allowed = client.get(PATIENTS)

    assert refused.status_code == 302
    assert refused["Location"].startswith(LOGIN)
    assert allowed.status_code == 200


def test_in_local_mode_only_a_clinician_who_enrolled_is_asked_for_a_code(
    optional: None, stranger: User, dermatologist: User
) -> None:
    without, enrolled = stranger, dermatologist
    enrol(enrolled)
    first, second = Client(), Client()

    assert password_step(first, without)["Location"] == PATIENTS
    assert signed_in_as(first) == str(without.pk)
    assert password_step(second, enrolled)["Location"].startswith(SECOND_FACTOR)
    assert signed_in_as(second) is None


def test_in_local_mode_a_signed_in_clinician_may_enrol_and_the_session_counts_as_verified(
    optional: None, sending: Sending, dermatologist: User
) -> None:
    client = Client()
    client.force_login(dermatologist)
    assert "otpauth://" not in client.get(SECOND_FACTOR).content.decode()  # the e-mailed code first, here too
    email_step(client, sending)
    client.get(SECOND_FACTOR)
    device = TOTPDevice.objects.get(user=dermatologist)

    shown = client.post(SECOND_FACTOR, {"code": code_now(device)})

    assert len(re.findall(r"<li>([a-z2-7]{8})</li>", shown.content.decode())) == settings.SECOND_FACTOR_RECOVERY_CODES
    assert second_factor.is_enrolled(dermatologist)
    assert client.get(PATIENTS).status_code == 200  # asked for a code from now on, and this session gave one


# --- Enrolment takes a code e-mailed to the account (review of #22, Defect 7) -----------------------------------


def test_a_password_alone_never_shows_an_authenticator_secret_nor_enrols_one(
    required: None, sending: Sending, dermatologist: User
) -> None:
    attacker = Client()  # has the password, not the mailbox
    password_step(attacker, dermatologist)

    page = attacker.get(f"{SECOND_FACTOR}?next={PATIENTS}")
    with sending():
        asked = attacker.post(SECOND_FACTOR, {"send": "1", "next": PATIENTS})
    (message,) = mail.outbox
    code = re.search(r"^(\d{6})$", str(message.body), re.MULTILINE).group(1)
    guessed = attacker.post(SECOND_FACTOR, {"code": f"{(int(code) + 1) % 1_000_000:06d}", "next": PATIENTS})

    for response in (page, asked, guessed):
        assert response.status_code == 200
        assert "otpauth://" not in response.content.decode()
        assert 'id="totp-secret"' not in response.content.decode()
    assert not TOTPDevice.objects.filter(user=dermatologist).exists()  # no secret was even made
    assert message.to == [dermatologist.email]  # the code goes to the account's address, never onto the page
    assert code not in asked.content.decode()
    assert code not in str(message.subject)  # subjects show on lock screens
    assert "not accepted" in guessed.content.decode()
    assert failures(dermatologist) == 1  # a wrong e-mailed code is a failed sign-in too
    assert signed_in_as(attacker) is None
    assert attacker.get(PATIENTS)["Location"].startswith(LOGIN)


def test_an_e_mailed_code_works_once_for_five_minutes_and_only_the_latest_one_sent(
    optional: None, sending: Sending, clock: Any, dermatologist: User
) -> None:
    client, other_session = Client(), Client()
    client.force_login(dermatologist)
    other_session.force_login(dermatologist)

    replaced = email_code_sent(client, sending)
    clock.shift(datetime.timedelta(seconds=61))
    expired = email_code_sent(client, sending)
    refused_replaced = client.post(SECOND_FACTOR, {"code": replaced})
    clock.shift(datetime.timedelta(minutes=5, seconds=1))
    refused_expired = client.post(SECOND_FACTOR, {"code": expired})
    clock.shift(STEP)
    latest = email_code_sent(client, sending)
    accepted = client.post(SECOND_FACTOR, {"code": latest})
    clock.shift(STEP)
    used = other_session.post(SECOND_FACTOR, {"code": latest})

    assert refused_replaced.status_code == refused_expired.status_code == 200
    assert "not accepted" in refused_replaced.content.decode()
    assert "not accepted" in refused_expired.content.decode()
    assert accepted.status_code == 302
    assert "otpauth://" in client.get(SECOND_FACTOR).content.decode()
    assert used.status_code == 200  # the code proved the mailbox to the session that typed it, once
    assert "otpauth://" not in used.content.decode()


def test_enrolment_codes_are_e_mailed_at_most_once_a_minute(
    required: None, sending: Sending, clock: Any, dermatologist: User
) -> None:
    client = Client()
    password_step(client, dermatologist)

    email_code_sent(client, sending)
    with sending():
        again = client.post(SECOND_FACTOR, {"send": "1", "next": PATIENTS})
    clock.shift(datetime.timedelta(seconds=61))
    email_code_sent(client, sending)

    assert 'id="email-wait"' in again.content.decode()
    assert len(mail.outbox) == 2


def test_the_enrolment_e_mail_is_written_and_sent_by_a_worker_after_the_commit(
    required: None, django_capture_on_commit_callbacks: Any, dermatologist: User
) -> None:
    client = Client()
    password_step(client, dermatologist)

    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        client.post(SECOND_FACTOR, {"send": "1", "next": PATIENTS})

    assert len(after_commit) == 1
    assert mail.outbox == []
    # The code is made as the e-mail is written: it never travels through the task queue.
    assert EmailDevice.objects.get(user=dermatologist).token is None


def test_an_e_mailed_enrolment_code_is_never_a_way_to_sign_in(
    required: None, api_client: APIClient, dermatologist: User
) -> None:
    enrol(dermatologist)
    code = second_factor.enrolment_email_code_issue(dermatologist)
    client = Client()
    password_step(client, dermatologist)

    assert sign_in(api_client, dermatologist, otp=code).status_code == 401
    assert client.post(SECOND_FACTOR, {"code": code, "next": PATIENTS}).status_code == 200
    assert signed_in_as(client) is None


# --- The API and browser sessions (review of #22, Defect 4) ----------------------------------------------------


def test_when_required_the_api_refuses_a_browser_session_that_gave_no_code_as_the_admin_does(
    required: None, dermatologist: User, ad_patient: Patient
) -> None:
    patient = ad_patient  # on the dermatologist's care team
    client = Client()
    client.force_login(dermatologist)  # the password alone: a session from before the second factor, say

    admin_index = client.get("/admin/")
    listing = client.get(API_PATIENTS)
    detail = client.get(f"{API_PATIENTS}{patient.pk}/")

    assert admin_index.status_code == 302
    assert listing.status_code == detail.status_code == 401  # as without credentials
    assert patient.first_name not in listing.content.decode() + detail.content.decode()


def test_a_browser_session_that_gave_the_code_or_needs_none_reaches_the_api(
    settings: Any, dermatologist: User, ad_patient: Patient
) -> None:
    settings.SECOND_FACTOR_REQUIRED = True
    doctor = dermatologist
    device = enrol(doctor)
    patient = ad_patient  # on the dermatologist's care team
    verified = Client()
    password_step(verified, doctor)
    verified.post(SECOND_FACTOR, {"code": code_now(device), "next": PATIENTS})
    settings.SECOND_FACTOR_REQUIRED = False
    demo = Client()  # local mode: a clinician without an authenticator, signed in with the password
    demo_doctor = DermatologistFactory()
    CareTeamMembershipFactory(clinician=demo_doctor, patient=patient)
    demo.force_login(demo_doctor)

    for client in (verified, demo):
        assert client.get(f"{API_PATIENTS}{patient.pk}/").status_code == 200
        assert str(patient.pk) in client.get(API_PATIENTS).content.decode()


# --- The token endpoint --------------------------------------------------------------------------------------------


def sign_in(client: APIClient, user: User, **extra: str) -> Any:
    return client.post(TOKEN, {"email": user.email, "password": TEST_PASSWORD, **extra}, format="json")


def test_when_required_clinicians_without_otp_get_a_401_asking_for_it_and_patients_do_not(
    required: None, api_client: APIClient, dermatologist: User, clinic_staff: User, ad_patient: Patient, caregiver: User
) -> None:
    doctor, staff = dermatologist, clinic_staff
    enrol(doctor)

    for clinician in (doctor, staff):  # staff has not even enrolled yet
        response = sign_in(api_client, clinician)
        assert response.status_code == 401
        assert set(response.json()) == {"detail"}
        assert "second factor" in response.json()["detail"]
        assert "`otp`" in response.json()["detail"]
    for person in (ad_patient.user, caregiver):
        assert sign_in(api_client, person).status_code == 200
    assert failures(doctor) == 0  # asking the person for a code is not a failure


def test_a_clinician_gets_tokens_with_the_right_otp_and_only_with_it(
    required: None, api_client: APIClient, dermatologist: User
) -> None:
    device = enrol(dermatologist)

    without = sign_in(api_client, dermatologist)
    response = sign_in(api_client, dermatologist, otp=code_now(device))

    assert without.status_code == 401
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh"}


def test_a_wrong_otp_is_a_401_and_counts_toward_the_lockout_like_a_wrong_password(
    required: None, settings: Any, api_client: APIClient, clock: Any, dermatologist: User
) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    device = enrol(dermatologist)
    statuses = []
    for _ in range(3):
        clock.shift(STEP)
        response = sign_in(api_client, dermatologist, otp=wrong_code(device))
        statuses.append(response.status_code)

    assert statuses == [401, 401, 429]
    assert failures(dermatologist) == 3
    clock.shift(STEP)
    locked = sign_in(api_client, dermatologist, otp=code_now(device))
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0


def test_a_wrong_otp_says_a_code_is_needed(required: None, api_client: APIClient, dermatologist: User) -> None:
    device = enrol(dermatologist)

    response = sign_in(api_client, dermatologist, otp=wrong_code(device))
    missing = sign_in(api_client, dermatologist)

    assert response.status_code == 401
    assert set(response.json()) == {"detail"}
    assert "authenticator" in response.json()["detail"]
    assert missing.status_code == 401
    # The code is checked before any token is made: a refused sign-in starts no session.
    assert not AuthSession.objects.filter(user=dermatologist).exists()


def test_an_authenticator_code_works_once(required: None, api_client: APIClient, dermatologist: User) -> None:
    device = enrol(dermatologist)
    code = code_now(device)

    assert sign_in(api_client, dermatologist, otp=code).status_code == 200
    assert sign_in(api_client, dermatologist, otp=code).status_code == 401


def test_a_recovery_code_gives_tokens_once(
    required: None, api_client: APIClient, clock: Any, dermatologist: User
) -> None:
    enrol(dermatologist)
    recovery = StaticToken.objects.filter(device__user=dermatologist).first().token

    assert sign_in(api_client, dermatologist, otp=recovery).status_code == 200
    clock.shift(STEP)
    assert sign_in(api_client, dermatologist, otp=recovery).status_code == 401


def test_in_local_mode_a_clinician_who_enrolled_needs_otp_and_one_who_did_not_does_not(
    optional: None, api_client: APIClient, stranger: User, dermatologist: User
) -> None:
    without, enrolled = stranger, dermatologist
    device = enrol(enrolled)

    assert sign_in(api_client, without).status_code == 200
    assert sign_in(api_client, enrolled).status_code == 401
    assert sign_in(api_client, enrolled, otp=code_now(device)).status_code == 200


# --- Settings ------------------------------------------------------------------------------------------------------


def settings_in(mode: dict[str, str]) -> list[str]:
    """SECOND_FACTOR_REQUIRED, SESSION_COOKIE_AGE and SESSION_IDLE_TIMEOUT as a fresh process reads them."""
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECOND_FACTOR_REQUIRED, s.SESSION_COOKIE_AGE, int(s.SESSION_IDLE_TIMEOUT.total_seconds()))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "tacro_topical.settings", **mode},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_second_factor_is_required_in_production_optional_locally_and_sessions_last_12_hours_30_idle() -> None:
    production = {
        "DJANGO_ENV": "production",
        "ALLOWED_HOSTS": "api.example.org",
        "SECRET_KEY": "Zx8#kP2$vQ9!mW4&nR7*tY1^bU6(eI3)oA5-sD0_fG8+hJ2=lK9~cV4",
        "JWT_SIGNING_KEY": "q7Vd2Lk9Rw4Tz8Xn3Bm6Hc1Pf5Gs0Jy-another-key-entirely",
        "SITE_URL": "https://api.example.org",
    }

    assert settings_in(production) == ["True", str(12 * 3600), str(30 * 60)]
    assert settings_in({"DJANGO_ENV": "local"}) == ["False", str(12 * 3600), str(30 * 60)]
    assert settings_in({"DJANGO_ENV": "local", "SECOND_FACTOR_REQUIRED": "true", "ADMIN_SESSION_IDLE_MINUTES": "10"})[
        ::2
    ] == ["True", "600"]


# --- Admin sessions end ---------------------------------------------------------------------------------------------


def test_an_admin_session_ends_after_30_minutes_without_a_request(
    optional: None, clock: Any, dermatologist: User
) -> None:
    client = Client()
    client.force_login(dermatologist)
    clock.shift(datetime.timedelta(minutes=29))
    assert client.get(PATIENTS).status_code == 200

    clock.shift(datetime.timedelta(minutes=30, seconds=1))
    response = client.get(PATIENTS, follow=True)

    assert response.redirect_chain[0][0].startswith(LOGIN)
    assert signed_in_as(client) is None
    assert "after 30 minutes without activity" in response.content.decode()


def test_an_admin_session_ends_12_hours_after_sign_in_however_busy(
    optional: None, clock: Any, dermatologist: User
) -> None:
    client = Client()
    client.force_login(dermatologist)
    for _ in range(12 * 60 // 20):  # a request every 20 minutes, for 12 hours
        clock.shift(datetime.timedelta(minutes=20))
        assert client.get(PATIENTS).status_code == 200

    clock.shift(datetime.timedelta(seconds=1))
    response = client.get(PATIENTS)

    assert response.status_code == 302
    assert signed_in_as(client) is None


def test_the_idle_timeout_follows_its_setting(optional: None, clock: Any, settings: Any, dermatologist: User) -> None:
    settings.SESSION_IDLE_TIMEOUT = datetime.timedelta(minutes=5)
    client = Client()
    client.force_login(dermatologist)

    clock.shift(datetime.timedelta(minutes=5, seconds=1))

    assert client.get(PATIENTS).status_code == 302
    assert signed_in_as(client) is None


def test_a_session_signed_in_before_the_session_clocks_is_ended_not_given_new_clocks(
    optional: None, dermatologist: User
) -> None:
    admin_client, api_session = Client(), Client()
    for client in (admin_client, api_session):
        client.force_login(dermatologist)
        session = client.session
        del session[SIGNED_IN_AT], session[LAST_SEEN_AT]  # as a session from before the deploy has neither
        session.save()

    response = admin_client.get(PATIENTS, follow=True)
    api_answer = api_session.get(API_PATIENTS)

    assert response.redirect_chain[0][0].startswith(LOGIN)
    assert "from before the site" in response.content.decode()
    assert signed_in_as(admin_client) is None
    assert api_answer.status_code == 401
    assert signed_in_as(api_session) is None
