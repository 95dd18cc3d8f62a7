"""The user and patient admin in clinic staff's hands (issue #22, High 3): no way to a superuser's or another
staff member's account, no password set by someone else, no access handed out, every change of access logged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Patient, Role, User
from tacro_topical.celery import app as celery_app
from tests.accounts.admin_forms import change_form_data
from tests.factories import (
    TEST_PASSWORD,
    CaregiverFactory,
    ClinicStaffFactory,
    DependentFactory,
    UserFactory,
)
from tests.personas import admin_client_as
from tracking.models import Alert

pytestmark = pytest.mark.django_db

USERS = "/admin/accounts/user/"
PATIENTS = "/admin/accounts/patient/"
NEW_PASSWORD = "plum-orbit-lantern-42"
RESET_CONFIRM = "/api/v1/auth/password/reset/confirm/"


@pytest.fixture
def people(clinic_staff: User, dermatologist: User, ad_patient: Patient, caregiver: User) -> dict[str, User]:
    """The personas by role, and the two kinds of account above or beside clinic staff."""
    assert ad_patient.user is not None
    return {
        "staff": clinic_staff,
        "other_staff": ClinicStaffFactory(),
        "superuser": UserFactory(is_superuser=True, is_staff=True, role=Role.CLINIC_STAFF),
        "dermatologist": dermatologist,
        "patient": ad_patient.user,
        "caregiver": caregiver,
    }


@pytest.fixture
def sending(django_capture_on_commit_callbacks: Any) -> Iterator[Any]:
    """`with sending(): ...`: on-commit work runs and Celery tasks run in place, so e-mails reach the outbox."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    celery_app.conf.task_always_eager = previous


def user_url(user: User, page: str = "change/") -> str:
    return f"{USERS}{user.pk}/{page}"


def log_of(obj: Any) -> list[LogEntry]:
    content_type = ContentType.objects.get_for_model(obj)
    return list(LogEntry.objects.filter(content_type=content_type, object_id=str(obj.pk)).order_by("action_time"))


# --- Nobody above or beside clinic staff ------------------------------------------------------------------


def test_clinic_staff_see_patients_caregivers_and_dermatologists_but_no_superuser_or_other_staff(
    people: dict[str, User],
) -> None:
    page = admin_client_as(people["staff"]).get(USERS).content.decode()

    for listed in ("dermatologist", "patient", "caregiver"):
        assert people[listed].email in page
    for hidden in ("superuser", "other_staff", "staff"):
        assert people[hidden].email not in page


@pytest.mark.parametrize("target", ["superuser", "other_staff"])
@pytest.mark.parametrize("page", ["change/", "history/", "delete/"])
def test_clinic_staff_get_a_404_on_every_page_of_a_superuser_or_other_staff(
    people: dict[str, User], target: str, page: str
) -> None:
    response = admin_client_as(people["staff"]).get(user_url(people[target], page))

    assert response.status_code == 404


@pytest.mark.parametrize("target", ["superuser", "other_staff"])
def test_clinic_staff_cannot_change_a_superusers_or_other_staffs_account_by_posting(
    people: dict[str, User], target: str
) -> None:
    victim = people[target]
    superuser_client = admin_client_as(people["superuser"])
    data = change_form_data(superuser_client, user_url(victim), email="taken.over@test.example")

    response = admin_client_as(people["staff"]).post(user_url(victim), data)

    assert response.status_code == 404
    victim.refresh_from_db()
    assert victim.email != "taken.over@test.example"


def test_a_password_page_is_for_superusers_only(people: dict[str, User]) -> None:
    staff = admin_client_as(people["staff"])

    for target in ("dermatologist", "patient", "caregiver", "superuser", "other_staff"):
        assert staff.get(user_url(people[target], "password/")).status_code == 403
        refused = staff.post(
            user_url(people[target], "password/"), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
        )
        assert refused.status_code == 403
        people[target].refresh_from_db()
        assert people[target].check_password(TEST_PASSWORD)
    assert admin_client_as(people["superuser"]).get(user_url(people["dermatologist"], "password/")).status_code == 200


def test_a_staff_members_change_page_offers_no_password_link(people: dict[str, User]) -> None:
    page = admin_client_as(people["staff"]).get(user_url(people["dermatologist"])).content.decode()

    assert "password/" not in page


# --- No access handed out ---------------------------------------------------------------------------------------


def test_clinic_staff_cannot_grant_superuser_or_staff_status_groups_or_permissions(people: dict[str, User]) -> None:
    staff = admin_client_as(people["staff"])
    patient = people["patient"]
    data = change_form_data(
        staff, user_url(patient), is_superuser="on", is_staff="on", groups=["1"], user_permissions=["1", "2"]
    )

    response = staff.post(user_url(patient), data)

    assert response.status_code == 302, response.content
    patient.refresh_from_db()
    assert not patient.is_superuser
    assert not patient.is_staff
    assert not patient.groups.exists()
    assert not patient.user_permissions.exists()


def test_clinic_staff_cannot_make_anyone_clinic_staff(people: dict[str, User]) -> None:
    staff = admin_client_as(people["staff"])
    patient = people["patient"]

    response = staff.post(user_url(patient), change_form_data(staff, user_url(patient), role=Role.CLINIC_STAFF))

    assert response.status_code == 200
    assert "role" in response.context["adminform"].form.errors
    patient.refresh_from_db()
    assert patient.role == Role.PATIENT


def test_a_dermatologist_made_by_clinic_staff_gets_admin_access_and_loses_it_with_the_role(
    people: dict[str, User],
) -> None:
    staff = admin_client_as(people["staff"])
    caregiver = people["caregiver"]

    staff.post(user_url(caregiver), change_form_data(staff, user_url(caregiver), role=Role.DERMATOLOGIST))
    caregiver.refresh_from_db()
    assert (caregiver.role, caregiver.is_staff) == (Role.DERMATOLOGIST, True)

    staff.post(user_url(caregiver), change_form_data(staff, user_url(caregiver), role=Role.CAREGIVER))
    caregiver.refresh_from_db()
    assert (caregiver.role, caregiver.is_staff) == (Role.CAREGIVER, False)


def test_an_account_a_superuser_gave_permissions_is_out_of_clinic_staffs_reach(people: dict[str, User]) -> None:
    dermatologist = people["dermatologist"]
    dermatologist.user_permissions.add(1)

    response = admin_client_as(people["staff"]).get(user_url(dermatologist))

    assert response.status_code == 404


# --- Password-reset links instead of passwords ---------------------------------------------------------------


def reset_link_in(message: Any) -> dict[str, str]:
    """uid and token of the reset link in an e-mail (the web app's page reads them after the `#`)."""
    (url,) = re.findall(r"https?://\S+", str(message.body))
    return {key: values[0] for key, values in parse_qs(urlsplit(url).fragment.partition("?")[2]).items()}


def choose_password(message: Any, password: str = NEW_PASSWORD) -> Any:
    """What the reset page does with the link: POST auth/password/reset/confirm/."""
    link = reset_link_in(message)
    return APIClient().post(
        RESET_CONFIRM, {"uid": link["uid"], "token": link["token"], "new_password": password}, format="json"
    )


def test_the_reset_link_action_e_mails_the_chosen_accounts_it_may_reach(people: dict[str, User], sending: Any) -> None:
    staff = admin_client_as(people["staff"])
    chosen = [people["dermatologist"].pk, people["superuser"].pk]  # the superuser is not on the list

    with sending():
        response = staff.post(USERS, {"action": "send_password_reset_link", "_selected_action": chosen})

    assert response.status_code == 302
    assert [message.to for message in mail.outbox] == [[people["dermatologist"].email]]
    assert choose_password(mail.outbox[0]).status_code == 204
    people["dermatologist"].refresh_from_db()
    assert people["dermatologist"].check_password(NEW_PASSWORD)
    people["superuser"].refresh_from_db()
    assert people["superuser"].check_password(TEST_PASSWORD)
    assert [entry.get_change_message() for entry in log_of(people["dermatologist"])] == ["Sent a password-reset link."]


def test_clinic_staff_create_a_dermatologist_without_a_password_and_the_owner_chooses_it(
    people: dict[str, User], sending: Any
) -> None:
    staff = admin_client_as(people["staff"])
    new = {"email": "New.Doctor@Test.Example", "first_name": "Nadia", "last_name": "Hassan", "role": "dermatologist"}

    with sending():
        response = staff.post(f"{USERS}add/", new)

    assert response.status_code == 302, response.content
    doctor = User.objects.get(email="new.doctor@test.example")
    assert (doctor.role, doctor.is_staff, doctor.is_superuser) == (Role.DERMATOLOGIST, True, False)
    assert not doctor.has_usable_password()
    assert [message.to for message in mail.outbox] == [["new.doctor@test.example"]]
    assert choose_password(mail.outbox[0]).status_code == 204
    doctor.refresh_from_db()
    assert doctor.check_password(NEW_PASSWORD)
    assert Client().post("/admin/login/", {"username": doctor.email, "password": NEW_PASSWORD}).status_code == 302


def test_the_add_form_of_clinic_staff_has_no_password_and_no_clinic_staff_role(people: dict[str, User]) -> None:
    form = admin_client_as(people["staff"]).get(f"{USERS}add/").context["adminform"].form

    assert "password1" not in form.fields
    assert "is_staff" not in form.fields
    assert Role.CLINIC_STAFF not in dict(form.fields["role"].choices)


# --- The audit of access changes -----------------------------------------------------------------------------


def test_a_role_change_and_the_staff_status_it_brings_are_logged_with_old_and_new_values(
    people: dict[str, User],
) -> None:
    staff = admin_client_as(people["staff"])
    patient = people["patient"]

    staff.post(user_url(patient), change_form_data(staff, user_url(patient), role=Role.DERMATOLOGIST))

    [entry] = log_of(patient)
    assert entry.user == people["staff"]
    assert entry.get_change_message() == "Changed Role (patient → dermatologist) and Staff status (off → on)."
    # Named by id: a patient's name is not for the log.
    assert entry.object_repr == f"user {patient.pk}"
    assert patient.first_name not in entry.change_message + entry.object_repr


def test_a_superuser_granting_superuser_status_and_deactivating_is_logged(people: dict[str, User]) -> None:
    superuser = admin_client_as(people["superuser"])
    dermatologist = people["dermatologist"]
    data = change_form_data(superuser, user_url(dermatologist), is_superuser="on", is_active=None)

    superuser.post(user_url(dermatologist), data)

    [entry] = log_of(dermatologist)
    assert entry.get_change_message() == "Changed Superuser status (off → on) and Active (on → off)."


def test_an_account_made_in_the_admin_is_logged_with_the_access_it_was_given(
    people: dict[str, User], sending: Any
) -> None:
    with sending():
        admin_client_as(people["staff"]).post(
            f"{USERS}add/",
            {"email": "derm2@test.example", "first_name": "A", "last_name": "B", "role": "dermatologist"},
        )

    [entry] = log_of(User.objects.get(email="derm2@test.example"))
    assert entry.get_change_message() == (
        "Added with Role dermatologist, Staff status on, Superuser status off, Active on."
    )


# --- Caregivers --------------------------------------------------------------------------------------------------


def patient_url(patient: Patient) -> str:
    return f"{PATIENTS}{patient.pk}/change/"


@pytest.mark.parametrize("candidate", ["dermatologist", "other_staff", "superuser", "patient"])
def test_clinic_staff_make_only_caregiver_accounts_caregivers(
    people: dict[str, User], child: Patient, candidate: str
) -> None:
    staff = admin_client_as(people["staff"])

    response = staff.post(
        patient_url(child), change_form_data(staff, patient_url(child), caregivers=[people[candidate].pk])
    )

    assert response.status_code == 200
    assert "caregivers" in response.context["adminform"].form.errors
    assert list(child.caregivers.all()) == [people["caregiver"]]


def test_the_caregiver_choices_are_caregiver_accounts_only(people: dict[str, User], child: Patient) -> None:
    other_caregiver = CaregiverFactory()

    form = admin_client_as(people["staff"]).get(patient_url(child)).context["adminform"].form

    assert set(form.fields["caregivers"].queryset) == {people["caregiver"], other_caregiver}


def test_adding_and_removing_a_caregiver_is_logged_by_user_id(people: dict[str, User], child: Patient) -> None:
    staff = admin_client_as(people["staff"])
    second = CaregiverFactory()

    response = staff.post(patient_url(child), change_form_data(staff, patient_url(child), caregivers=[second.pk]))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(child.caregivers.all()) == [second]
    [entry] = log_of(child)
    assert entry.get_change_message() == (
        f"Changed Caregivers (added user {second.pk}; removed user {people['caregiver'].pk})."
    )
    assert entry.object_repr == f"patient {child.pk}"
    assert "Yusuf" not in entry.change_message + entry.object_repr


def test_superusers_browse_the_admin_log_and_clinic_staff_do_not(people: dict[str, User]) -> None:
    staff = admin_client_as(people["staff"])
    patient = people["patient"]
    staff.post(user_url(patient), change_form_data(staff, user_url(patient), role=Role.CAREGIVER))

    listing = admin_client_as(people["superuser"]).get("/admin/admin/logentry/")

    assert listing.status_code == 200
    assert "Role (patient → caregiver)" in listing.content.decode()
    assert staff.get("/admin/admin/logentry/").status_code == 403


@pytest.mark.parametrize("name", ["Noah\nBcc: someone@example.org", "Noah\u202e", "No\x00ah"])
def test_the_admin_refuses_a_name_with_a_control_character_as_the_api_does(people: dict[str, User], name: str) -> None:
    # The rule lives on the model fields too (tacro_topical/text.py), so no form of the admin can store
    # a name that would break an e-mail header.
    staff = admin_client_as(people["staff"])
    # Not the persona child: named Noah, each refused name differs from the stored one by its control character.
    child = DependentFactory(caregiver=people["caregiver"], first_name="Noah")

    response = staff.post(patient_url(child), change_form_data(staff, patient_url(child), first_name=name))

    assert response.status_code == 200
    assert "first_name" in response.context["adminform"].form.errors
    child.refresh_from_db()
    assert child.first_name == "Noah"


def test_an_alert_resolution_note_keeps_its_line_breaks_but_no_other_control_character() -> None:
    field = Alert._meta.get_field("resolution_note")
    field.run_validators("Called the family.\nPlan: review in clinic.")
    with pytest.raises(ValidationError):
        field.run_validators("Called\x1b[2J the family.")


def test_clinic_staff_cannot_change_an_accounts_address_and_send_its_reset_link_to_themselves(
    people: dict[str, User], sending: Any
) -> None:
    # Review of #22: changing a patient's e-mail, then sending the reset link, took over the account.
    staff = admin_client_as(people["staff"])
    patient = people["patient"]
    address = patient.email

    changed = staff.post(
        user_url(patient), change_form_data(staff, user_url(patient), email="staff-mailbox@evil.example")
    )
    with sending():
        staff.post(USERS, {"action": "send_password_reset_link", "_selected_action": [patient.pk]})

    assert changed.status_code == 302
    patient.refresh_from_db()
    assert patient.email == address
    assert [message.to for message in mail.outbox] == [[address]]


def test_a_superuser_still_changes_an_accounts_address(people: dict[str, User]) -> None:
    superuser = admin_client_as(people["superuser"])
    patient = people["patient"]

    superuser.post(user_url(patient), change_form_data(superuser, user_url(patient), email="new.address@test.example"))

    patient.refresh_from_db()
    assert patient.email == "new.address@test.example"
