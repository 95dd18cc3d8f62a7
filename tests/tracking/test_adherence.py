"""Adherence, by example: through the API and through `selectors.adherence_for`.

Every instant is written with the offset of the wall clock it was read from, so each test says
in local time what the patient did. `now` is fixed with time_machine (or passed to the selector).
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine

from accounts.models import Patient
from accounts.services import patient_update
from tests.personas import Clinic, client_as, regimen_row
from tests.tracking.conftest import base
from tracking import adherence, selectors
from tracking.models import Application, Regimen

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
DAY = datetime.timedelta(days=1)
REPORT_KEYS = {"from", "to", "expected_doses", "logged_doses", "adherence_pct", "current_streak_days", "days"}


def at(iso: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(iso)


def date(iso: str) -> datetime.date:
    return datetime.date.fromisoformat(iso)


def log(patient: Patient, regimen: Regimen, *instants: str | datetime.datetime, deleted: bool = False) -> None:
    Application.objects.bulk_create(
        Application(
            patient=patient,
            regimen=regimen,
            applied_at=at(instant) if isinstance(instant, str) else instant,
            body_areas=regimen.body_areas,
            created_by=patient.user,
            fingerprint="test",
            deleted_at=datetime.datetime(2026, 1, 1, tzinfo=UTC) if deleted else None,
        )
        for instant in instants
    )


def get_adherence(patient: Patient, now: str, **params: str) -> Any:
    """GET adherence/ at `now`; `first` and `last` stand for the `from` and `to` parameters."""
    query = {{"first": "from", "last": "to"}.get(name, name): value for name, value in params.items()}
    with time_machine.travel(at(now), tick=False):
        return client_as(patient.user).get(f"{base(patient)}adherence/", query)


def by_date(response: Any) -> dict[str, tuple[int, int]]:
    return {day["date"]: (day["expected"], day["logged"]) for day in response.json()["days"]}


def report(patient: Patient, first: str, last: str, now: str) -> selectors.AdherenceReport:
    return selectors.adherence_for(patient, first=date(first), last=date(last), now=at(now))


def counts(result: selectors.AdherenceReport) -> dict[str, tuple[int, int]]:
    return {day.date.isoformat(): (day.expected, day.logged) for day in result.days}


@pytest.fixture
def twice_daily(patient: Patient) -> Regimen:
    """08:00 and 20:00 in Doha (+03:00, no DST) from Thursday 1 October 2026."""
    return regimen_row(patient, times=["08:00", "20:00"], start_date=date("2026-10-01"))


# --- The report, its range and its validation -------------------------------------------------


def test_twice_daily_fully_logged_is_100_percent(patient: Patient, twice_daily: Regimen) -> None:
    for day in range(1, 10):
        log(patient, twice_daily, f"2026-10-{day:02d}T08:05:00+03:00", f"2026-10-{day:02d}T19:55:00+03:00")

    response = get_adherence(patient, "2026-10-09T21:00:00+03:00", first="2026-10-01", last="2026-10-09")

    assert response.status_code == 200, response.content
    data = response.json()
    assert set(data) == REPORT_KEYS
    assert (data["from"], data["to"]) == ("2026-10-01", "2026-10-09")
    assert (data["expected_doses"], data["logged_doses"]) == (18, 18)
    assert data["adherence_pct"] == 100.0
    assert data["current_streak_days"] == 9
    assert data["days"] == [{"date": f"2026-10-{day:02d}", "expected": 2, "logged": 2} for day in range(1, 10)]


def test_adherence_is_logged_over_expected_to_one_decimal(patient: Patient, twice_daily: Regimen) -> None:
    # 2 of 6 doses over three days: 33.3%.
    log(patient, twice_daily, "2026-10-01T08:00:00+03:00", "2026-10-03T20:00:00+03:00")

    data = get_adherence(patient, "2026-10-04T00:30:00+03:00", first="2026-10-01", last="2026-10-03").json()

    assert (data["expected_doses"], data["logged_doses"], data["adherence_pct"]) == (6, 2, 33.3)


def test_with_nothing_due_adherence_is_null_not_zero(patient: Patient, twice_daily: Regimen) -> None:
    data = get_adherence(patient, "2026-10-10T12:00:00+03:00", first="2026-09-01", last="2026-09-30").json()

    assert (data["expected_doses"], data["logged_doses"], data["adherence_pct"]) == (0, 0, None)


def test_by_default_the_report_covers_the_28_local_days_ending_today(patient: Patient, twice_daily: Regimen) -> None:
    # 22:30 UTC on 9 October is 01:30 on 10 October in Doha: today there is the 10th.
    response = get_adherence(patient, "2026-10-09T22:30:00+00:00")

    data = response.json()
    assert (data["from"], data["to"]) == ("2026-09-13", "2026-10-10")
    assert len(data["days"]) == 28
    assert data["days"][0]["date"] == "2026-09-13"
    assert data["days"][-1] == {"date": "2026-10-10", "expected": 0, "logged": 0}  # 08:00 not yet come
    assert by_date(response)["2026-10-09"] == (2, 0)


def test_with_only_to_the_report_covers_the_28_days_ending_then(patient: Patient, twice_daily: Regimen) -> None:
    data = get_adherence(patient, "2026-10-10T12:00:00+03:00", last="2026-10-05").json()

    assert (data["from"], data["to"]) == ("2026-09-08", "2026-10-05")


def test_with_only_from_the_report_runs_to_today(patient: Patient, twice_daily: Regimen) -> None:
    data = get_adherence(patient, "2026-10-10T12:00:00+03:00", first="2026-10-03").json()

    assert (data["from"], data["to"]) == ("2026-10-03", "2026-10-10")
    assert len(data["days"]) == 8


def test_from_after_to_is_a_400_naming_from(patient: Patient, twice_daily: Regimen) -> None:
    response = get_adherence(patient, "2026-10-10T12:00:00+03:00", first="2026-10-05", last="2026-10-04")

    assert response.status_code == 400
    assert set(response.json()) == {"from"}


def test_more_than_731_days_is_a_400_and_731_is_answered(patient: Patient, twice_daily: Regimen) -> None:
    too_long = get_adherence(patient, "2026-10-10T12:00:00+03:00", first="2024-10-09", last="2026-10-10")
    longest = get_adherence(patient, "2026-10-10T12:00:00+03:00", first="2024-10-10", last="2026-10-10")

    assert too_long.status_code == 400
    assert set(too_long.json()) == {"from"}
    assert "731" in str(too_long.json())
    assert longest.status_code == 200
    assert len(longest.json()["days"]) == 731


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"first": "0001-01-01", "last": "0001-02-10"}, {"from"}),
        ({"last": "0001-01-05"}, {"to"}),
        ({"first": "9999-12-25", "last": "9999-12-31"}, {"from", "to"}),
        ({"first": "9999-11-25", "last": "9999-12-31"}, {"to"}),
        ({"last": "9999-12-31"}, {"to"}),
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_a_400_not_a_500(
    patient: Patient, twice_daily: Regimen, params: dict[str, str], fields: set[str]
) -> None:
    response = get_adherence(patient, "2026-10-10T12:00:00+03:00", **params)

    assert response.status_code == 400
    assert set(response.json()) == fields
    assert "9999-11-30" in str(response.json())


@pytest.mark.parametrize(
    ("first", "last"), [("0001-02-01", "0001-02-10"), ("9999-11-01", "9999-11-30"), ("9000-01-01", "9000-01-31")]
)
def test_a_range_far_from_today_is_answered_scheduling_only_it_and_the_last_28_days(
    patient: Patient, twice_daily: Regimen, monkeypatch: pytest.MonkeyPatch, first: str, last: str
) -> None:
    scheduled: list[int] = []
    adherence_days = adherence.adherence_days

    def spy(**kwargs: Any) -> list[adherence.Day]:
        scheduled.append((kwargs["last"] - kwargs["first"]).days + 1)
        return adherence_days(**kwargs)

    monkeypatch.setattr(adherence, "adherence_days", spy)
    response = get_adherence(patient, "2026-10-10T12:00:00+03:00", first=first, last=last)

    assert response.status_code == 200, response.content
    days = (date(last) - date(first)).days + 1
    assert len(response.json()["days"]) == days
    assert (response.json()["expected_doses"], response.json()["adherence_pct"]) == (0, None)
    # Not every day from then to today: the range, and the 28 days the streak starts from.
    assert sum(scheduled) == days + 28


@pytest.mark.parametrize(("name", "value"), [("first", "10/01/2026"), ("last", "2026-13-01"), ("first", "2026-10")])
def test_a_malformed_date_is_a_400_naming_it(patient: Patient, twice_daily: Regimen, name: str, value: str) -> None:
    response = get_adherence(patient, "2026-10-10T12:00:00+03:00", **{name: value})

    assert response.status_code == 400
    assert set(response.json()) == {"from" if name == "first" else "to"}


def test_another_patients_adherence_is_not_found(patient: Patient, twice_daily: Regimen, cle_patient: Patient) -> None:
    with time_machine.travel(at("2026-10-10T12:00:00+03:00"), tick=False):
        response = client_as(cle_patient.user).get(f"{base(patient)}adherence/")

    assert response.status_code == 404


# --- Which slot a dose counts toward --------------------------------------------------------------


def test_a_dose_counts_toward_the_slot_nearest_in_time(patient: Patient, twice_daily: Regimen) -> None:
    log(
        patient,
        twice_daily,
        # 2 Oct: 13:00 is 5 hours after 08:00 and 7 before 20:00: the morning's, then an evening dose.
        "2026-10-02T13:00:00+03:00",
        "2026-10-02T20:10:00+03:00",
        # 3 Oct: 08:00, then 13:00 (nearer the morning again): the evening stays missed.
        "2026-10-03T08:00:00+03:00",
        "2026-10-03T13:00:00+03:00",
    )

    response = get_adherence(patient, "2026-10-05T12:00:00+03:00", first="2026-10-02", last="2026-10-03")

    assert by_date(response) == {"2026-10-02": (2, 2), "2026-10-03": (2, 1)}


def test_a_dose_nearer_the_evening_fills_the_evening_slot_before_it_is_due(
    patient: Patient, twice_daily: Regimen
) -> None:
    # At 16:00 the morning is missed; 15:00 is 5 hours before 20:00 and 7 after 08:00.
    log(patient, twice_daily, "2026-10-10T15:00:00+03:00")

    response = get_adherence(patient, "2026-10-10T16:00:00+03:00", first="2026-10-10", last="2026-10-10")

    assert by_date(response) == {"2026-10-10": (2, 1)}


def test_a_dose_exactly_between_two_slots_counts_toward_the_earlier(patient: Patient, twice_daily: Regimen) -> None:
    log(patient, twice_daily, "2026-10-10T08:00:00+03:00", "2026-10-10T14:00:00+03:00")

    response = get_adherence(patient, "2026-10-10T14:30:00+03:00", first="2026-10-10", last="2026-10-10")

    # Both went to the morning slot; the evening is neither due nor logged.
    assert by_date(response) == {"2026-10-10": (1, 1)}


def test_a_double_dose_in_the_morning_counts_once(patient: Patient, twice_daily: Regimen) -> None:
    log(patient, twice_daily, "2026-10-05T08:00:00+03:00", "2026-10-05T08:20:00+03:00", "2026-10-05T09:00:00+03:00")

    response = get_adherence(patient, "2026-10-06T12:00:00+03:00", first="2026-10-05", last="2026-10-05")

    assert by_date(response) == {"2026-10-05": (2, 1)}
    assert response.json()["adherence_pct"] == 50.0


def test_a_dose_counts_on_its_local_date_not_its_utc_date(patient: Patient) -> None:
    regimen = regimen_row(patient, times=["02:00"], start_date=date("2026-10-01"))
    # 01:00 on the 5th in Doha is 22:00 UTC on the 4th.
    log(patient, regimen, "2026-10-05T01:00:00+03:00")

    response = get_adherence(patient, "2026-10-06T12:00:00+03:00", first="2026-10-04", last="2026-10-05")

    assert by_date(response) == {"2026-10-04": (1, 0), "2026-10-05": (1, 1)}


def test_a_dose_counts_only_toward_its_own_regimen(patient: Patient) -> None:
    face = regimen_row(patient, body_areas=["face"], times=["08:00"], start_date=date("2026-10-01"))
    body = regimen_row(patient, body_areas=["chest"], times=["08:00", "20:00"], start_date=date("2026-10-01"))
    # Both logged against the face regimen: its one slot takes one; the body regimen has none.
    log(patient, face, "2026-10-05T08:00:00+03:00", "2026-10-05T20:00:00+03:00")
    log(patient, body, "2026-10-06T08:00:00+03:00", "2026-10-06T20:00:00+03:00")

    response = get_adherence(patient, "2026-10-07T12:00:00+03:00", first="2026-10-05", last="2026-10-06")

    assert by_date(response) == {"2026-10-05": (3, 1), "2026-10-06": (3, 2)}


def test_a_deleted_log_does_not_count(patient: Patient, twice_daily: Regimen) -> None:
    log(patient, twice_daily, "2026-10-05T08:00:00+03:00")
    log(patient, twice_daily, "2026-10-05T20:00:00+03:00", deleted=True)

    response = get_adherence(patient, "2026-10-06T12:00:00+03:00", first="2026-10-05", last="2026-10-05")

    assert by_date(response) == {"2026-10-05": (2, 1)}


def test_doses_are_expected_only_while_a_regimen_runs_and_a_step_down_takes_over(patient: Patient) -> None:
    old = regimen_row(patient, times=["08:00", "20:00"], start_date=date("2026-10-01"), end_date=date("2026-10-04"))
    new = regimen_row(patient, strength="0.03", times=["09:00"], start_date=date("2026-10-05"), previous=old)
    # A dose logged against the old regimen after it ended does not count for the new one.
    log(patient, old, "2026-10-04T08:00:00+03:00", "2026-10-04T20:00:00+03:00", "2026-10-05T09:00:00+03:00")
    log(patient, new, "2026-10-06T09:00:00+03:00")

    response = get_adherence(patient, "2026-10-07T12:00:00+03:00", first="2026-09-30", last="2026-10-06")

    assert by_date(response) == {
        "2026-09-30": (0, 0),
        "2026-10-01": (2, 0),
        "2026-10-02": (2, 0),
        "2026-10-03": (2, 0),
        "2026-10-04": (2, 2),
        "2026-10-05": (1, 0),
        "2026-10-06": (1, 1),
    }


# --- Maintenance weekdays ------------------------------------------------------------------------


@pytest.fixture
def mondays_and_thursdays(patient: Patient) -> Regimen:
    """Maintenance at 19:00 on Mondays and Thursdays from Thursday 1 October 2026."""
    return regimen_row(
        patient, phase="maintenance", strength="0.03", times=["19:00"], weekdays=[1, 4], start_date=date("2026-10-01")
    )


def test_maintenance_expects_doses_only_on_its_weekdays(patient: Patient, mondays_and_thursdays: Regimen) -> None:
    response = get_adherence(patient, "2026-10-15T12:00:00+03:00", first="2026-10-01", last="2026-10-14")

    due = {day: expected for day, (expected, _logged) in by_date(response).items() if expected}
    # Thursdays 1 and 8, Mondays 5 and 12 October.
    assert due == {"2026-10-01": 1, "2026-10-05": 1, "2026-10-08": 1, "2026-10-12": 1}


def test_a_log_on_a_maintenance_off_day_is_not_counted(patient: Patient, mondays_and_thursdays: Regimen) -> None:
    # Thursday, then Tuesday 6 October (an off-day), then Monday the 5th missed.
    log(patient, mondays_and_thursdays, "2026-10-01T19:00:00+03:00", "2026-10-06T19:00:00+03:00")

    response = get_adherence(patient, "2026-10-07T12:00:00+03:00", first="2026-10-01", last="2026-10-07")

    days = by_date(response)
    assert days["2026-10-06"] == (0, 0)
    assert days["2026-10-05"] == (1, 0)
    assert (response.json()["expected_doses"], response.json()["logged_doses"]) == (2, 1)


# --- Today -------------------------------------------------------------------------------------------


def test_the_evening_slot_is_not_expected_before_it_is_due(patient: Patient, twice_daily: Regimen) -> None:
    log(patient, twice_daily, "2026-10-10T08:10:00+03:00")

    response = get_adherence(patient, "2026-10-10T12:00:00+03:00", first="2026-10-10", last="2026-10-10")

    data = response.json()
    assert data["days"] == [{"date": "2026-10-10", "expected": 1, "logged": 1}]
    assert data["adherence_pct"] == 100.0


def test_a_dose_logged_early_for_the_evening_is_counted_before_the_evening(patient: Patient) -> None:
    regimen = regimen_row(patient, times=["08:00", "20:00"], start_date=date("2026-10-10"))
    log(patient, regimen, "2026-10-10T08:00:00+03:00", "2026-10-10T18:00:00+03:00")

    response = get_adherence(patient, "2026-10-10T18:30:00+03:00", first="2026-10-10", last="2026-10-10")

    assert by_date(response) == {"2026-10-10": (2, 2)}


def test_a_missed_morning_is_expected_once_its_time_has_passed(patient: Patient, twice_daily: Regimen) -> None:
    before = get_adherence(patient, "2026-10-10T07:59:00+03:00", first="2026-10-10", last="2026-10-10")
    after = get_adherence(patient, "2026-10-10T08:00:00+03:00", first="2026-10-10", last="2026-10-10")

    assert by_date(before) == {"2026-10-10": (0, 0)}
    assert by_date(after) == {"2026-10-10": (1, 0)}
    assert after.json()["current_streak_days"] == 0


def test_days_after_today_expect_nothing_yet(patient: Patient, twice_daily: Regimen) -> None:
    response = get_adherence(patient, "2026-10-10T12:00:00+03:00", first="2026-10-11", last="2026-10-12")

    assert by_date(response) == {"2026-10-11": (0, 0), "2026-10-12": (0, 0)}


# --- Streak -------------------------------------------------------------------------------------


def test_the_streak_counts_fully_adherent_days_up_to_today(patient: Patient, twice_daily: Regimen) -> None:
    # 1-3 October fully logged, the 4th missed in the evening, 5-9 fully logged, the 10th's morning logged.
    for day in range(1, 10):
        log(patient, twice_daily, f"2026-10-{day:02d}T08:00:00+03:00")
        if day != 4:
            log(patient, twice_daily, f"2026-10-{day:02d}T20:00:00+03:00")
    log(patient, twice_daily, "2026-10-10T08:00:00+03:00")

    data = get_adherence(patient, "2026-10-10T12:00:00+03:00", first="2026-10-01", last="2026-10-03").json()

    # 5-10 October: 6 days, whatever range was asked for.
    assert data["current_streak_days"] == 6


def test_a_missed_day_yesterday_leaves_only_today_in_the_streak(patient: Patient, twice_daily: Regimen) -> None:
    log(patient, twice_daily, "2026-10-08T08:00:00+03:00", "2026-10-08T20:00:00+03:00", "2026-10-10T08:00:00+03:00")

    result = report(patient, "2026-10-01", "2026-10-10", "2026-10-10T12:00:00+03:00")

    assert result.current_streak_days == 1


def test_the_streak_skips_maintenance_off_days(patient: Patient, mondays_and_thursdays: Regimen) -> None:
    # Every Monday and Thursday from 1 to 15 October logged, but for Thursday 1 October.
    log(
        patient,
        mondays_and_thursdays,
        "2026-10-05T19:00:00+03:00",
        "2026-10-08T19:00:00+03:00",
        "2026-10-12T19:00:00+03:00",
        "2026-10-15T19:10:00+03:00",
    )

    # Saturday 17 October: nothing due today or yesterday.
    result = report(patient, "2026-10-01", "2026-10-17", "2026-10-17T12:00:00+03:00")

    assert result.current_streak_days == 4
    assert counts(result)["2026-10-17"] == (0, 0)
    assert (result.expected_doses, result.logged_doses) == (5, 4)


def test_a_streak_reaches_back_beyond_the_report_and_beyond_90_days(patient: Patient) -> None:
    start = date("2026-05-01")
    regimen = regimen_row(patient, times=["09:00"], start_date=start)
    days = (date("2026-10-10") - start).days + 1  # 163 days, today included
    log(
        patient,
        regimen,
        # 09:00 in Doha is 06:00 UTC.
        *(datetime.datetime.combine(start + n * DAY, datetime.time(6, 0), UTC) for n in range(days)),
    )

    result = report(patient, "2026-10-08", "2026-10-10", "2026-10-10T12:00:00+03:00")

    assert result.current_streak_days == days


def test_the_streak_of_a_report_in_the_past_still_ends_today(patient: Patient, twice_daily: Regimen) -> None:
    for day in range(1, 4):
        log(patient, twice_daily, f"2026-10-{day:02d}T08:00:00+03:00", f"2026-10-{day:02d}T20:00:00+03:00")

    result = report(patient, "2026-10-01", "2026-10-03", "2026-10-10T12:00:00+03:00")

    assert result.adherence_pct == 100.0
    assert result.current_streak_days == 0  # 4-10 October were missed


def test_a_range_apart_from_today_keeps_its_own_counts_and_the_streak_of_today(patient: Patient) -> None:
    regimen = regimen_row(patient, times=["08:00", "20:00"], start_date=date("2026-09-01"))
    # Nothing in early September; then every dose from 1 October to 20 November (51 days).
    log(patient, regimen, "2026-09-03T08:00:00+03:00")
    start = date("2026-10-01")
    log(
        patient,
        regimen,
        *(
            datetime.datetime.combine(start + n * DAY, wall_time, UTC)
            for n in range(51)
            for wall_time in (datetime.time(5, 0), datetime.time(17, 0))  # 08:00 and 20:00 in Doha
        ),
    )

    result = report(patient, "2026-09-01", "2026-09-05", "2026-11-20T21:00:00+03:00")

    assert counts(result) == {
        "2026-09-01": (2, 0),
        "2026-09-02": (2, 0),
        "2026-09-03": (2, 1),
        "2026-09-04": (2, 0),
        "2026-09-05": (2, 0),
    }
    assert result.current_streak_days == 51


# --- DST and moves ---------------------------------------------------------------------------------


def test_berlin_spring_forward_a_slot_at_0230_is_kept_at_0330_summer_time(clinic: Clinic) -> None:
    patient = clinic.ad_patient(timezone="Europe/Berlin")
    regimen = regimen_row(patient, times=["02:30", "20:00"], start_date=date("2026-03-27"))
    log(
        patient,
        regimen,
        "2026-03-28T02:30:00+01:00",
        "2026-03-28T20:00:00+01:00",
        # 29 March: 02:30 does not exist; 03:30 summer time is when it falls.
        "2026-03-29T03:30:00+02:00",
        "2026-03-29T20:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-30T20:00:00+02:00",
    )

    response = get_adherence(patient, "2026-03-31T12:00:00+02:00", first="2026-03-28", last="2026-03-30")

    assert by_date(response) == {"2026-03-28": (2, 2), "2026-03-29": (2, 2), "2026-03-30": (2, 2)}


def test_berlin_spring_forward_a_skipped_time_and_the_hour_after_it_are_two_slots(clinic: Clinic) -> None:
    patient = clinic.ad_patient(timezone="Europe/Berlin")
    regimen = regimen_row(patient, times=["02:30", "03:30"], start_date=date("2026-03-27"))
    # 02:30 shifts onto 03:30 summer time: both slots fall at one instant, and each takes a dose.
    log(patient, regimen, "2026-03-29T03:30:00+02:00", "2026-03-29T03:31:00+02:00")

    response = get_adherence(patient, "2026-03-30T12:00:00+02:00", first="2026-03-29", last="2026-03-29")

    assert by_date(response) == {"2026-03-29": (2, 2)}


def test_berlin_spring_forward_the_morning_falls_due_at_0800_summer_time(clinic: Clinic) -> None:
    berlin = clinic.ad_patient(timezone="Europe/Berlin")
    regimen_row(berlin, times=["08:00", "20:00"], start_date=date("2026-03-27"))

    before = get_adherence(berlin, "2026-03-29T07:59:00+02:00", first="2026-03-29", last="2026-03-29")
    after = get_adherence(berlin, "2026-03-29T08:00:00+02:00", first="2026-03-29", last="2026-03-29")

    assert by_date(before) == {"2026-03-29": (0, 0)}
    assert by_date(after) == {"2026-03-29": (1, 0)}


def test_berlin_fall_back_a_repeated_time_is_one_slot_either_occurrence_fills(clinic: Clinic) -> None:
    patient = clinic.ad_patient(timezone="Europe/Berlin")
    regimen = regimen_row(patient, times=["02:30", "20:00"], start_date=date("2026-10-20"))
    log(
        patient,
        regimen,
        # 25 October: 02:30 happens twice. The second occurrence (winter time) fills it.
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T20:00:00+01:00",
        # 24 October: a normal day, both doses.
        "2026-10-24T02:30:00+02:00",
        "2026-10-24T20:00:00+02:00",
    )

    response = get_adherence(patient, "2026-10-26T12:00:00+01:00", first="2026-10-24", last="2026-10-26")

    # 26 October: the 02:30 dose missed, 20:00 not yet come.
    assert by_date(response) == {"2026-10-24": (2, 2), "2026-10-25": (2, 2), "2026-10-26": (1, 0)}


def test_berlin_fall_back_a_dose_at_each_occurrence_of_a_repeated_time_counts_once(clinic: Clinic) -> None:
    patient = clinic.ad_patient(timezone="Europe/Berlin")
    regimen = regimen_row(patient, times=["02:30", "20:00"], start_date=date("2026-10-20"))
    log(patient, regimen, "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00")

    response = get_adherence(patient, "2026-10-26T12:00:00+01:00", first="2026-10-25", last="2026-10-25")

    assert by_date(response) == {"2026-10-25": (2, 1)}


def test_berlin_fall_back_the_morning_falls_due_at_0800_winter_time(clinic: Clinic) -> None:
    patient = clinic.ad_patient(timezone="Europe/Berlin")
    regimen_row(patient, times=["08:00", "20:00"], start_date=date("2026-10-20"))

    before = get_adherence(patient, "2026-10-25T07:59:00+01:00", first="2026-10-25", last="2026-10-25")
    after = get_adherence(patient, "2026-10-25T08:00:00+01:00", first="2026-10-25", last="2026-10-25")

    assert by_date(before) == {"2026-10-25": (0, 0)}
    assert by_date(after) == {"2026-10-25": (1, 0)}


def test_new_york_spring_forward_a_slot_at_0230_is_kept_at_0330_daylight_time(clinic: Clinic) -> None:
    patient = clinic.ad_patient(timezone="America/New_York")
    regimen = regimen_row(patient, times=["02:30", "20:00"], start_date=date("2026-03-06"))
    log(
        patient,
        regimen,
        "2026-03-07T02:30:00-05:00",
        "2026-03-07T20:00:00-05:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-08T20:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-09T20:00:00-04:00",
    )

    response = get_adherence(patient, "2026-03-10T12:00:00-04:00", first="2026-03-07", last="2026-03-09")

    assert by_date(response) == {"2026-03-07": (2, 2), "2026-03-08": (2, 2), "2026-03-09": (2, 2)}
    assert response.json()["adherence_pct"] == 100.0


def test_new_york_fall_back_the_repeated_0130_is_one_slot(clinic: Clinic) -> None:
    patient = clinic.ad_patient(timezone="America/New_York")
    regimen = regimen_row(patient, times=["01:30", "20:00"], start_date=date("2026-10-28"))
    log(
        patient,
        regimen,
        # 1 November: 01:30 daylight time, then 01:30 standard time an hour later: one slot.
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T20:00:00-05:00",
        # 31 October, a normal day: the 01:30 dose only.
        "2026-10-31T01:30:00-04:00",
    )

    response = get_adherence(patient, "2026-11-02T12:00:00-05:00", first="2026-10-31", last="2026-11-01")

    assert by_date(response) == {"2026-10-31": (2, 1), "2026-11-01": (2, 2)}


def test_new_york_fall_back_the_second_0130_alone_fills_the_slot(clinic: Clinic) -> None:
    patient = clinic.ad_patient(timezone="America/New_York")
    regimen = regimen_row(patient, times=["01:30"], start_date=date("2026-10-28"))
    log(patient, regimen, "2026-11-01T01:30:00-05:00")

    response = get_adherence(patient, "2026-11-02T12:00:00-05:00", first="2026-11-01", last="2026-11-01")

    assert by_date(response) == {"2026-11-01": (1, 1)}


@pytest.fixture
def moved_patient(clinic: Clinic) -> tuple[Patient, Regimen]:
    """Lived in Doha until 02:00 UTC on 6 October 2026 (05:00 there), then in New York."""
    patient = clinic.ad_patient()
    regimen = regimen_row(patient, times=["08:00", "20:00"], start_date=date("2026-10-01"))
    for day in range(1, 6):
        log(patient, regimen, f"2026-10-{day:02d}T08:00:00+03:00", f"2026-10-{day:02d}T20:00:00+03:00")
    return patient, regimen


def move_to_new_york(patient: Patient) -> None:
    with time_machine.travel(at("2026-10-06T02:00:00+00:00"), tick=False):
        patient_update(patient=patient, timezone="America/New_York")


def test_a_patient_who_moved_keeps_the_counts_of_the_days_before_the_move(
    moved_patient: tuple[Patient, Regimen],
) -> None:
    patient, _regimen = moved_patient
    before_move = get_adherence(patient, "2026-10-06T01:00:00+00:00", first="2026-10-01", last="2026-10-05")

    move_to_new_york(patient)
    after_move = get_adherence(patient, "2026-10-09T12:00:00+00:00", first="2026-10-01", last="2026-10-05")

    assert by_date(before_move) == {f"2026-10-{day:02d}": (2, 2) for day in range(1, 6)}
    assert by_date(after_move) == by_date(before_move)


def test_after_a_move_new_days_are_scheduled_on_the_new_wall_clock(moved_patient: tuple[Patient, Regimen]) -> None:
    patient, regimen = moved_patient
    move_to_new_york(patient)
    for day in range(6, 9):
        log(patient, regimen, f"2026-10-{day:02d}T08:00:00-04:00", f"2026-10-{day:02d}T20:00:00-04:00")
    # 9 October: the morning in New York, not yet the evening.
    log(patient, regimen, "2026-10-09T08:00:00-04:00")

    response = get_adherence(patient, "2026-10-09T12:00:00-04:00", first="2026-10-01", last="2026-10-09")

    data = response.json()
    assert by_date(response) == {
        **{f"2026-10-{day:02d}": (2, 2) for day in range(1, 9)},
        "2026-10-09": (1, 1),
    }
    assert data["current_streak_days"] == 9
    assert data["to"] == "2026-10-09"


def test_the_default_range_after_a_move_ends_today_in_the_new_zone(moved_patient: tuple[Patient, Regimen]) -> None:
    patient, _regimen = moved_patient
    move_to_new_york(patient)

    # 02:00 UTC on 9 October is still the 8th in New York (it would be the 9th in Doha).
    data = get_adherence(patient, "2026-10-09T02:00:00+00:00").json()

    assert data["to"] == "2026-10-08"


def test_the_api_answers_what_the_selector_computes(patient: Patient, twice_daily: Regimen) -> None:
    log(patient, twice_daily, "2026-10-02T08:00:00+03:00", "2026-10-03T20:00:00+03:00", "2026-10-04T13:00:00+03:00")
    now = "2026-10-05T10:00:00+03:00"

    response = get_adherence(patient, now, first="2026-10-01", last="2026-10-05")
    result = report(patient, "2026-10-01", "2026-10-05", now)

    data = response.json()
    assert by_date(response) == counts(result)
    assert (data["expected_doses"], data["logged_doses"]) == (result.expected_doses, result.logged_doses)
    assert data["adherence_pct"] == result.adherence_pct
    assert data["current_streak_days"] == result.current_streak_days
