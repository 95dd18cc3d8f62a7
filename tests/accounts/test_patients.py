"""Who sees which patient (selectors), and the /api/v1/patients/ endpoints: list, create a dependent, edit."""

from __future__ import annotations

import datetime
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Patient, Role, User
from accounts.selectors import patient_visible_to, patients_actable_by, patients_visible_to
from tests.factories import (
    CaregiverFactory,
    CareTeamMembershipFactory,
    DependentFactory,
    DermatologistFactory,
    PatientFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/patients/"
ME_URL = "/api/v1/me/"


def detail_url(patient: Patient) -> str:
    return f"/api/v1/patients/{patient.pk}/"


def bearer(client: APIClient, user: User) -> APIClient:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def ids(patients: object) -> set[str]:
    return {str(patient.pk) for patient in patients}  # type: ignore[attr-defined]


def result_ids(response: object) -> list[str]:
    return [item["id"] for item in response.json()["results"]]  # type: ignore[attr-defined]


def expected_age(birth_date: datetime.date, timezone_name: str) -> int:
    today = datetime.datetime.now(ZoneInfo(timezone_name)).date()
    return today.year - birth_date.year - ((today.month, today.day) < (birth_date.month, birth_date.day))


def dependent_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "first_name": "Amira",
        "last_name": "Haddad",
        "birth_date": "2019-06-15",
        "timezone": "Asia/Qatar",
        "condition": "atopic_dermatitis",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture
def families(
    ad_patient: Patient, caregiver: User, child: Patient, dermatologist: User, clinic_staff: User
) -> dict[str, object]:
    """The shared personas (tests/personas.py), and a second family and a second care team around them.

    - `adult`: the AD patient, with their own login, on `dermatologist`'s care team;
    - `child` and `sibling`: dependents of `parent` (the child also of `co_parent`); the child is on
      `dermatologist`'s care team too;
    - `stranger`: another adult, on `other_dermatologist`'s care team only;
    - `stranger_child`: another family's dependent, on no care team.
    """
    co_parent = CaregiverFactory()
    child.caregivers.add(co_parent)
    sibling = DependentFactory(caregiver=caregiver, first_name="Simon")
    stranger = PatientFactory(first_name="Stan", last_name="Stranger")
    stranger_child = DependentFactory(first_name="Sally")

    other_dermatologist = DermatologistFactory()
    # A colleague on the same team must not make the child appear twice.
    CareTeamMembershipFactory(patient=child, clinician=other_dermatologist)
    CareTeamMembershipFactory(patient=stranger, clinician=other_dermatologist)
    return {
        "parent": caregiver,
        "co_parent": co_parent,
        "adult": ad_patient,
        "child": child,
        "sibling": sibling,
        "stranger": stranger,
        "stranger_child": stranger_child,
        "dermatologist": dermatologist,
        "other_dermatologist": other_dermatologist,
        "clinic_staff": clinic_staff,
        "all": [ad_patient, child, sibling, stranger, stranger_child],
    }


# --- selectors ------------------------------------------------------------------------------------------------


def test_a_patient_sees_only_themselves(families) -> None:
    adult = families["adult"]

    visible = patients_visible_to(adult.user)

    assert list(visible) == [adult]


def test_a_caregiver_sees_only_their_dependents(families) -> None:
    assert ids(patients_visible_to(families["parent"])) == ids([families["child"], families["sibling"]])
    assert ids(patients_visible_to(families["co_parent"])) == ids([families["child"]])


def test_a_caregiver_sees_each_dependent_once_however_many_caregivers_it_has(families) -> None:
    visible = list(patients_visible_to(families["co_parent"]))

    assert visible == [families["child"]]
    assert patients_visible_to(families["parent"]).count() == 2


def test_a_dermatologist_sees_only_the_patients_on_their_care_teams(families) -> None:
    assert ids(patients_visible_to(families["dermatologist"])) == ids([families["adult"], families["child"]])
    assert ids(patients_visible_to(families["other_dermatologist"])) == ids([families["child"], families["stranger"]])


def test_a_dermatologist_sees_each_patient_once_even_when_several_links_reach_them(families) -> None:
    dermatologist = families["dermatologist"]
    child = families["child"]
    # The child already has two caregivers and two dermatologists; link this dermatologist a second way too.
    child.caregivers.add(dermatologist)

    visible = list(patients_visible_to(dermatologist))

    assert len(visible) == 2
    assert ids(visible) == ids([families["adult"], child])
    assert patients_visible_to(dermatologist).count() == 2


def test_a_patient_sees_only_themselves_even_with_a_stray_care_team_row(families) -> None:
    adult = families["adult"]
    CareTeamMembershipFactory(patient=families["stranger"], clinician=adult.user)

    assert list(patients_visible_to(adult.user)) == [adult]


def test_a_dermatologist_on_no_care_team_sees_nobody(families, stranger: User) -> None:
    assert not patients_visible_to(stranger).exists()


def test_clinic_staff_see_every_patient(families) -> None:
    assert ids(patients_visible_to(families["clinic_staff"])) == ids(families["all"])


def test_a_superuser_sees_every_patient_whatever_their_role(families) -> None:
    superuser = User.objects.create_superuser("root@test.example", "x" * 20)
    patient_role_superuser = UserFactory(is_superuser=True, role=Role.PATIENT)

    assert ids(patients_visible_to(superuser)) == ids(families["all"])
    assert ids(patients_visible_to(patient_role_superuser)) == ids(families["all"])


@pytest.mark.parametrize("who", ["adult", "parent", "dermatologist", "clinic_staff"])
def test_an_inactive_user_sees_nobody(families, who: str) -> None:
    user = families[who]
    user = user.user if isinstance(user, Patient) else user
    assert patients_visible_to(user).exists()  # active, they see someone

    user.is_active = False
    user.save(update_fields=["is_active"])

    assert not patients_visible_to(user).exists()
    assert not patients_actable_by(user).exists()


def test_an_inactive_superuser_sees_nobody(families) -> None:
    superuser = User.objects.create_superuser("root@test.example", "x" * 20, is_active=False)

    assert not patients_visible_to(superuser).exists()


def test_an_anonymous_user_sees_nobody(families) -> None:
    assert not patients_visible_to(AnonymousUser()).exists()
    assert not patients_actable_by(AnonymousUser()).exists()


def test_a_dermatologist_acts_for_nobody_not_even_their_care_team(families) -> None:
    dermatologist = families["dermatologist"]
    assert patients_visible_to(dermatologist).exists()

    assert not patients_actable_by(dermatologist).exists()
    assert not may_act_for(dermatologist, families["adult"])


def test_clinic_staff_act_for_nobody(families) -> None:
    assert not patients_actable_by(families["clinic_staff"]).exists()


def may_act_for(user: User, patient: Patient) -> bool:
    found = patient_visible_to(user, patient.pk)
    return found is not None and found[1]


def test_one_patient_is_found_and_judged_in_one_query_as_the_lists_are(families, django_assert_num_queries) -> None:
    """`patient_visible_to` (what every /patients/{patient}/ route uses) agrees with both lists, for everyone."""
    # Clinicians and superusers who also care for someone: they see more than they may act for.
    caring_superuser = User.objects.create_superuser("root-parent@test.example", "x" * 20)
    caring_staff = families["clinic_staff"]
    families["stranger_child"].caregivers.add(caring_superuser)
    families["stranger"].caregivers.add(caring_staff)
    families["sibling"].caregivers.add(families["dermatologist"])
    inactive = CaregiverFactory(is_active=False)
    families["sibling"].caregivers.add(inactive)
    users = [
        families["parent"],
        families["co_parent"],
        families["dermatologist"],
        families["other_dermatologist"],
        caring_superuser,
        caring_staff,
        inactive,
        *(patient.user for patient in families["all"] if patient.user_id),
    ]
    for user in users:
        visible, actable = ids(patients_visible_to(user)), ids(patients_actable_by(user))
        for patient in families["all"]:
            with django_assert_num_queries(0 if not user.is_active else 1):
                found = patient_visible_to(user, patient.pk)
            assert (found is not None) == (str(patient.pk) in visible)
            if found is not None:
                assert found[0] == patient
                assert found[1] is (str(patient.pk) in actable)
    assert patient_visible_to(caring_superuser, families["stranger_child"].pk) == (families["stranger_child"], True)
    assert patient_visible_to(caring_superuser, families["adult"].pk) == (families["adult"], False)
    assert patient_visible_to(families["dermatologist"], families["sibling"].pk) == (families["sibling"], True)
    assert patient_visible_to(families["dermatologist"], families["adult"].pk) == (families["adult"], False)


def test_an_anonymous_user_finds_nobody_without_a_query(families, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        assert patient_visible_to(AnonymousUser(), families["adult"].pk) is None


def test_patients_and_caregivers_act_for_exactly_whom_they_see(families) -> None:
    for user in (families["adult"].user, families["parent"], families["co_parent"]):
        assert ids(patients_actable_by(user)) == ids(patients_visible_to(user))
    assert may_act_for(families["parent"], families["sibling"])
    assert not may_act_for(families["co_parent"], families["sibling"])
    assert not may_act_for(families["adult"].user, families["stranger"])


# --- GET /api/v1/patients/ ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("adult", ["adult"]),
        ("parent", ["child", "sibling"]),
        ("co_parent", ["child"]),
        ("dermatologist", ["adult", "child"]),
        ("other_dermatologist", ["child", "stranger"]),
        ("clinic_staff", ["adult", "child", "sibling", "stranger", "stranger_child"]),
    ],
)
def test_the_patient_list_holds_exactly_the_callers_visible_patients(
    api_client: APIClient, families, who: str, expected: list[str]
) -> None:
    user = families[who]
    user = user.user if isinstance(user, Patient) else user
    bearer(api_client, user)

    response = api_client.get(LIST_URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert body["next"] is None
    assert body["previous"] is None
    assert sorted(result_ids(response)) == sorted(str(families[name].pk) for name in expected)


def test_a_patient_list_item_carries_the_contract_fields(api_client: APIClient, families) -> None:
    child = families["child"]
    api_client.force_authenticate(families["co_parent"])

    (item,) = api_client.get(LIST_URL).json()["results"]

    assert item["id"] == str(child.pk)
    assert item["first_name"] == "Yusuf"
    assert item["birth_date"] == child.birth_date.isoformat()
    assert item["timezone"] == child.timezone
    assert item["condition"] == child.condition
    assert item["has_own_login"] is False
    assert item["age"] == expected_age(child.birth_date, child.timezone)
    assert {"created_at", "updated_at", "last_name"} <= set(item)


def test_the_patient_list_says_who_has_their_own_login(api_client: APIClient, families) -> None:
    api_client.force_authenticate(families["dermatologist"])

    results = api_client.get(LIST_URL).json()["results"]

    logins = {item["id"]: item["has_own_login"] for item in results}
    assert logins == {str(families["adult"].pk): True, str(families["child"].pk): False}


def test_an_anonymous_caller_gets_401_for_the_patient_list(api_client: APIClient, families) -> None:
    response = api_client.get(LIST_URL)

    assert response.status_code == 401
    assert "detail" in response.json()


def test_an_invalid_bearer_token_gets_401_for_the_patient_list(api_client: APIClient, families) -> None:
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert api_client.get(LIST_URL).status_code == 401


def test_the_patient_list_pages_through_every_patient_once(api_client: APIClient, dermatologist: User) -> None:
    patients = [CareTeamMembershipFactory(clinician=dermatologist).patient for _ in range(5)]
    PatientFactory()  # not on the team
    api_client.force_authenticate(dermatologist)

    seen: list[str] = []
    url: str | None = f"{LIST_URL}?page_size=2"
    pages = 0
    while url:
        response = api_client.get(url)
        assert response.status_code == 200
        seen += result_ids(response)
        url = response.json()["next"]
        pages += 1

    assert pages == 3
    assert sorted(seen) == sorted(str(patient.pk) for patient in patients)


def _list_query_count(api_client: APIClient, user: User) -> int:
    api_client.force_authenticate(user)
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(LIST_URL)
    assert response.status_code == 200
    return len(queries)


def test_the_patient_list_query_count_does_not_grow_with_the_number_of_patients(
    api_client: APIClient, clinic_staff: User, dermatologist: User, caregiver: User
) -> None:
    staff = clinic_staff

    def add_patients(count: int) -> None:
        # Dependents and patients with a login of their own, so a lazy load of either kind would show.
        for _ in range(count):
            CareTeamMembershipFactory(clinician=dermatologist, patient=DependentFactory(caregiver=caregiver))
            CareTeamMembershipFactory(clinician=dermatologist, patient=PatientFactory())

    add_patients(2)
    few = {user.pk: _list_query_count(api_client, user) for user in (staff, dermatologist, caregiver)}
    add_patients(18)
    many = {user.pk: _list_query_count(api_client, user) for user in (staff, dermatologist, caregiver)}

    assert len(api_client.get(LIST_URL).json()["results"]) == 20  # the last caller, the caregiver, sees all 20
    assert many == few
    assert max(many.values()) <= 3


def test_the_patient_list_with_a_bearer_token_stays_within_a_query_ceiling(
    api_client: APIClient, django_assert_max_num_queries, caregiver: User, ad_patient: Patient
) -> None:
    for _ in range(20):
        DependentFactory(caregiver=caregiver)
    ad_patient.caregivers.add(caregiver)  # a grown-up child with a login, still helped by a parent
    bearer(api_client, caregiver)

    with django_assert_max_num_queries(4):
        response = api_client.get(LIST_URL)

    assert len(response.json()["results"]) == 21


# --- POST /api/v1/patients/ -----------------------------------------------------------------------------------


def test_a_caregiver_creates_a_dependent(api_client: APIClient, caregiver: User) -> None:
    bearer(api_client, caregiver)

    response = api_client.post(LIST_URL, dependent_body(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["first_name"] == "Amira"
    assert body["last_name"] == "Haddad"
    assert body["birth_date"] == "2019-06-15"
    assert body["timezone"] == "Asia/Qatar"
    assert body["condition"] == "atopic_dermatitis"
    assert body["has_own_login"] is False
    assert body["age"] == expected_age(datetime.date(2019, 6, 15), "Asia/Qatar")
    patient = Patient.objects.get(pk=body["id"])
    assert patient.user is None
    assert list(patient.caregivers.all()) == [caregiver]


def test_a_created_dependent_shows_in_the_caregivers_list_and_me(
    api_client: APIClient, caregiver: User, child: Patient
) -> None:
    existing = child
    api_client.force_authenticate(caregiver)

    new_id = api_client.post(LIST_URL, dependent_body(), format="json").json()["id"]

    assert sorted(result_ids(api_client.get(LIST_URL))) == sorted([str(existing.pk), new_id])
    me = api_client.get(ME_URL)
    assert me.status_code == 200
    assert sorted(item["id"] for item in me.json()["patients"]) == sorted([str(existing.pk), new_id])


def test_a_created_dependent_is_not_visible_to_another_caregiver(api_client: APIClient, caregiver: User) -> None:
    api_client.force_authenticate(caregiver)
    new_id = api_client.post(LIST_URL, dependent_body(), format="json").json()["id"]

    other = APIClient()
    other.force_authenticate(CaregiverFactory())

    assert other.get(LIST_URL).json()["results"] == []
    assert other.get(f"{LIST_URL}{new_id}/").status_code == 404


def test_a_dependent_without_last_name_is_created_with_a_blank_one(api_client: APIClient, caregiver: User) -> None:
    api_client.force_authenticate(caregiver)

    response = api_client.post(LIST_URL, dependent_body(last_name=None), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["last_name"] == ""


@pytest.mark.parametrize("role", ["patient", "dermatologist", "clinic_staff"])
def test_only_caregivers_create_dependents(api_client: APIClient, role: str, request: pytest.FixtureRequest) -> None:
    persona = {"patient": "ad_patient", "dermatologist": "dermatologist", "clinic_staff": "clinic_staff"}[role]
    user = request.getfixturevalue(persona)
    user = user.user if isinstance(user, Patient) else user
    bearer(api_client, user)
    before = Patient.objects.count()

    response = api_client.post(LIST_URL, dependent_body(), format="json")

    assert response.status_code == 403, response.content
    assert "detail" in response.json()
    assert Patient.objects.count() == before


def test_an_anonymous_caller_cannot_create_a_dependent(api_client: APIClient) -> None:
    response = api_client.post(LIST_URL, dependent_body(), format="json")

    assert response.status_code == 401
    assert not Patient.objects.exists()


def test_an_unknown_timezone_is_a_400_naming_timezone(api_client: APIClient, caregiver: User) -> None:
    api_client.force_authenticate(caregiver)

    response = api_client.post(LIST_URL, dependent_body(timezone="Mars/Olympus"), format="json")

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"timezone"}
    assert "Mars/Olympus" in " ".join(errors["timezone"])
    assert not Patient.objects.exists()


def test_an_unknown_condition_is_a_400_listing_the_allowed_values(api_client: APIClient, caregiver: User) -> None:
    api_client.force_authenticate(caregiver)

    response = api_client.post(LIST_URL, dependent_body(condition="psoriasis"), format="json")

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"condition"}
    message = " ".join(errors["condition"])
    assert "psoriasis" in message
    for allowed in ("atopic_dermatitis", "cle_acute", "cle_subacute", "cle_discoid", "cle_other"):
        assert allowed in message
    assert not Patient.objects.exists()


def test_a_birth_date_in_the_future_is_a_400_naming_birth_date(api_client: APIClient, caregiver: User) -> None:
    api_client.force_authenticate(caregiver)
    future = datetime.date.today() + datetime.timedelta(days=30)

    response = api_client.post(LIST_URL, dependent_body(birth_date=future.isoformat()), format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"birth_date"}
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("now_utc", "timezone_name", "birth_date", "status"),
    [
        # 01:30 on 11 March in Qatar: a baby born there today is not born in the future.
        ("2026-03-10T22:30:00+00:00", "Asia/Qatar", "2026-03-11", 201),
        # 19:00 on 10 March in Honolulu: 11 March is still tomorrow there.
        ("2026-03-11T05:00:00+00:00", "Pacific/Honolulu", "2026-03-11", 400),
    ],
    ids=["today-east-of-utc", "tomorrow-west-of-utc"],
)
def test_the_future_birth_date_check_follows_the_patients_calendar(
    api_client: APIClient, caregiver: User, now_utc: str, timezone_name: str, birth_date: str, status: int
) -> None:
    api_client.force_authenticate(caregiver)

    with time_machine.travel(datetime.datetime.fromisoformat(now_utc), tick=False):
        response = api_client.post(
            LIST_URL, dependent_body(birth_date=birth_date, timezone=timezone_name), format="json"
        )

    assert response.status_code == status, response.content
    if status == 201:
        assert response.json()["age"] == 0
    else:
        assert set(response.json()) == {"birth_date"}


def test_a_malformed_birth_date_is_a_400_naming_birth_date(api_client: APIClient, caregiver: User) -> None:
    api_client.force_authenticate(caregiver)

    response = api_client.post(LIST_URL, dependent_body(birth_date="15/06/2019"), format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"birth_date"}


def test_a_missing_first_name_is_a_400_naming_first_name(api_client: APIClient, caregiver: User) -> None:
    api_client.force_authenticate(caregiver)
    body = dependent_body()
    del body["first_name"]

    response = api_client.post(LIST_URL, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"first_name"}
    assert not Patient.objects.exists()


def test_an_empty_body_is_a_400_naming_every_required_field(api_client: APIClient, caregiver: User) -> None:
    api_client.force_authenticate(caregiver)

    response = api_client.post(LIST_URL, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"first_name", "birth_date", "timezone", "condition"}


# --- GET, PATCH /api/v1/patients/{id}/ ------------------------------------------------------------------------


def test_a_patient_reads_their_own_record(api_client: APIClient, ad_patient: Patient) -> None:
    patient = ad_patient
    bearer(api_client, patient.user)

    response = api_client.get(detail_url(patient))

    assert response.status_code == 200
    assert response.json()["id"] == str(patient.pk)
    assert response.json()["has_own_login"] is True


def test_a_patient_changes_their_timezone(api_client: APIClient, cle_patient: Patient) -> None:
    patient = cle_patient  # the persona in Europe/London
    bearer(api_client, patient.user)

    response = api_client.patch(detail_url(patient), {"timezone": "America/New_York"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["timezone"] == "America/New_York"
    patient.refresh_from_db()
    assert patient.timezone == "America/New_York"
    assert api_client.get(detail_url(patient)).json()["timezone"] == "America/New_York"


def test_a_caregiver_renames_a_dependent(api_client: APIClient, caregiver: User, child: Patient) -> None:
    untouched_birth_date = child.birth_date
    api_client.force_authenticate(caregiver)

    response = api_client.patch(detail_url(child), {"first_name": "Thomas"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["first_name"] == "Thomas"
    child.refresh_from_db()
    assert child.first_name == "Thomas"
    assert child.birth_date == untouched_birth_date


def test_a_patch_bumps_updated_at(api_client: APIClient, ad_patient: Patient) -> None:
    patient = ad_patient
    before = patient.updated_at
    api_client.force_authenticate(patient.user)

    api_client.patch(detail_url(patient), {"last_name": "Newname"}, format="json")

    patient.refresh_from_db()
    assert patient.last_name == "Newname"
    assert patient.updated_at > before


def test_patching_an_invalid_timezone_is_a_400_naming_timezone(api_client: APIClient, cle_patient: Patient) -> None:
    patient = cle_patient  # the persona in Europe/London
    api_client.force_authenticate(patient.user)

    response = api_client.patch(detail_url(patient), {"timezone": "Mars/Olympus"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"timezone"}
    patient.refresh_from_db()
    assert patient.timezone == "Europe/London"


def test_patching_a_birth_date_into_the_future_is_a_400_naming_birth_date(
    api_client: APIClient, ad_patient: Patient
) -> None:
    patient = ad_patient
    api_client.force_authenticate(patient.user)
    future = datetime.date.today() + datetime.timedelta(days=30)

    response = api_client.patch(detail_url(patient), {"birth_date": future.isoformat()}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"birth_date"}
    patient.refresh_from_db()
    assert patient.birth_date == datetime.date(1990, 5, 17)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "00000000-0000-4000-8000-000000000000"),
        ("created_at", "2020-01-01T00:00:00+00:00"),
        ("updated_at", "2020-01-01T00:00:00+00:00"),
        ("has_own_login", False),
        ("user", 1),
        ("favourite_colour", "blue"),
    ],
)
def test_patching_a_read_only_or_unknown_field_is_a_400_naming_it(
    api_client: APIClient, ad_patient: Patient, field: str, value
) -> None:
    patient = ad_patient
    api_client.force_authenticate(patient.user)
    original = Patient.objects.values().get(pk=patient.pk)

    response = api_client.patch(detail_url(patient), {field: value, "first_name": "Changed"}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Patient.objects.values().get(pk=patient.pk) == original


@pytest.mark.parametrize("method", ["put", "delete"])
def test_put_and_delete_on_a_patient_are_405(api_client: APIClient, ad_patient: Patient, method: str) -> None:
    patient = ad_patient
    api_client.force_authenticate(patient.user)

    response = getattr(api_client, method)(detail_url(patient), dependent_body(), format="json")

    assert response.status_code == 405
    assert "detail" in response.json()
    assert Patient.objects.filter(pk=patient.pk, first_name=patient.first_name).exists()


def test_a_dermatologist_may_read_but_not_patch_a_care_team_patient(
    api_client: APIClient, dermatologist: User, ad_patient: Patient
) -> None:
    api_client.force_authenticate(dermatologist)

    assert api_client.get(detail_url(ad_patient)).status_code == 200
    response = api_client.patch(detail_url(ad_patient), {"first_name": "X"}, format="json")

    assert response.status_code == 403
    ad_patient.refresh_from_db()
    assert ad_patient.first_name != "X"


def test_another_caregiver_gets_404_for_a_dependent_not_theirs(api_client: APIClient, caregiver: User) -> None:
    child = DependentFactory()  # another family's
    api_client.force_authenticate(caregiver)

    assert api_client.get(detail_url(child)).status_code == 404
    assert api_client.patch(detail_url(child), {"first_name": "X"}, format="json").status_code == 404


# --- malformed bodies -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "target"), [("post", "list"), ("patch", "detail")])
def test_malformed_json_is_a_400_with_a_detail(
    api_client: APIClient, caregiver: User, child: Patient, method: str, target: str
) -> None:
    api_client.force_authenticate(caregiver)
    url = LIST_URL if target == "list" else detail_url(child)

    response = getattr(api_client, method)(url, data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert isinstance(response.json()["detail"], str)
    assert "JSON" in response.json()["detail"]


@pytest.mark.parametrize("body", [[], [{"first_name": "A"}], "a string", 42, None])
@pytest.mark.parametrize(("method", "target"), [("post", "list"), ("patch", "detail")])
def test_a_json_body_that_is_not_an_object_is_a_400(
    api_client: APIClient, caregiver: User, child: Patient, method: str, target: str, body
) -> None:
    api_client.force_authenticate(caregiver)
    url = LIST_URL if target == "list" else detail_url(child)

    response = getattr(api_client, method)(url, data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert Patient.objects.count() == 1
    child.refresh_from_db()
    assert child.first_name == "Yusuf"


def test_a_form_encoded_body_is_refused_not_a_500(api_client: APIClient, caregiver: User) -> None:
    api_client.force_authenticate(caregiver)

    response = api_client.post(LIST_URL, data="first_name=A", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert "detail" in response.json()


# --- unknown routes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/",
        "/api/v1/patients/not-a-uuid/",
        "/api/v1/patients/00000000-0000-4000-8000-000000000000/nope/",
        "/api/v2/patients/",
        "/api/",
    ],
)
@pytest.mark.parametrize("authenticated", [True, False])
def test_an_unknown_api_route_is_a_json_404(
    api_client: APIClient, path: str, authenticated: bool, request: pytest.FixtureRequest
) -> None:
    if authenticated:
        api_client.force_authenticate(request.getfixturevalue("ad_patient").user)

    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert b"<html" not in response.content.lower()
    assert isinstance(response.json()["detail"], str)


def test_an_unknown_patient_id_is_a_json_404(api_client: APIClient, clinic_staff: User) -> None:
    api_client.force_authenticate(clinic_staff)

    response = api_client.get("/api/v1/patients/00000000-0000-4000-8000-000000000000/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
