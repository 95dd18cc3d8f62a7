"""Regimens through the API: the label rules, the FTU suggestion, the tube estimate, step-downs, PATCH."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from accounts.models import Patient, User
from tests.personas import Clinic, client_as, regimen_row
from tests.tracking.conftest import base
from tracking.models import Application, Regimen

UTC = datetime.UTC
# 15:00 on Saturday 10 October 2026 in Doha, the fixture patient's zone.
NOW = datetime.datetime(2026, 10, 10, 12, 0, tzinfo=UTC)
TODAY = datetime.date(2026, 10, 10)
ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[None]:
    # Autouse, so it is in force before the client fixtures sign their tokens.
    with time_machine.travel(NOW, tick=False):
        yield


def regimen_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "drug": "tacrolimus",
        "strength": "0.1",
        "body_areas": ["face", "neck", "hand_left"],
        "times": ["20:00", "08:00"],
        "start_date": "2026-10-01",
    }
    body.update(overrides)
    return {name: value for name, value in body.items() if value is not ...}


def create(client: APIClient, patient: Patient, **overrides: Any) -> Any:
    return client.post(f"{base(patient)}regimens/", regimen_body(**overrides), format="json")


def regimen_url(patient: Patient, regimen_id: object) -> str:
    return f"{base(patient)}regimens/{regimen_id}/"


def step_down(client: APIClient, patient: Patient, regimen_id: object, **body: Any) -> Any:
    return client.post(f"{regimen_url(patient, regimen_id)}step-down/", body, format="json")


def born_years_before(date: datetime.date, years: int, days_later: int = 0) -> datetime.date:
    """A birth date making the patient exactly `years` old on `date` (younger by `days_later` days)."""
    return date.replace(year=date.year - years) + datetime.timedelta(days=days_later)


def as_decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def log_application(
    patient: Patient,
    regimen: Regimen,
    amount_ftu: str | None,
    *,
    applied_at: datetime.datetime = NOW - datetime.timedelta(days=1),
    deleted: bool = False,
) -> Application:
    return Application.objects.create(
        patient=patient,
        regimen=regimen,
        applied_at=applied_at,
        body_areas=regimen.body_areas,
        amount_ftu=None if amount_ftu is None else Decimal(amount_ftu),
        created_by=patient.user,
        fingerprint="test",
        deleted_at=NOW if deleted else None,
    )


# --- Creating, and the label rules -----------------------------------------------------------


def test_a_treatment_regimen_is_created_daily_with_its_times_in_order(client: APIClient, patient: Patient) -> None:
    response = create(client, patient)

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["patient"] == str(patient.pk)
    assert data["phase"] == "treatment"
    assert data["weekdays"] == ALL_DAYS
    assert data["times"] == ["08:00", "20:00"]
    assert data["start_date"] == "2026-10-01"
    assert data["end_date"] is None
    assert data["is_active"] is True
    assert data["previous"] is None
    assert data["next"] is None
    stored = Regimen.objects.get(pk=data["id"])
    assert stored.created_by == patient.user
    assert stored.weekdays == ALL_DAYS


@pytest.mark.parametrize(
    ("drug", "strength"),
    [("tacrolimus", "1"), ("pimecrolimus", "0.1"), ("pimecrolimus", "0.03"), ("tacrolimus", "0.05")],
)
def test_a_strength_the_drug_does_not_come_in_is_a_400_naming_strength(
    client: APIClient, patient: Patient, drug: str, strength: str
) -> None:
    response = create(client, patient, drug=drug, strength=strength)

    assert response.status_code == 400
    assert set(response.json()) == {"strength"}
    assert not Regimen.objects.exists()


def test_the_strength_error_says_which_strengths_the_drug_comes_in(client: APIClient, patient: Patient) -> None:
    response = create(client, patient, drug="pimecrolimus", strength="0.1")

    (message,) = response.json()["strength"]
    assert "1%" in message


def test_an_unknown_drug_is_a_400_naming_drug(client: APIClient, patient: Patient) -> None:
    response = create(client, patient, drug="hydrocortisone", strength="1")

    assert response.status_code == 400
    assert "drug" in response.json()


def test_tacrolimus_0_1_for_a_patient_under_16_on_the_start_date_is_a_400_naming_strength(clinic: Clinic) -> None:
    start = datetime.date(2026, 10, 1)
    patient = clinic.ad_patient(birth_date=born_years_before(start, 16, days_later=1))

    response = create(client_as(patient.user), patient, start_date=start.isoformat())

    assert response.status_code == 400
    assert set(response.json()) == {"strength"}
    (message,) = response.json()["strength"]
    assert "16" in message
    assert "0.03%" in message


def test_tacrolimus_0_1_is_allowed_from_the_16th_birthday(clinic: Clinic) -> None:
    start = datetime.date(2026, 10, 1)
    patient = clinic.ad_patient(birth_date=born_years_before(start, 16))

    response = create(client_as(patient.user), patient, start_date=start.isoformat())

    assert response.status_code == 201, response.content


def test_the_age_rule_looks_at_the_start_date_not_today(clinic: Clinic) -> None:
    # 15 today, 16 on the planned start date.
    patient = clinic.ad_patient(birth_date=born_years_before(datetime.date(2026, 12, 1), 16))
    client = client_as(patient.user)

    assert create(client, patient, start_date="2026-12-01").status_code == 201
    assert create(client, patient, start_date="2026-11-30").status_code == 400


def test_a_child_under_16_may_use_tacrolimus_0_03(caregiver: User, child: Patient) -> None:
    response = create(client_as(caregiver), child, strength="0.03")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(("drug", "strength"), [("tacrolimus", "0.03"), ("tacrolimus", "0.1"), ("pimecrolimus", "1")])
def test_any_tci_for_a_child_under_2_on_the_start_date_is_a_400_naming_drug(
    drug: str, strength: str, clinic: Clinic, caregiver: User
) -> None:
    start = datetime.date(2026, 10, 1)
    child = clinic.child_of(caregiver, birth_date=born_years_before(start, 2, days_later=1))

    response = create(client_as(caregiver), child, drug=drug, strength=strength, start_date=start.isoformat())

    assert response.status_code == 400
    assert set(response.json()) == {"drug"}
    (message,) = response.json()["drug"]
    assert "under 2" in message


def test_a_tci_is_allowed_from_the_2nd_birthday(clinic: Clinic, caregiver: User) -> None:
    start = datetime.date(2026, 10, 1)
    child = clinic.child_of(caregiver, birth_date=born_years_before(start, 2))

    response = create(client_as(caregiver), child, drug="pimecrolimus", strength="1", start_date=start.isoformat())

    assert response.status_code == 201, response.content


def test_an_end_date_before_the_start_date_is_a_400_naming_end_date(client: APIClient, patient: Patient) -> None:
    response = create(client, patient, start_date="2026-10-05", end_date="2026-10-04")

    assert response.status_code == 400
    assert set(response.json()) == {"end_date"}


def test_a_regimen_may_end_on_the_day_it_starts(client: APIClient, patient: Patient) -> None:
    response = create(client, patient, start_date="2026-10-05", end_date="2026-10-05")

    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    ("areas", "path"),
    [(["face", "elbow"], "body_areas[1]"), (["Face"], "body_areas[0]"), ([], "body_areas"), ("face", "body_areas")],
)
def test_an_unknown_area_or_no_area_is_a_400_naming_body_areas_by_path(
    client: APIClient, patient: Patient, areas: object, path: str
) -> None:
    response = create(client, patient, body_areas=areas)

    assert response.status_code == 400
    assert set(response.json()) == {path}


def test_the_unknown_area_error_lists_the_allowed_codes(client: APIClient, patient: Patient) -> None:
    response = create(client, patient, body_areas=["elbow"])

    assert "hand_left" in str(response.json()["body_areas[0]"])


def test_maintenance_without_weekdays_is_a_400_naming_weekdays(client: APIClient, patient: Patient) -> None:
    left_out_or_empty: tuple[Any, ...] = (..., [])
    for weekdays in left_out_or_empty:
        response = create(client, patient, phase="maintenance", weekdays=weekdays)

        assert response.status_code == 400
        assert set(response.json()) == {"weekdays"}


def test_maintenance_runs_on_its_chosen_weekdays_in_order(client: APIClient, patient: Patient) -> None:
    response = create(client, patient, phase="maintenance", weekdays=[4, 1], strength="0.03")

    assert response.status_code == 201, response.content
    assert response.json()["weekdays"] == [1, 4]


@pytest.mark.parametrize(
    ("weekdays", "path"),
    [
        ([1, 4], "weekdays"),
        ([1, 1], "weekdays"),
        ([0, 1, 2, 3, 4, 5, 6], "weekdays[0]"),
        ([1, 2, 3, 4, 5, 6, 8], "weekdays[6]"),
    ],
)
def test_treatment_on_anything_but_every_day_is_a_400_naming_weekdays(
    client: APIClient, patient: Patient, weekdays: list[int], path: str
) -> None:
    response = create(client, patient, weekdays=weekdays)

    assert response.status_code == 400
    assert set(response.json()) == {path}


def test_treatment_may_list_all_seven_weekdays(client: APIClient, patient: Patient) -> None:
    response = create(client, patient, weekdays=[7, 6, 5, 4, 3, 2, 1])

    assert response.status_code == 201, response.content
    assert response.json()["weekdays"] == ALL_DAYS


@pytest.mark.parametrize(
    ("times", "path"),
    # "0\u0663:00": an Arabic-Indic digit matches \d, and once crashed time.fromisoformat (a 500).
    [
        (["8:00"], "times[0]"),
        (["24:00"], "times[0]"),
        (["08:00", "08:00"], "times"),
        ([], "times"),
        (["08:00", "08:00:00"], "times[1]"),
        (["0\u0663:00"], "times[0]"),
    ],
)
def test_times_that_are_not_distinct_hh_mm_are_a_400_naming_times_by_path(
    client: APIClient, patient: Patient, times: list[str], path: str
) -> None:
    response = create(client, patient, times=times)

    assert response.status_code == 400
    assert set(response.json()) == {path}


def test_a_tube_size_that_is_not_sold_is_a_400_naming_tube_grams(client: APIClient, patient: Patient) -> None:
    response = create(client, patient, tube_grams=50)

    assert response.status_code == 400
    assert set(response.json()) == {"tube_grams"}
    assert "30" in str(response.json()["tube_grams"])


def test_an_unknown_field_is_a_400_naming_it(client: APIClient, patient: Patient) -> None:
    response = create(client, patient, frequency="bid")

    assert response.status_code == 400
    assert set(response.json()) == {"frequency"}


# --- Suggested FTU ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("areas", "ftu"),
    [
        (["face", "neck"], "2.5"),  # one face-and-neck region
        (["face", "neck", "hand_left"], "3.5"),  # 2.5 + hand 1
        (["arm_left", "arm_right"], "6"),  # 3 per arm
        (["arm_left", "hand_left"], "4"),  # arm 3 + hand 1
        (["leg_left", "foot_left", "foot_right"], "10"),  # leg 6 + two feet 2 each
        (["chest", "abdomen"], "7"),  # one front trunk
        (["upper_back", "lower_back"], "7"),  # one back
        (["scalp", "genital"], "0"),  # no row in the tables
    ],
)
def test_an_adults_suggested_ftu_adds_up_the_adult_table_regions(
    client: APIClient, patient: Patient, areas: list[str], ftu: str
) -> None:
    response = create(client, patient, body_areas=areas)

    assert response.status_code == 201, response.content
    assert as_decimal(response.json()["suggested_ftu"]) == Decimal(ftu)


@pytest.mark.parametrize(
    ("areas", "ftu"),
    [
        (["face", "eyelids", "neck"], "2"),  # face and neck, 6-10 years
        (["arm_left", "hand_left"], "2.5"),  # one arm and hand
        (["arm_left", "hand_right"], "5"),  # two sides
        (["leg_left", "foot_left"], "4.5"),  # one leg and foot
        (["chest", "upper_back"], "8.5"),  # front trunk 3.5 + back 5
    ],
)
def test_an_8_year_olds_suggested_ftu_comes_from_the_6_to_10_band(
    areas: list[str], ftu: str, caregiver: User, child: Patient
) -> None:
    assert child.age_on(TODAY) == 8

    response = create(client_as(caregiver), child, strength="0.03", body_areas=areas)

    assert response.status_code == 201, response.content
    assert as_decimal(response.json()["suggested_ftu"]) == Decimal(ftu)


def test_a_16_year_old_is_in_the_11_to_16_band_and_a_17_year_old_is_an_adult(clinic: Clinic) -> None:
    areas = ["chest", "leg_left"]
    young = clinic.ad_patient(birth_date=born_years_before(TODAY, 16))
    adult = clinic.ad_patient(birth_date=born_years_before(TODAY, 17))

    young_ftu = create(client_as(young.user), young, strength="0.03", body_areas=areas).json()["suggested_ftu"]
    adult_ftu = create(client_as(adult.user), adult, strength="0.03", body_areas=areas).json()["suggested_ftu"]

    assert as_decimal(young_ftu) == Decimal("11")  # front trunk 5 + leg and foot 6
    assert as_decimal(adult_ftu) == Decimal("13")  # front trunk 7 + leg 6


def test_the_suggestion_follows_the_patients_age_today_as_they_grow(clinic: Clinic, caregiver: User) -> None:
    # 10 today; 11 from tomorrow.
    child = clinic.child_of(caregiver, birth_date=born_years_before(TODAY, 11, days_later=1))
    regimen = regimen_row(child, strength="0.03", body_areas=["upper_back"])
    client = client_as(caregiver)

    assert as_decimal(client.get(regimen_url(child, regimen.pk)).json()["suggested_ftu"]) == Decimal("5")
    with time_machine.travel(NOW + datetime.timedelta(days=1), tick=False):
        client = client_as(caregiver)
        assert as_decimal(client.get(regimen_url(child, regimen.pk)).json()["suggested_ftu"]) == Decimal("6")


def guide_of(response: Any) -> list[tuple[list[str], Decimal]]:
    return [(row["areas"], as_decimal(row["ftu"])) for row in response.json()["ftu_guide"]]


def test_an_adults_ftu_guide_gives_each_table_region_with_the_areas_it_covers(
    client: APIClient, patient: Patient
) -> None:
    response = create(client, patient, body_areas=["face", "hand_left", "neck", "scalp", "arm_left"])

    assert response.status_code == 201, response.content
    # Face and neck are one adult row; an adult's arm and hand are two; the scalp has no row.
    assert guide_of(response) == [
        (["face", "neck"], Decimal("2.5")),
        (["hand_left"], Decimal("1")),
        (["arm_left"], Decimal("3")),
    ]
    assert as_decimal(response.json()["suggested_ftu"]) == Decimal("6.5")  # the guide's sum


def test_a_childs_ftu_guide_takes_arm_and_hand_together_as_the_childrens_table_does(
    caregiver: User, child: Patient
) -> None:
    response = create(client_as(caregiver), child, strength="0.03", body_areas=["arm_left", "hand_left", "chest"])

    assert response.status_code == 201, response.content
    assert guide_of(response) == [(["arm_left", "hand_left"], Decimal("2.5")), (["chest"], Decimal("3.5"))]


# --- Tube estimate -----------------------------------------------------------------------------


def test_without_a_tube_there_is_no_estimate(client: APIClient, patient: Patient, regimen: Regimen) -> None:
    log_application(patient, regimen, "2")

    data = client.get(regimen_url(patient, regimen.pk)).json()

    assert data["tube_grams"] is None
    assert data["estimated_grams_used"] is None
    assert data["estimated_empty_date"] is None


def test_the_tube_estimate_counts_logged_amounts_and_the_suggestion_for_logs_without_one(
    client: APIClient, patient: Patient
) -> None:
    # Adult, face + neck + left hand: suggested 2.5 + 1 = 3.5 FTU. Twice daily from 1 October.
    regimen = regimen_row(patient, tube_grams=30)
    other = regimen_row(patient, start_date=datetime.date(2026, 9, 1), end_date=datetime.date(2026, 9, 30))
    log_application(patient, regimen, "1.5")
    log_application(patient, regimen, "2")
    log_application(patient, regimen, None)  # counts as the suggested 3.5
    log_application(patient, regimen, "10", deleted=True)  # deleted: not counted
    log_application(patient, other, "5")  # another regimen's tube

    data = client.get(regimen_url(patient, regimen.pk)).json()

    # 1.5 + 2 + 3.5 = 7 FTU = 3.5 g used; 26.5 g left.
    # 3 applications used 3.5 g: 7/6 g a dose, two doses a day: 7/3 g a day.
    # 26.5 / (7/3) = 11.36: 11 whole days from today, 10 October, is 21 October.
    assert data["tube_grams"] == 30
    assert as_decimal(data["suggested_ftu"]) == Decimal("3.5")
    assert as_decimal(data["estimated_grams_used"]) == Decimal("3.5")
    assert data["estimated_empty_date"] == "2026-10-21"


def test_before_any_log_the_estimate_uses_the_suggestion_and_the_weekly_schedule(
    client: APIClient, patient: Patient
) -> None:
    response = create(
        client,
        patient,
        strength="0.03",
        phase="maintenance",
        weekdays=[1, 4],
        times=["19:00"],
        body_areas=["chest"],
        start_date="2026-10-20",
        tube_grams=30,
    )

    data = response.json()
    # Front trunk 7 FTU = 3.5 g a dose, twice a week: 1 g a day. 30 g last 30 days from the start
    # on 20 October (it has not started yet): 19 November.
    assert as_decimal(data["estimated_grams_used"]) == Decimal("0")
    assert data["estimated_empty_date"] == "2026-11-19"


def test_a_tube_used_up_is_estimated_empty_today(client: APIClient, patient: Patient) -> None:
    regimen = regimen_row(patient, tube_grams=30)
    log_application(patient, regimen, "31")
    log_application(patient, regimen, "31")

    data = client.get(regimen_url(patient, regimen.pk)).json()

    assert as_decimal(data["estimated_grams_used"]) == Decimal("31")
    assert data["estimated_empty_date"] == TODAY.isoformat()


def test_an_ended_regimen_shows_what_it_used_but_no_empty_date(client: APIClient, patient: Patient) -> None:
    regimen = regimen_row(patient, tube_grams=60, end_date=datetime.date(2026, 10, 5))
    log_application(patient, regimen, "3", applied_at=NOW - datetime.timedelta(days=6))

    data = client.get(regimen_url(patient, regimen.pk)).json()

    assert data["is_active"] is False
    assert as_decimal(data["estimated_grams_used"]) == Decimal("1.5")
    assert data["estimated_empty_date"] is None


def test_a_tube_running_out_past_the_end_of_the_calendar_has_no_empty_date_rather_than_an_error(
    client: APIClient, patient: Patient
) -> None:
    # The API takes start dates up to a year ahead; a regimen stored before that bound still answers.
    regimen = regimen_row(patient, tube_grams=100, body_areas=["face"], start_date=datetime.date(9999, 12, 1))

    response = client.get(regimen_url(patient, regimen.pk))

    assert response.status_code == 200, response.content
    # 100 g at 1.25 g a dose, twice a day, lasts 40 days: past 31 December 9999.
    assert response.json()["estimated_empty_date"] is None
    assert client.get(f"{base(patient)}regimens/").status_code == 200


def test_the_list_shows_each_regimens_own_estimate(client: APIClient, patient: Patient) -> None:
    first = regimen_row(patient, tube_grams=30, start_date=datetime.date(2026, 9, 1))
    second = regimen_row(patient, tube_grams=100, start_date=datetime.date(2026, 10, 1))
    log_application(patient, first, "4")
    log_application(patient, second, "1")
    log_application(patient, second, "1")

    results = client.get(f"{base(patient)}regimens/").json()["results"]

    used = {row["id"]: as_decimal(row["estimated_grams_used"]) for row in results}
    assert used == {str(first.pk): Decimal("2"), str(second.pk): Decimal("1")}


# --- Step-down ---------------------------------------------------------------------------------


def test_stepping_down_the_strength_ends_the_old_regimen_the_day_before_and_links_both(
    client: APIClient, patient: Patient
) -> None:
    old = regimen_row(patient, tube_grams=60, body_areas=["face"])

    response = step_down(client, patient, old.pk, strength="0.03", start_date="2026-10-15")

    assert response.status_code == 201, response.content
    new = response.json()
    assert new["strength"] == "0.03"
    assert new["phase"] == "treatment"
    assert new["start_date"] == "2026-10-15"
    assert new["end_date"] is None
    assert new["previous"] == str(old.pk)
    assert new["next"] is None
    # The rest carries over.
    assert new["body_areas"] == ["face"]
    assert new["times"] == ["08:00", "20:00"]
    assert new["weekdays"] == ALL_DAYS
    assert new["tube_grams"] == 60

    old_data = client.get(regimen_url(patient, old.pk)).json()
    assert old_data["strength"] == "0.1"
    assert old_data["end_date"] == "2026-10-14"
    assert old_data["next"] == new["id"]


def test_stepping_down_to_maintenance_needs_weekdays(client: APIClient, patient: Patient, regimen: Regimen) -> None:
    response = step_down(client, patient, regimen.pk, phase="maintenance", start_date="2026-10-15")

    assert response.status_code == 400
    assert set(response.json()) == {"weekdays"}
    regimen.refresh_from_db()
    assert regimen.end_date is None


def test_stepping_down_from_treatment_to_maintenance_keeps_the_strength_and_takes_the_weekdays(
    client: APIClient, patient: Patient, regimen: Regimen
) -> None:
    response = step_down(
        client, patient, regimen.pk, phase="maintenance", weekdays=[4, 1], times=["19:00"], start_date="2026-10-15"
    )

    assert response.status_code == 201, response.content
    new = response.json()
    assert (new["drug"], new["strength"], new["phase"]) == ("tacrolimus", "0.1", "maintenance")
    assert new["weekdays"] == [1, 4]
    assert new["times"] == ["19:00"]


def test_a_step_down_starts_today_in_the_patients_zone_by_default(patient: Patient) -> None:
    old = regimen_row(patient)
    # 22:30 UTC on 10 October is already 11 October in Doha.
    with time_machine.travel(datetime.datetime(2026, 10, 10, 22, 30, tzinfo=UTC), tick=False):
        response = step_down(client_as(patient.user), patient, old.pk, strength="0.03")

    assert response.status_code == 201, response.content
    assert response.json()["start_date"] == "2026-10-11"
    old.refresh_from_db()
    assert old.end_date == datetime.date(2026, 10, 10)


def test_a_chain_of_step_downs_keeps_the_whole_history_newest_first(
    client: APIClient, patient: Patient, regimen: Regimen
) -> None:
    maintenance = step_down(
        client, patient, regimen.pk, phase="maintenance", weekdays=[1, 4], start_date="2026-10-08"
    ).json()
    lower = step_down(client, patient, maintenance["id"], strength="0.03", start_date="2026-10-20").json()

    results = client.get(f"{base(patient)}regimens/").json()["results"]

    assert [row["id"] for row in results] == [lower["id"], maintenance["id"], str(regimen.pk)]
    assert [(row["previous"], row["next"]) for row in results] == [
        (maintenance["id"], None),
        (str(regimen.pk), lower["id"]),
        (None, maintenance["id"]),
    ]
    assert [row["end_date"] for row in results] == [None, "2026-10-19", "2026-10-07"]
    assert lower["weekdays"] == [1, 4]
    assert lower["phase"] == "maintenance"


@pytest.mark.parametrize(
    ("start", "body"),
    [
        # 0.03% up to 0.1% is a step up.
        ({"strength": "0.03"}, {"strength": "0.1"}),
        # Maintenance back to treatment is a step up.
        ({"phase": "maintenance", "weekdays": [1, 4]}, {"phase": "treatment"}),
        # Nothing lowered.
        ({}, {"times": ["09:00"]}),
        ({}, {"strength": "0.1", "phase": "treatment"}),
    ],
)
def test_anything_but_a_lower_strength_or_treatment_to_maintenance_is_a_400(
    client: APIClient, patient: Patient, start: dict[str, Any], body: dict[str, Any]
) -> None:
    old = regimen_row(patient, **start)

    response = step_down(client, patient, old.pk, start_date="2026-10-15", **body)

    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert "step" in str(response.json()).lower()
    old.refresh_from_db()
    assert old.end_date is None
    assert Regimen.objects.count() == 1


def test_pimecrolimus_has_no_lower_strength_to_step_down_to(client: APIClient, patient: Patient) -> None:
    old = regimen_row(patient, drug="pimecrolimus", strength="1")

    response = step_down(client, patient, old.pk, strength="0.03", start_date="2026-10-15")

    assert response.status_code == 400
    assert "strength" in response.json()
    assert Regimen.objects.count() == 1


def test_a_step_down_cannot_change_the_drug(client: APIClient, patient: Patient, regimen: Regimen) -> None:
    response = step_down(client, patient, regimen.pk, drug="pimecrolimus", strength="1", start_date="2026-10-15")

    assert response.status_code == 400
    assert "drug" in response.json()
    assert Regimen.objects.count() == 1


def test_stepping_down_twice_from_the_same_regimen_is_a_400(
    client: APIClient, patient: Patient, regimen: Regimen
) -> None:
    first = step_down(client, patient, regimen.pk, strength="0.03", start_date="2026-10-15")
    assert first.status_code == 201, first.content

    again = step_down(client, patient, regimen.pk, phase="maintenance", weekdays=[2], start_date="2026-10-15")

    assert again.status_code == 400
    assert "non_field_errors" in again.json()
    assert "already been stepped down" in str(again.json())
    assert Regimen.objects.count() == 2
    regimen.refresh_from_db()
    assert regimen.end_date == datetime.date(2026, 10, 14)
    assert Regimen.objects.get(previous=regimen).pk == Regimen.objects.get(pk=first.json()["id"]).pk


@pytest.mark.parametrize("start_date", ["2026-10-01", "2026-09-30"])
def test_a_step_down_must_start_after_the_old_regimen_started(
    client: APIClient, patient: Patient, regimen: Regimen, start_date: str
) -> None:
    response = step_down(client, patient, regimen.pk, strength="0.03", start_date=start_date)

    assert response.status_code == 400
    assert set(response.json()) == {"start_date"}


def test_a_regimen_that_ended_long_before_is_not_stepped_down_but_prescribed_anew(
    client: APIClient, patient: Patient
) -> None:
    old = regimen_row(patient, end_date=datetime.date(2026, 10, 3))

    response = step_down(client, patient, old.pk, strength="0.03", start_date="2026-10-10")

    assert response.status_code == 400
    assert set(response.json()) == {"start_date"}


def test_a_step_down_the_day_after_the_regimen_ended_is_allowed(client: APIClient, patient: Patient) -> None:
    old = regimen_row(patient, end_date=datetime.date(2026, 10, 9))

    response = step_down(client, patient, old.pk, strength="0.03", start_date="2026-10-10")

    assert response.status_code == 201, response.content
    old.refresh_from_db()
    assert old.end_date == datetime.date(2026, 10, 9)


def test_another_patients_regimen_cannot_be_stepped_down(
    client: APIClient, patient: Patient, cle_patient: Patient
) -> None:
    theirs = regimen_row(cle_patient)

    response = step_down(client, cle_patient, theirs.pk, strength="0.03", start_date="2026-10-15")
    via_own_patient = step_down(client, patient, theirs.pk, strength="0.03", start_date="2026-10-15")

    assert response.status_code == 404
    assert via_own_patient.status_code == 404
    assert Regimen.objects.count() == 1


# --- PATCH -------------------------------------------------------------------------------------


def test_patch_changes_areas_times_end_date_and_tube(client: APIClient, patient: Patient, regimen: Regimen) -> None:
    response = client.patch(
        regimen_url(patient, regimen.pk),
        {"body_areas": ["chest"], "times": ["21:00", "07:30"], "end_date": "2026-11-30", "tube_grams": 100},
        format="json",
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["body_areas"] == ["chest"]
    assert data["times"] == ["07:30", "21:00"]
    assert data["end_date"] == "2026-11-30"
    assert data["tube_grams"] == 100
    assert as_decimal(data["suggested_ftu"]) == Decimal("7")
    regimen.refresh_from_db()
    assert regimen.times == ["07:30", "21:00"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("drug", "pimecrolimus"), ("strength", "0.03"), ("phase", "maintenance"), ("start_date", "2026-10-02")],
)
def test_patch_cannot_change_drug_strength_phase_or_start_date_and_points_at_step_down(
    client: APIClient, patient: Patient, regimen: Regimen, field: str, value: str
) -> None:
    response = client.patch(regimen_url(patient, regimen.pk), {field: value, "tube_grams": 30}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {field}
    assert "step-down" in str(response.json()[field])
    regimen.refresh_from_db()
    assert (regimen.drug, regimen.strength, regimen.phase, regimen.start_date, regimen.tube_grams) == (
        "tacrolimus",
        "0.1",
        "treatment",
        datetime.date(2026, 10, 1),
        None,
    )


def test_patch_with_an_end_date_before_the_start_is_a_400_naming_end_date(
    client: APIClient, patient: Patient, regimen: Regimen
) -> None:
    response = client.patch(regimen_url(patient, regimen.pk), {"end_date": "2026-09-30"}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"end_date"}


def test_patch_may_clear_the_end_date_and_the_tube(client: APIClient, patient: Patient) -> None:
    regimen = regimen_row(patient, end_date=datetime.date(2026, 10, 31), tube_grams=30)

    response = client.patch(regimen_url(patient, regimen.pk), {"end_date": None, "tube_grams": None}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["end_date"] is None
    assert response.json()["tube_grams"] is None


def test_patch_weekdays_of_a_treatment_regimen_must_stay_every_day(
    client: APIClient, patient: Patient, regimen: Regimen
) -> None:
    response = client.patch(regimen_url(patient, regimen.pk), {"weekdays": [1, 4]}, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"weekdays"}


def test_patch_weekdays_of_a_maintenance_regimen(client: APIClient, patient: Patient) -> None:
    regimen = regimen_row(patient, phase="maintenance", weekdays=[1, 4])
    url = regimen_url(patient, regimen.pk)

    assert client.patch(url, {"weekdays": []}, format="json").status_code == 400
    response = client.patch(url, {"weekdays": [5, 2]}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["weekdays"] == [2, 5]


def test_patch_with_an_unknown_area_or_an_unknown_field_is_a_400_naming_it(
    client: APIClient, patient: Patient, regimen: Regimen
) -> None:
    url = regimen_url(patient, regimen.pk)

    area = client.patch(url, {"body_areas": ["elbow"]}, format="json")
    unknown = client.patch(url, {"colour": "blue"}, format="json")

    assert area.status_code == 400
    assert set(area.json()) == {"body_areas[0]"}
    assert unknown.status_code == 400
    assert set(unknown.json()) == {"colour"}


# --- Listing -------------------------------------------------------------------------------------


def test_the_list_is_newest_first_by_start_date_then_by_creation(client: APIClient, patient: Patient) -> None:
    september = regimen_row(patient, start_date=datetime.date(2026, 9, 1))
    with time_machine.travel(NOW + datetime.timedelta(minutes=1), tick=False):
        later_created = regimen_row(patient, start_date=datetime.date(2026, 10, 1), strength="0.03")
    earlier_created = regimen_row(patient, start_date=datetime.date(2026, 10, 1))
    november = regimen_row(patient, start_date=datetime.date(2026, 11, 1))

    response = client.get(f"{base(patient)}regimens/")

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"next", "previous", "results"}
    assert [row["id"] for row in data["results"]] == [
        str(november.pk),
        str(later_created.pk),
        str(earlier_created.pk),
        str(september.pk),
    ]


def test_the_list_pages_without_losing_or_repeating_a_regimen(client: APIClient, patient: Patient) -> None:
    created = [
        regimen_row(patient, start_date=datetime.date(2026, 1, 1) + datetime.timedelta(days=n)) for n in range(7)
    ]

    seen: list[str] = []
    url: str | None = f"{base(patient)}regimens/?page_size=3"
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]

    assert seen == [str(regimen.pk) for regimen in reversed(created)]


def test_the_list_shows_only_this_patients_regimens(
    client: APIClient, patient: Patient, regimen: Regimen, cle_patient: Patient
) -> None:
    regimen_row(cle_patient)

    results = client.get(f"{base(patient)}regimens/").json()["results"]

    assert [row["id"] for row in results] == [str(regimen.pk)]


@pytest.mark.parametrize("end_date", [None, "2026-10-15", "2026-11-30"])
def test_a_stepped_down_regimen_cannot_be_reopened_over_the_one_that_followed(
    client: APIClient, patient: Patient, regimen: Regimen, end_date: str | None
) -> None:
    assert step_down(client, patient, regimen.pk, strength="0.03", start_date="2026-10-15").status_code == 201

    response = client.patch(regimen_url(patient, regimen.pk), {"end_date": end_date}, format="json")

    assert response.status_code == 400
    assert "2026-10-14" in response.json()["end_date"][0]
    regimen.refresh_from_db()
    assert regimen.end_date == datetime.date(2026, 10, 14)


def test_a_stepped_down_regimen_may_still_end_earlier(client: APIClient, patient: Patient, regimen: Regimen) -> None:
    step_down(client, patient, regimen.pk, strength="0.03", start_date="2026-10-15")

    response = client.patch(regimen_url(patient, regimen.pk), {"end_date": "2026-10-10"}, format="json")

    assert response.status_code == 200
    assert response.json()["end_date"] == "2026-10-10"
