"""PatientClock: which zone, local date and instant apply for a patient who may have moved."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.clock import PatientClock
from accounts.models import Patient, PatientTimezoneChange
from accounts.services import patient_update

UTC = datetime.UTC
# Moved from Doha (+03:00) to New York (-04:00 in October) at 02:00 UTC on 6 October 2026:
# 05:00 on the 6th in Doha, 22:00 on the 5th in New York.
MOVED_AT = datetime.datetime(2026, 10, 6, 2, 0, tzinfo=UTC)
MOVED = PatientClock(current="America/New_York", history=((MOVED_AT, "Asia/Qatar"),))


def utc(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


# --- zone_at / local / local_date ---------------------------------------------------------------


def test_a_patient_who_never_moved_lives_by_their_current_zone_at_any_instant() -> None:
    clock = PatientClock(current="Asia/Kolkata")
    assert clock.zone_at(utc(2001, 1, 1)) == ZoneInfo("Asia/Kolkata")
    assert clock.zone_at(utc(2090, 1, 1)) == ZoneInfo("Asia/Kolkata")


def test_before_a_move_the_old_zone_applies_and_from_the_move_on_the_new_one() -> None:
    assert MOVED.zone_at(MOVED_AT - datetime.timedelta(microseconds=1)) == ZoneInfo("Asia/Qatar")
    assert MOVED.zone_at(MOVED_AT) == ZoneInfo("America/New_York")
    assert MOVED.zone_at(MOVED_AT + datetime.timedelta(days=30)) == ZoneInfo("America/New_York")


def test_each_of_several_moves_applies_between_the_one_before_and_its_own_end() -> None:
    clock = PatientClock(
        current="Australia/Sydney",
        history=((utc(2026, 3, 1), "Asia/Kolkata"), (utc(2026, 6, 1), "Europe/Berlin")),
    )
    assert clock.zone_at(utc(2026, 2, 1)) == ZoneInfo("Asia/Kolkata")
    assert clock.zone_at(utc(2026, 4, 1)) == ZoneInfo("Europe/Berlin")
    assert clock.zone_at(utc(2026, 7, 1)) == ZoneInfo("Australia/Sydney")


def test_an_instant_is_shown_on_the_wall_clock_of_the_zone_in_force_then() -> None:
    before = MOVED.local(utc(2026, 10, 5, 18, 30))
    after = MOVED.local(utc(2026, 10, 7, 18, 30))
    assert before.isoformat() == "2026-10-05T21:30:00+03:00"
    assert after.isoformat() == "2026-10-07T14:30:00-04:00"


def test_after_a_move_old_instants_keep_the_local_date_they_had() -> None:
    # 22:30 UTC on 4 October was already the 5th in Doha, where the patient was; in New York it
    # would still be the 4th.
    instant = utc(2026, 10, 4, 22, 30)
    assert MOVED.local_date(instant) == datetime.date(2026, 10, 5)
    assert PatientClock(current="America/New_York").local_date(instant) == datetime.date(2026, 10, 4)
    # The same time of day after the move falls on the New York date.
    assert MOVED.local_date(utc(2026, 10, 8, 22, 30)) == datetime.date(2026, 10, 8)


# --- zone_on -------------------------------------------------------------------------------------


def test_a_date_that_ended_before_the_move_is_scheduled_in_the_old_zone() -> None:
    # The 5th ended in Doha at 21:00 UTC on the 5th, before the move.
    assert MOVED.zone_on(datetime.date(2026, 10, 5)) == ZoneInfo("Asia/Qatar")
    assert MOVED.zone_on(datetime.date(2020, 1, 1)) == ZoneInfo("Asia/Qatar")


def test_the_date_of_the_move_and_later_dates_are_scheduled_in_the_new_zone() -> None:
    assert MOVED.zone_on(datetime.date(2026, 10, 6)) == ZoneInfo("America/New_York")
    assert MOVED.zone_on(datetime.date(2027, 1, 1)) == ZoneInfo("America/New_York")


def test_a_date_still_running_in_the_old_zone_at_the_move_belongs_to_the_new_zone() -> None:
    # Moving at 20:00 UTC on the 5th: 23:00 in Doha, the 5th had not ended there yet.
    clock = PatientClock(current="America/New_York", history=((utc(2026, 10, 5, 20), "Asia/Qatar"),))
    assert clock.zone_on(datetime.date(2026, 10, 4)) == ZoneInfo("Asia/Qatar")
    assert clock.zone_on(datetime.date(2026, 10, 5)) == ZoneInfo("America/New_York")


def test_a_date_ending_exactly_at_the_move_stays_in_the_old_zone() -> None:
    # Midnight in Doha at the start of the 6th is 21:00 UTC on the 5th.
    clock = PatientClock(current="America/New_York", history=((utc(2026, 10, 5, 21), "Asia/Qatar"),))
    assert clock.zone_on(datetime.date(2026, 10, 5)) == ZoneInfo("Asia/Qatar")
    assert clock.zone_on(datetime.date(2026, 10, 6)) == ZoneInfo("America/New_York")


# --- at: wall time on a date to an instant ----------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "date", "wall_time", "expected_utc"),
    [
        ("Asia/Qatar", datetime.date(2026, 10, 5), datetime.time(8, 0), utc(2026, 10, 5, 5, 0)),
        ("Asia/Kolkata", datetime.date(2026, 10, 5), datetime.time(8, 0), utc(2026, 10, 5, 2, 30)),
        ("Pacific/Chatham", datetime.date(2026, 1, 5), datetime.time(8, 0), utc(2026, 1, 4, 18, 15)),
        ("Europe/Berlin", datetime.date(2026, 1, 5), datetime.time(8, 0), utc(2026, 1, 5, 7, 0)),
        ("Europe/Berlin", datetime.date(2026, 7, 5), datetime.time(8, 0), utc(2026, 7, 5, 6, 0)),
    ],
)
def test_a_wall_time_on_a_date_is_that_instant_in_the_zone_of_the_date(
    zone: str, date: datetime.date, wall_time: datetime.time, expected_utc: datetime.datetime
) -> None:
    instant = PatientClock(current=zone).at(date, wall_time)
    assert instant == expected_utc
    assert instant.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize(
    ("zone", "date", "skipped", "shifted_local"),
    [
        # Berlin springs forward at 02:00 CET to 03:00 CEST on 29 March 2026.
        ("Europe/Berlin", datetime.date(2026, 3, 29), datetime.time(2, 30), "2026-03-29T03:30:00+02:00"),
        # New York springs forward at 02:00 EST to 03:00 EDT on 8 March 2026.
        ("America/New_York", datetime.date(2026, 3, 8), datetime.time(2, 30), "2026-03-08T03:30:00-04:00"),
        # Sydney springs forward at 02:00 AEST to 03:00 AEDT on 4 October 2026 (southern spring).
        ("Australia/Sydney", datetime.date(2026, 10, 4), datetime.time(2, 15), "2026-10-04T03:15:00+11:00"),
        # Chatham springs forward at 02:45 +12:45 to 03:45 +13:45 on 27 September 2026.
        ("Pacific/Chatham", datetime.date(2026, 9, 27), datetime.time(3, 0), "2026-09-27T04:00:00+13:45"),
    ],
)
def test_a_wall_time_skipped_by_spring_forward_lands_on_the_shifted_wall_time(
    zone: str, date: datetime.date, skipped: datetime.time, shifted_local: str
) -> None:
    clock = PatientClock(current=zone)
    assert clock.at(date, skipped).astimezone(ZoneInfo(zone)).isoformat() == shifted_local


@pytest.mark.parametrize(
    ("zone", "date", "repeated", "first_local"),
    [
        # Berlin falls back at 03:00 CEST to 02:00 CET on 25 October 2026: 02:30 happens twice.
        ("Europe/Berlin", datetime.date(2026, 10, 25), datetime.time(2, 30), "2026-10-25T02:30:00+02:00"),
        # New York falls back at 02:00 EDT to 01:00 EST on 1 November 2026: 01:30 happens twice.
        ("America/New_York", datetime.date(2026, 11, 1), datetime.time(1, 30), "2026-11-01T01:30:00-04:00"),
        # Sydney falls back at 03:00 AEDT to 02:00 AEST on 5 April 2026.
        ("Australia/Sydney", datetime.date(2026, 4, 5), datetime.time(2, 30), "2026-04-05T02:30:00+11:00"),
        # Chatham falls back at 03:45 +13:45 to 02:45 +12:45 on 5 April 2026.
        ("Pacific/Chatham", datetime.date(2026, 4, 5), datetime.time(3, 0), "2026-04-05T03:00:00+13:45"),
    ],
)
def test_a_wall_time_that_occurs_twice_is_its_first_occurrence(
    zone: str, date: datetime.date, repeated: datetime.time, first_local: str
) -> None:
    clock = PatientClock(current=zone)
    assert clock.at(date, repeated).astimezone(ZoneInfo(zone)).isoformat() == first_local
    # Even when the caller's time says "the second one".
    assert clock.at(date, repeated.replace(fold=1)) == clock.at(date, repeated)


def test_a_wall_time_is_read_in_the_zone_of_its_date_before_and_after_a_move() -> None:
    assert MOVED.at(datetime.date(2026, 10, 5), datetime.time(20, 0)) == utc(2026, 10, 5, 17, 0)  # Doha
    assert MOVED.at(datetime.date(2026, 10, 6), datetime.time(8, 0)) == utc(2026, 10, 6, 12, 0)  # New York


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata", "Pacific/Chatham"])
def test_day_bounds_cover_every_local_day_asked_for_in_zones_far_from_utc(zone: str) -> None:
    first, last = datetime.date(2026, 3, 1), datetime.date(2026, 3, 3)
    start, end = PatientClock(current=zone).day_bounds(first, last)
    local_start = datetime.datetime.combine(first, datetime.time(), ZoneInfo(zone))
    local_end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(), ZoneInfo(zone))
    assert start <= local_start
    assert local_end <= end


# --- for_patient: the history recorded by patient_update ---------------------------------------


@pytest.fixture
def moved_patient(ad_patient: Patient) -> Patient:
    patient = ad_patient  # in Asia/Qatar
    with time_machine.travel(MOVED_AT, tick=False):
        patient_update(patient=patient, timezone="America/New_York")
    return patient


def test_a_time_zone_change_records_the_zone_left_and_when(moved_patient: Patient) -> None:
    (change,) = PatientTimezoneChange.objects.filter(patient=moved_patient)
    assert change.timezone == "Asia/Qatar"
    assert change.until == MOVED_AT


def test_the_clock_of_a_patient_who_moved_reads_old_instants_in_the_old_zone(moved_patient: Patient) -> None:
    clock = PatientClock.for_patient(moved_patient)
    assert clock.current == "America/New_York"
    assert clock.history == ((MOVED_AT, "Asia/Qatar"),)
    assert clock.local_date(utc(2026, 10, 4, 22, 30)) == datetime.date(2026, 10, 5)
    assert clock.local_date(utc(2026, 10, 8, 22, 30)) == datetime.date(2026, 10, 8)


def test_changing_other_details_records_no_move(db: None, ad_patient: Patient) -> None:
    patient = ad_patient
    patient_update(patient=patient, first_name="Noor", timezone="Asia/Qatar")
    assert PatientClock.for_patient(patient).history == ()


def test_moving_twice_keeps_both_zones_in_order(db: None, ad_patient: Patient) -> None:
    patient = ad_patient
    with time_machine.travel(utc(2026, 5, 1), tick=False):
        patient_update(patient=patient, timezone="Europe/Berlin")
    with time_machine.travel(utc(2026, 8, 1), tick=False):
        patient_update(patient=patient, timezone="America/New_York")
    clock = PatientClock.for_patient(patient)
    assert clock.history == ((utc(2026, 5, 1), "Asia/Qatar"), (utc(2026, 8, 1), "Europe/Berlin"))
    assert clock.zone_at(utc(2026, 6, 1)) == ZoneInfo("Europe/Berlin")
    assert clock.zone_on(datetime.date(2026, 4, 30)) == ZoneInfo("Asia/Qatar")
    assert clock.zone_on(datetime.date(2026, 7, 30)) == ZoneInfo("Europe/Berlin")
    assert clock.zone_on(datetime.date(2026, 8, 1)) == ZoneInfo("America/New_York")
