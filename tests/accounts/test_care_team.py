"""Care-team join codes: issuing them (service and admin), spending them (API), and the admin scoped by care team."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import JOIN_CODE_ALPHABET, CareTeamJoinCode, CareTeamMembership, Patient, User
from tests.factories import (
    CaregiverFactory,
    CareTeamMembershipFactory,
    ClinicStaffFactory,
    DependentFactory,
    DermatologistFactory,
    PatientFactory,
)
from tests.personas import admin_client_as, client_as

pytestmark = pytest.mark.django_db

JOIN_URL = "/api/v1/care-team/join/"
ADMIN_CODE_ADD = "/admin/accounts/careteamjoincode/add/"
ADMIN_CODE_LIST = "/admin/accounts/careteamjoincode/"
ADMIN_PATIENT_LIST = "/admin/accounts/patient/"


def detail_url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.pk}/"


def issue(dermatologist: User) -> CareTeamJoinCode:
    return services.join_code_issue(dermatologist=dermatologist, created_by=dermatologist)


def on_team(patient: Patient, dermatologist: User) -> bool:
    return CareTeamMembership.objects.filter(patient=patient, clinician=dermatologist).exists()


# --- services.join_code_issue ---------------------------------------------------------------------------------


def test_join_code_issue_makes_an_8_character_code_from_the_unambiguous_alphabet(dermatologist: User) -> None:

    join_code = issue(dermatologist)

    assert len(join_code.code) == 8
    assert set(join_code.code) <= set(JOIN_CODE_ALPHABET)
    assert not set(join_code.code) & set("01IO")
    join_code.refresh_from_db()
    assert join_code.dermatologist == dermatologist
    assert join_code.created_by == dermatologist
    assert join_code.used_at is None
    assert join_code.used_for is None


def test_join_code_issue_makes_a_different_code_each_time(dermatologist: User) -> None:

    codes = {issue(dermatologist).code for _ in range(20)}

    assert len(codes) == 20


def test_a_join_code_expires_after_the_configured_ttl(dermatologist: User) -> None:
    moment = datetime.datetime(2026, 11, 21, 8, 5, tzinfo=datetime.UTC)

    with time_machine.travel(moment, tick=False):
        join_code = issue(dermatologist)

    assert join_code.created_at == moment
    assert join_code.expires_at == moment + settings.CARE_TEAM_JOIN_CODE_TTL
    assert join_code.is_usable_at(moment + settings.CARE_TEAM_JOIN_CODE_TTL - datetime.timedelta(seconds=1))
    assert not join_code.is_usable_at(moment + settings.CARE_TEAM_JOIN_CODE_TTL)


def test_clinic_staff_issue_a_code_for_a_dermatologist(dermatologist: User, clinic_staff: User) -> None:
    staff = clinic_staff

    join_code = services.join_code_issue(dermatologist=dermatologist, created_by=staff)

    assert join_code.dermatologist == dermatologist
    assert join_code.created_by == staff


@pytest.mark.parametrize("factory", [ClinicStaffFactory, CaregiverFactory, lambda: PatientFactory().user])
def test_join_code_issue_refuses_a_non_dermatologist(factory) -> None:
    not_a_dermatologist = factory()

    with pytest.raises(ValidationError) as caught:
        services.join_code_issue(dermatologist=not_a_dermatologist, created_by=ClinicStaffFactory())

    assert "dermatologist" in caught.value.message_dict
    assert not CareTeamJoinCode.objects.exists()


def test_a_dermatologist_cannot_issue_a_code_for_a_colleague(dermatologist: User, stranger: User) -> None:
    with pytest.raises(ValidationError) as caught:
        services.join_code_issue(dermatologist=dermatologist, created_by=stranger)

    assert "dermatologist" in caught.value.message_dict
    assert not CareTeamJoinCode.objects.exists()


# --- POST /api/v1/care-team/join/ -----------------------------------------------------------------------------


def test_a_patient_adds_a_dermatologist_with_a_fresh_code(ad_patient: Patient, stranger: User) -> None:
    patient, dermatologist = ad_patient, stranger
    join_code = issue(dermatologist)
    assert client_as(dermatologist).get(detail_url(patient)).status_code == 404

    response = client_as(patient.user).post(
        JOIN_URL, {"code": join_code.code, "patient": str(patient.pk)}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["patient"] == str(patient.pk)
    assert body["dermatologist_id"] == dermatologist.pk
    assert body["dermatologist_name"] == "Sara Stranger"
    assert "joined_at" in body
    assert on_team(patient, dermatologist)
    seen = client_as(dermatologist).get(detail_url(patient))
    assert seen.status_code == 200
    assert seen.json()["id"] == str(patient.pk)
    join_code.refresh_from_db()
    assert join_code.used_at is not None
    assert join_code.used_for == patient


def test_a_joined_patient_appears_in_the_dermatologists_list(ad_patient: Patient, stranger: User) -> None:
    patient, dermatologist = ad_patient, stranger
    assert client_as(dermatologist).get("/api/v1/patients/").json()["results"] == []

    joined = client_as(patient.user).post(
        JOIN_URL, {"code": issue(dermatologist).code, "patient": str(patient.pk)}, format="json"
    )
    assert joined.status_code == 200, joined.content

    results = client_as(dermatologist).get("/api/v1/patients/").json()["results"]
    assert [item["id"] for item in results] == [str(patient.pk)]


def test_a_caregiver_adds_a_dermatologist_to_a_dependents_care_team(
    caregiver: User, child: Patient, stranger: User
) -> None:
    dermatologist = stranger

    response = client_as(caregiver).post(
        JOIN_URL, {"code": issue(dermatologist).code, "patient": str(child.pk)}, format="json"
    )

    assert response.status_code == 200, response.content
    assert on_team(child, dermatologist)
    assert client_as(dermatologist).get(detail_url(child)).status_code == 200


def test_a_join_code_is_single_use(ad_patient: Patient, cle_patient: Patient, stranger: User) -> None:
    patient, other, dermatologist = ad_patient, cle_patient, stranger
    code = issue(dermatologist).code
    first = client_as(patient.user).post(JOIN_URL, {"code": code, "patient": str(patient.pk)}, format="json")
    assert first.status_code == 200

    again = client_as(other.user).post(JOIN_URL, {"code": code, "patient": str(other.pk)}, format="json")

    assert again.status_code == 400
    assert set(again.json()) == {"code"}
    assert not on_team(other, dermatologist)
    assert CareTeamJoinCode.objects.get(code=code).used_for == patient


def test_the_same_patient_cannot_spend_a_code_twice(ad_patient: Patient, stranger: User) -> None:
    patient = ad_patient
    code = issue(stranger).code
    client = client_as(patient.user)
    assert client.post(JOIN_URL, {"code": code, "patient": str(patient.pk)}, format="json").status_code == 200

    again = client.post(JOIN_URL, {"code": code, "patient": str(patient.pk)}, format="json")

    assert again.status_code == 400
    assert "code" in again.json()


def test_joining_a_team_one_is_already_on_succeeds_and_spends_the_code(
    ad_patient: Patient, dermatologist: User
) -> None:
    join_code = issue(dermatologist)

    response = client_as(ad_patient.user).post(
        JOIN_URL, {"code": join_code.code, "patient": str(ad_patient.pk)}, format="json"
    )

    assert response.status_code == 200, response.content
    assert CareTeamMembership.objects.filter(patient=ad_patient).count() == 1
    join_code.refresh_from_db()
    assert join_code.used_at is not None


def test_an_expired_code_is_a_400_naming_code(ad_patient: Patient, stranger: User) -> None:
    patient, dermatologist = ad_patient, stranger
    join_code = issue(dermatologist)

    with time_machine.travel(join_code.expires_at + datetime.timedelta(seconds=1), tick=False):
        response = client_as(patient.user).post(
            JOIN_URL, {"code": join_code.code, "patient": str(patient.pk)}, format="json"
        )

    assert response.status_code == 400
    assert set(response.json()) == {"code"}
    assert not on_team(patient, dermatologist)
    join_code.refresh_from_db()
    assert join_code.used_at is None


def test_a_code_still_works_just_before_it_expires(ad_patient: Patient, stranger: User) -> None:
    patient, dermatologist = ad_patient, stranger
    join_code = issue(dermatologist)

    with time_machine.travel(join_code.expires_at - datetime.timedelta(seconds=1), tick=False):
        response = client_as(patient.user).post(
            JOIN_URL, {"code": join_code.code, "patient": str(patient.pk)}, format="json"
        )

    assert response.status_code == 200, response.content
    assert on_team(patient, dermatologist)


def test_a_lower_case_code_with_surrounding_spaces_is_accepted(ad_patient: Patient, stranger: User) -> None:
    patient, dermatologist = ad_patient, stranger
    join_code = issue(dermatologist)

    response = client_as(patient.user).post(
        JOIN_URL, {"code": f"  {join_code.code.lower()} \t", "patient": str(patient.pk)}, format="json"
    )

    assert response.status_code == 200, response.content
    assert on_team(patient, dermatologist)


def test_an_unknown_code_is_a_400_naming_code() -> None:
    # No personas: the test asserts that no care-team row exists at all, and the personas' clinic holds some.
    patient = PatientFactory()
    issue(DermatologistFactory())

    response = client_as(patient.user).post(JOIN_URL, {"code": "ZZZZZZZZ", "patient": str(patient.pk)}, format="json")

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"code"}
    assert errors["code"]  # says in words what went wrong
    assert not CareTeamMembership.objects.exists()


def test_a_code_of_an_inactive_dermatologist_is_a_400_naming_code(ad_patient: Patient, stranger: User) -> None:
    patient, dermatologist = ad_patient, stranger
    join_code = issue(dermatologist)
    dermatologist.is_active = False
    dermatologist.save(update_fields=["is_active"])

    response = client_as(patient.user).post(
        JOIN_URL, {"code": join_code.code, "patient": str(patient.pk)}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"code"}
    assert not on_team(patient, dermatologist)


@pytest.mark.parametrize("whose", ["another_patient", "another_familys_child", "no_such_patient"])
def test_joining_for_a_patient_one_may_not_act_for_is_a_404(whose: str) -> None:
    # No personas: the test asserts that no care-team row exists at all, and the personas' clinic holds some.
    caregiver = CaregiverFactory()
    DependentFactory(caregiver=caregiver)
    target_id = {
        "another_patient": lambda: str(PatientFactory().pk),
        "another_familys_child": lambda: str(DependentFactory().pk),
        "no_such_patient": lambda: "00000000-0000-4000-8000-000000000000",
    }[whose]()
    join_code = issue(DermatologistFactory())

    response = client_as(caregiver).post(JOIN_URL, {"code": join_code.code, "patient": target_id}, format="json")

    assert response.status_code == 404
    assert "detail" in response.json()
    assert not CareTeamMembership.objects.exists()
    join_code.refresh_from_db()
    assert join_code.used_at is None  # not spent on a refused request


def test_a_patient_cannot_join_for_another_patient() -> None:
    # No personas: the test asserts that no care-team row exists at all, and the personas' clinic holds some.
    patient = PatientFactory()
    other = PatientFactory()
    join_code = issue(DermatologistFactory())

    response = client_as(patient.user).post(JOIN_URL, {"code": join_code.code, "patient": str(other.pk)}, format="json")

    assert response.status_code == 404
    assert not CareTeamMembership.objects.exists()


@pytest.mark.parametrize("assigned", [True, False])
def test_a_dermatologist_calling_join_is_a_403(
    assigned: bool, ad_patient: Patient, dermatologist: User, stranger: User
) -> None:
    patient = ad_patient
    caller = dermatologist if assigned else stranger  # the clinic's dermatologist is on the patient's team
    join_code = issue(DermatologistFactory())

    response = client_as(caller).post(JOIN_URL, {"code": join_code.code, "patient": str(patient.pk)}, format="json")

    assert response.status_code == 403
    assert "detail" in response.json()
    join_code.refresh_from_db()
    assert join_code.used_at is None


def test_clinic_staff_calling_join_is_a_403(ad_patient: Patient, clinic_staff: User, stranger: User) -> None:
    patient = ad_patient
    join_code = issue(stranger)

    response = client_as(clinic_staff).post(
        JOIN_URL, {"code": join_code.code, "patient": str(patient.pk)}, format="json"
    )

    assert response.status_code == 403


def test_an_anonymous_join_is_a_401(ad_patient: Patient, stranger: User) -> None:
    patient = ad_patient
    join_code = issue(stranger)

    response = APIClient().post(JOIN_URL, {"code": join_code.code, "patient": str(patient.pk)}, format="json")

    assert response.status_code == 401


def test_guessing_join_codes_is_throttled(ad_patient: Patient, stranger: User) -> None:
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["care_team_join"]
    allowed = int(rate.split("/")[0])
    patient, dermatologist = ad_patient, stranger
    real_code = issue(dermatologist).code
    client = client_as(patient.user)
    guesses = [
        client.post(JOIN_URL, {"code": f"GUESS{n:03d}", "patient": str(patient.pk)}, format="json")
        for n in range(allowed)
    ]
    assert [response.status_code for response in guesses] == [400] * allowed

    response = client.post(JOIN_URL, {"code": real_code, "patient": str(patient.pk)}, format="json")

    assert response.status_code == 429
    assert "Retry-After" in response
    assert not on_team(patient, dermatologist)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, {"code", "patient"}),
        ({"patient": "00000000-0000-4000-8000-000000000000"}, {"code"}),
        ({"code": "ABCDEFGH"}, {"patient"}),
        ({"code": "", "patient": "00000000-0000-4000-8000-000000000000"}, {"code"}),
        ({"code": "ABCDEFGH", "patient": "not-a-uuid"}, {"patient"}),
        ({"code": "A" * 40, "patient": "00000000-0000-4000-8000-000000000000"}, {"code"}),
    ],
)
def test_a_bad_join_body_is_a_400_naming_the_fields(body: dict, named: set[str], ad_patient: Patient) -> None:
    patient = ad_patient

    response = client_as(patient.user).post(JOIN_URL, body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == named


def test_a_join_body_that_is_not_a_json_object_is_a_400(ad_patient: Patient) -> None:
    patient = ad_patient

    response = client_as(patient.user).post(JOIN_URL, data="[1, 2]", content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


# --- admin: issuing codes -------------------------------------------------------------------------------------


def test_a_dermatologist_opens_the_add_join_code_page(dermatologist: User) -> None:

    response = admin_client_as(dermatologist).get(ADMIN_CODE_ADD)

    assert response.status_code == 200
    assert b'name="dermatologist"' not in response.content  # they issue codes for themselves only


def test_a_dermatologist_creates_a_code_for_themselves_in_the_admin(dermatologist: User) -> None:
    started = timezone.now()

    response = admin_client_as(dermatologist).post(ADMIN_CODE_ADD, {})

    assert response.status_code == 302, response.content[:2000]
    join_code = CareTeamJoinCode.objects.get()
    assert join_code.dermatologist == dermatologist
    assert join_code.created_by == dermatologist
    assert len(join_code.code) == 8
    assert join_code.expires_at >= started + settings.CARE_TEAM_JOIN_CODE_TTL
    assert join_code.used_at is None


def test_clinic_staff_create_a_code_for_a_chosen_dermatologist_in_the_admin(
    clinic_staff: User, dermatologist: User, stranger: User
) -> None:
    staff = clinic_staff
    chosen = stranger  # the clinic's dermatologist is another one, not chosen
    client = admin_client_as(staff)
    form = client.get(ADMIN_CODE_ADD)
    assert form.status_code == 200
    assert b'name="dermatologist"' in form.content

    response = client.post(ADMIN_CODE_ADD, {"dermatologist": chosen.pk})

    assert response.status_code == 302, response.content[:2000]
    join_code = CareTeamJoinCode.objects.get()
    assert join_code.dermatologist == chosen
    assert join_code.created_by == staff
    assert len(join_code.code) == 8


def test_clinic_staff_cannot_issue_a_code_for_a_non_dermatologist_in_the_admin(
    clinic_staff: User, caregiver: User
) -> None:
    response = admin_client_as(clinic_staff).post(ADMIN_CODE_ADD, {"dermatologist": caregiver.pk})

    assert response.status_code == 200  # the form again, with an error
    assert not CareTeamJoinCode.objects.exists()


def test_a_code_issued_in_the_admin_lets_a_patient_join(
    clinic_staff: User, stranger: User, ad_patient: Patient
) -> None:
    dermatologist = stranger
    issued = admin_client_as(clinic_staff).post(ADMIN_CODE_ADD, {"dermatologist": dermatologist.pk})
    assert issued.status_code == 302
    join_code = CareTeamJoinCode.objects.get()
    patient = ad_patient

    response = client_as(patient.user).post(
        JOIN_URL, {"code": join_code.code, "patient": str(patient.pk)}, format="json"
    )

    assert response.status_code == 200
    assert on_team(patient, dermatologist)


def test_a_dermatologist_sees_only_their_own_codes_in_the_admin(dermatologist: User, stranger: User) -> None:
    colleague = stranger
    own = [issue(dermatologist) for _ in range(2)]
    theirs = [issue(colleague) for _ in range(2)]

    response = admin_client_as(dermatologist).get(ADMIN_CODE_LIST)

    assert response.status_code == 200
    content = response.content.decode()
    for join_code in own:
        assert join_code.code in content
    for join_code in theirs:
        assert join_code.code not in content


def test_clinic_staff_see_every_code_in_the_admin(clinic_staff: User, dermatologist: User, stranger: User) -> None:
    codes = [issue(issuer) for issuer in (dermatologist, stranger, DermatologistFactory())]

    response = admin_client_as(clinic_staff).get(ADMIN_CODE_LIST)

    assert response.status_code == 200
    content = response.content.decode()
    assert all(join_code.code in content for join_code in codes)


def test_a_dermatologist_cannot_open_a_colleagues_code_in_the_admin(dermatologist: User, stranger: User) -> None:
    theirs = issue(stranger)

    response = admin_client_as(dermatologist).get(f"/admin/accounts/careteamjoincode/{theirs.pk}/change/")

    assert response.status_code in (302, 404)
    assert theirs.code not in response.content.decode()


@pytest.mark.parametrize("factory", [CaregiverFactory, lambda: PatientFactory().user])
def test_a_non_staff_user_cannot_reach_the_join_code_admin(factory) -> None:
    response = admin_client_as(factory()).post(ADMIN_CODE_ADD, {})

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert not CareTeamJoinCode.objects.exists()


# --- admin: patients scoped by care team ----------------------------------------------------------------------


@pytest.fixture
def two_teams(dermatologist: User, ad_patient: Patient, child: Patient) -> dict[str, object]:
    """The clinic's dermatologist with the AD patient (Nassar) and the child (Saleh), and a colleague's team."""
    colleague = DermatologistFactory()
    not_mine = PatientFactory(first_name="Xavier", last_name="Elsewhere")
    nobodys = DependentFactory(first_name="Yolanda", last_name="Unassigned")
    CareTeamMembershipFactory(patient=not_mine, clinician=colleague)
    return {
        "dermatologist": dermatologist,
        "colleague": colleague,
        "mine": ad_patient,
        "my_child": child,
        "not_mine": not_mine,
        "nobodys": nobodys,
    }


def test_a_dermatologist_sees_only_their_care_teams_patients_in_the_admin(two_teams) -> None:
    response = admin_client_as(two_teams["dermatologist"]).get(ADMIN_PATIENT_LIST)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Nassar" in content
    assert "Saleh" in content
    assert "Elsewhere" not in content
    assert "Unassigned" not in content


def test_clinic_staff_see_every_patient_in_the_admin(two_teams, clinic_staff: User) -> None:
    response = admin_client_as(clinic_staff).get(ADMIN_PATIENT_LIST)

    assert response.status_code == 200
    content = response.content.decode()
    for name in ("Nassar", "Saleh", "Elsewhere", "Unassigned"):
        assert name in content


def test_a_dermatologist_opens_a_care_team_patient_in_the_admin(two_teams) -> None:
    mine = two_teams["mine"]

    response = admin_client_as(two_teams["dermatologist"]).get(f"/admin/accounts/patient/{mine.pk}/change/")

    assert response.status_code == 200
    assert "Nassar" in response.content.decode()


@pytest.mark.parametrize("whose", ["not_mine", "nobodys"])
def test_a_dermatologist_cannot_open_another_patient_in_the_admin(two_teams, whose: str) -> None:
    other = two_teams[whose]

    response = admin_client_as(two_teams["dermatologist"]).get(f"/admin/accounts/patient/{other.pk}/change/")

    assert response.status_code in (302, 404)
    assert other.last_name not in response.content.decode()


def test_a_dermatologist_cannot_find_another_patient_by_admin_search(two_teams) -> None:
    response = admin_client_as(two_teams["dermatologist"]).get(ADMIN_PATIENT_LIST, {"q": "Elsewhere"})

    assert response.status_code == 200
    content = response.content.decode()
    assert "Xavier" not in content
    assert "Nassar" not in content


def _care_team_inline_post(patient: Patient, clinician: User) -> dict[str, str]:
    return {
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "birth_date": patient.birth_date.isoformat(),
        "timezone": patient.timezone,
        "condition": patient.condition,
        "care_team_memberships-TOTAL_FORMS": "1",
        "care_team_memberships-INITIAL_FORMS": "0",
        "care_team_memberships-MIN_NUM_FORMS": "0",
        "care_team_memberships-MAX_NUM_FORMS": "1000",
        "care_team_memberships-0-patient": str(patient.pk),
        "care_team_memberships-0-clinician": str(clinician.pk),
        "care_team_memberships-0-joined_at_0": "2026-01-05",
        "care_team_memberships-0-joined_at_1": "10:00:00",
    }


def test_clinic_staff_add_a_dermatologist_to_a_care_team_in_the_admin(clinic_staff: User, stranger: User) -> None:
    patient = PatientFactory()  # on no care team yet: the inline posted holds the one membership
    dermatologist = stranger

    response = admin_client_as(clinic_staff).post(
        f"/admin/accounts/patient/{patient.pk}/change/", _care_team_inline_post(patient, dermatologist)
    )

    assert response.status_code == 302, response.content[:2000]
    assert on_team(patient, dermatologist)
    assert client_as(dermatologist).get(detail_url(patient)).status_code == 200


@pytest.mark.parametrize("factory", [lambda: PatientFactory().user, CaregiverFactory])
def test_the_admin_refuses_a_non_dermatologist_on_a_care_team(factory, clinic_staff: User) -> None:
    patient = PatientFactory()  # on no care team yet: the inline posted holds the one membership
    not_a_dermatologist = factory()

    response = admin_client_as(clinic_staff).post(
        f"/admin/accounts/patient/{patient.pk}/change/", _care_team_inline_post(patient, not_a_dermatologist)
    )

    assert response.status_code == 200  # the form again, with an error
    assert not on_team(patient, not_a_dermatologist)
    assert client_as(not_a_dermatologist).get(detail_url(patient)).status_code == 404
