"""The custom user model, the createsuperuser command, patient ages and the time zone validator."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client, RequestFactory

from accounts.models import Patient, Role, User, validate_iana_timezone

PASSWORD = "plum-orbit-lantern-42"


# --- User model and manager ---------------------------------------------------------------


@pytest.mark.django_db
def test_create_user_stores_the_email_in_lower_case() -> None:
    user = User.objects.create_user(email="  Alice.Smith@Example.COM ", password=PASSWORD, role=Role.CAREGIVER)

    user.refresh_from_db()
    assert user.email == "alice.smith@example.com"
    assert user.role == Role.CAREGIVER
    assert not user.is_staff
    assert not user.is_superuser


@pytest.mark.django_db
def test_create_user_hashes_the_password() -> None:
    user = User.objects.create_user(email="hash@test.example", password=PASSWORD, role=Role.PATIENT)

    user.refresh_from_db()
    assert user.password != PASSWORD
    assert PASSWORD not in user.password
    assert user.check_password(PASSWORD)
    assert not user.check_password("another-password-entirely")


def test_the_user_model_signs_in_by_email_and_has_no_username() -> None:
    assert get_user_model() is User
    assert User.USERNAME_FIELD == "email"
    assert "username" not in {field.name for field in User._meta.get_fields()}
    assert not hasattr(User(email="x@test.example"), "username")


@pytest.mark.django_db
def test_a_created_user_authenticates_with_the_email_in_any_case() -> None:
    user = User.objects.create_user(email="login@test.example", password=PASSWORD, role=Role.PATIENT)
    request = RequestFactory().post("/admin/login/")

    assert authenticate(request, username="LOGIN@Test.Example", password=PASSWORD) == user
    assert authenticate(RequestFactory().post("/admin/login/"), username="login@test.example", password="wrong") is None


@pytest.mark.parametrize("email", ["", None])
def test_create_user_without_an_email_raises_value_error(email: str | None) -> None:
    with pytest.raises(ValueError, match="e-mail"):
        User.objects.create_user(email=email, password=PASSWORD, role=Role.PATIENT)


@pytest.mark.django_db
def test_two_users_cannot_share_an_email_in_different_letter_cases() -> None:
    User.objects.create_user(email="twin@test.example", password=PASSWORD)

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(email="TWIN@test.example", password=PASSWORD)
    assert User.objects.filter(email__iexact="twin@test.example").count() == 1


# --- createsuperuser ------------------------------------------------------------------------


@pytest.mark.django_db
def test_createsuperuser_without_input_makes_a_superuser_who_can_use_the_admin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    call_command("createsuperuser", "--email", "boss@x.example", "--noinput", verbosity=0)

    boss = User.objects.get(email="boss@x.example")
    assert boss.is_superuser
    assert boss.is_staff
    assert boss.is_active
    assert boss.check_password(PASSWORD)

    client = Client()
    response = client.post("/admin/login/", {"username": "boss@x.example", "password": PASSWORD})
    assert response.status_code == 302, response.content
    assert client.session["_auth_user_id"] == str(boss.pk)
    assert client.get("/admin/").status_code == 200


# --- Patient.age_on -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth_date", "on", "age"),
    [
        pytest.param(datetime.date(2000, 5, 17), datetime.date(2010, 5, 16), 9, id="day-before-birthday"),
        pytest.param(datetime.date(2000, 5, 17), datetime.date(2010, 5, 17), 10, id="on-birthday"),
        pytest.param(datetime.date(2000, 5, 17), datetime.date(2000, 5, 17), 0, id="day-of-birth"),
        pytest.param(datetime.date(2000, 12, 31), datetime.date(2001, 1, 1), 0, id="across-new-year"),
        pytest.param(datetime.date(2004, 2, 29), datetime.date(2005, 2, 28), 0, id="leapling-28-feb-non-leap"),
        pytest.param(datetime.date(2004, 2, 29), datetime.date(2005, 3, 1), 1, id="leapling-1-mar-non-leap"),
        pytest.param(datetime.date(2004, 2, 29), datetime.date(2008, 2, 28), 3, id="leapling-28-feb-leap"),
        pytest.param(datetime.date(2004, 2, 29), datetime.date(2008, 2, 29), 4, id="leapling-29-feb-leap"),
    ],
)
def test_age_on_counts_completed_years(birth_date: datetime.date, on: datetime.date, age: int) -> None:
    assert Patient(birth_date=birth_date).age_on(on) == age


# --- validate_iana_timezone -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["Asia/Qatar", "Europe/London", "America/New_York", "UTC"])
def test_validate_iana_timezone_accepts_iana_names(name: str) -> None:
    assert validate_iana_timezone(name) is None


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "asia/qatar", "GMT+3"])
def test_validate_iana_timezone_rejects_anything_else(name: str) -> None:
    with pytest.raises(ValidationError) as raised:
        validate_iana_timezone(name)

    assert raised.value.code == "invalid_timezone"
    assert "IANA" in raised.value.messages[0]
