"""The account's e-mail address takes the person-text rule on the model field (review of #22, defect 9).

Django's EmailValidator admits control characters inside a quoted local part ("a\\x1bb"@example.org), and
the address goes into the To header of every e-mail the account gets. The API's registration refused
them; the admin's forms, which build on the model field, stored them.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Role, User
from tests.factories import ClinicStaffFactory, UserFactory
from tests.personas import admin_client_as

pytestmark = pytest.mark.django_db

ADD_USER = "/admin/accounts/user/add/"
# Each passes Django's EmailValidator: escape, a vertical tab (a line break to mail readers), DEL.
ADDRESSES_WITH_CONTROLS = ['"a\x1bb"@example.org', '"a\x0bb"@example.org', '"a\x7fb"@example.org']


def test_the_model_refuses_an_address_with_a_control_character_naming_the_field() -> None:
    for address in ADDRESSES_WITH_CONTROLS:
        user = User(email=address, role=Role.PATIENT)

        with pytest.raises(ValidationError) as refused:
            user.full_clean(exclude=["password"])

        assert set(refused.value.message_dict) == {"email"}, address


def test_an_address_a_person_types_still_passes() -> None:
    User(email="o'brien.ali@example.org", role=Role.PATIENT).full_clean(exclude=["password"])


@pytest.mark.parametrize("who", ["clinic staff", "superuser"])
@pytest.mark.parametrize("address", ADDRESSES_WITH_CONTROLS)
def test_the_admins_add_forms_refuse_an_address_with_a_control_character(who: str, address: str) -> None:
    adder = (
        ClinicStaffFactory()
        if who == "clinic staff"
        else UserFactory(is_superuser=True, is_staff=True, role=Role.CLINIC_STAFF)
    )
    body: dict[str, Any] = {"email": address, "first_name": "Amira", "last_name": "Saleh", "role": Role.PATIENT}
    if who == "superuser":
        body |= {"password1": "plum-orbit-lantern-42", "password2": "plum-orbit-lantern-42", "usable_password": "true"}

    response = admin_client_as(adder).post(ADD_USER, body)

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert not User.objects.filter(first_name="Amira").exists()
