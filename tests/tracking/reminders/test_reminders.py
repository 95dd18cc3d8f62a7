"""Schedules derived from regimens, zones and settings; the sweep that writes occurrences.

Time is fixed with time_machine; the patient lives in Asia/Qatar (UTC+3, no DST) unless a test
moves them.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection

from accounts.services import patient_update
from tests.factories import PatientFactory
from tests.personas import prescribe, regimen_row
from tests.tracking.conftest import at
from tracking import services
from tracking.models import Delivery, Notification, Occurrence, OccurrenceState, Schedule, ScheduleKind, SkinCheck
from tracking.notifications.services import occurrences_deliver
from tracking.reminders.services import reminder_setting_update, schedules_refresh
from tracking.reminders.sweep import (
    CLAIM_FIELDS,
    OCCURRENCE_COLUMNS,
    _advance_row,
    _PortableWrites,
    _PostgresWrites,
    sweep,
)

UTC = datetime.UTC
QATAR = ZoneInfo("Asia/Qatar")


def dose_schedule(patient) -> Schedule:
    return Schedule.objects.get(patient=patient, kind=ScheduleKind.DOSE)


class TestSchedulesFollowTheRegimen:
    def test_prescribing_a_regimen_schedules_its_next_dose_in_the_patients_zone(self, patient, frozen):
        prescribe(patient)
        schedule = dose_schedule(patient)
        assert schedule.next_fire_at == at("2026-11-21T20:00:00+03:00")
        assert (schedule.next_local_date, schedule.next_slot) == (datetime.date(2026, 11, 21), "20:00")
        assert schedule.timezone == "Asia/Qatar"

    def test_changing_the_times_moves_the_next_reminder(self, patient, frozen):
        regimen = prescribe(patient)
        services.regimen_update(regimen=regimen, times=["10:00", "21:00"])
        assert dose_schedule(patient).next_fire_at == at("2026-11-21T10:00:00+03:00")

    def test_maintenance_reminds_only_on_its_weekdays(self, patient, frozen):
        prescribe(patient, phase="maintenance", weekdays=[1, 4], times=["20:00"])  # 21 Nov 2026 is a Saturday
        assert dose_schedule(patient).next_fire_at == at("2026-11-23T20:00:00+03:00")

    def test_a_regimen_that_ended_stops_reminding(self, patient, frozen):
        regimen = prescribe(patient)
        services.regimen_update(regimen=regimen, end_date=datetime.date(2026, 11, 20))
        assert dose_schedule(patient).next_fire_at is None

    def test_stepping_down_moves_the_reminders_to_the_new_regimen(self, patient, frozen):
        regimen = prescribe(patient)
        following = services.regimen_step_down(
            regimen=regimen,
            created_by=patient.user,
            start_date=datetime.date(2026, 11, 22),
            phase="maintenance",
            weekdays=[1, 4],
            times=["19:00"],
        )
        old = Schedule.objects.get(regimen=regimen, kind=ScheduleKind.DOSE)
        new = Schedule.objects.get(regimen=following, kind=ScheduleKind.DOSE)
        assert old.next_fire_at == at("2026-11-21T20:00:00+03:00")  # today is still the old regimen's
        assert new.next_fire_at == at("2026-11-23T19:00:00+03:00")

    def test_moving_to_another_zone_keeps_the_wall_time(self, patient, frozen):
        prescribe(patient)
        patient_update(patient=patient, timezone="America/New_York")
        schedule = dose_schedule(patient)
        assert schedule.timezone == "America/New_York"
        # 09:00 in Qatar is 01:00 in New York: the next slot is 08:00 there.
        assert schedule.next_fire_at == datetime.datetime(2026, 11, 21, 8, tzinfo=ZoneInfo("America/New_York"))


class TestSettings:
    def test_a_switched_off_kind_does_not_fire(self, patient, frozen):
        prescribe(patient)
        reminder_setting_update(patient=patient, kind="dose", enabled=False)
        assert dose_schedule(patient).next_fire_at is None
        reminder_setting_update(patient=patient, kind="dose", enabled=True)
        assert dose_schedule(patient).next_fire_at == at("2026-11-21T20:00:00+03:00")

    def test_quiet_hours_hold_the_reminder_until_they_end(self, patient, frozen):
        prescribe(patient, times=["06:30", "20:00"])
        reminder_setting_update(patient=patient, kind="dose", quiet_hours=(datetime.time(19), datetime.time(7)))
        schedule = dose_schedule(patient)
        assert (schedule.next_local_date, schedule.next_slot) == (datetime.date(2026, 11, 21), "20:00")
        assert schedule.next_fire_at == at("2026-11-22T07:00:00+03:00")

    def test_clearing_quiet_hours_restores_the_slot_time(self, patient, frozen):
        prescribe(patient)
        reminder_setting_update(patient=patient, kind="dose", quiet_hours=(datetime.time(19), datetime.time(7)))
        reminder_setting_update(patient=patient, kind="dose", quiet_hours=None)
        assert dose_schedule(patient).next_fire_at == at("2026-11-21T20:00:00+03:00")


class TestPrompts:
    def test_a_skin_check_prompt_comes_every_90_days_from_the_start(self, patient, frozen):
        prescribe(patient, start_date=datetime.date(2026, 10, 1))
        schedule = Schedule.objects.get(patient=patient, kind=ScheduleKind.SKIN_CHECK)
        assert schedule.next_fire_at == at("2026-12-30T18:00:00+03:00")
        assert schedule.every_days == 90

    def test_a_logged_skin_check_restarts_the_90_days(self, patient, frozen):
        prescribe(patient, start_date=datetime.date(2026, 10, 1))
        SkinCheck.objects.create(
            patient=patient,
            performed_at=at("2026-11-20T10:00:00+03:00"),
            performed_by="self",
            concerning=False,
            fingerprint="x",
        )
        schedules_refresh(patient=patient)
        schedule = Schedule.objects.get(patient=patient, kind=ScheduleKind.SKIN_CHECK)
        assert schedule.next_fire_at == at("2027-02-18T18:00:00+03:00")

    def test_no_skin_check_prompt_without_an_active_regimen(self, patient, frozen):
        prescribe(patient, start_date=datetime.date(2026, 10, 1), end_date=datetime.date(2026, 11, 10))
        schedule = Schedule.objects.filter(patient=patient, kind=ScheduleKind.SKIN_CHECK).first()
        assert schedule is None or schedule.next_fire_at is None

    def test_the_skin_check_interval_is_a_setting(self, patient, frozen, settings):
        settings.SKIN_CHECK_INTERVAL_DAYS = 30
        prescribe(patient, start_date=datetime.date(2026, 11, 1))
        schedule = Schedule.objects.get(patient=patient, kind=ScheduleKind.SKIN_CHECK)
        assert schedule.next_fire_at == at("2026-12-01T18:00:00+03:00")

    def test_atopic_dermatitis_gets_a_weekly_poem_prompt(self, patient, frozen):
        prescribe(patient, start_date=datetime.date(2026, 11, 1))
        schedule = Schedule.objects.get(patient=patient, kind=ScheduleKind.POEM)
        assert schedule.every_days == 7
        assert schedule.next_fire_at == at("2026-11-22T18:00:00+03:00")  # 1 Nov + 3 weeks, the next to come

    def test_lupus_patients_get_no_poem_prompt(self, cle_patient, frozen):
        prescribe(cle_patient)
        assert not Schedule.objects.filter(patient=cle_patient, kind=ScheduleKind.POEM).exists()

    def test_a_refill_prompt_is_scheduled_when_the_tube_runs_out_within_7_days(self, patient, frozen):
        # 30 g at 2 doses a day: face+neck for an adult is 2.5 FTU = 1.25 g a dose, 2.5 g a day → 12 days.
        regimen = prescribe(patient, start_date=datetime.date(2026, 11, 21), tube_grams=30)
        refill = Schedule.objects.get(regimen=regimen, kind=ScheduleKind.REFILL)
        # Empty around 3 December; less than 7 days away from 27 November.
        assert refill.next_fire_at == at("2026-11-27T18:00:00+03:00")

    def test_a_refill_prompt_fires_once_per_regimen(self, patient, frozen):
        regimen = prescribe(patient, start_date=datetime.date(2026, 11, 21), tube_grams=30)
        frozen.move_to(at("2026-11-27T18:01:00+03:00"))
        sweep()
        assert Occurrence.objects.filter(schedule__regimen=regimen, kind=ScheduleKind.REFILL).count() == 1
        schedules_refresh(patient=patient)
        assert Schedule.objects.get(regimen=regimen, kind=ScheduleKind.REFILL).next_fire_at is None

    def test_without_a_tube_size_there_is_no_refill_prompt(self, patient, frozen):
        regimen = prescribe(patient)
        assert not Schedule.objects.filter(regimen=regimen, kind=ScheduleKind.REFILL).exists()


class TestSweep:
    def test_the_sweep_writes_one_occurrence_per_due_slot_and_advances(self, patient, frozen):
        prescribe(patient)
        frozen.move_to(at("2026-11-21T20:00:30+03:00"))
        result = sweep()
        occurrence = Occurrence.objects.get()
        assert (occurrence.local_date, occurrence.slot, occurrence.state) == (
            datetime.date(2026, 11, 21),
            "20:00",
            OccurrenceState.PENDING,
        )
        assert result.pending_ids == [occurrence.pk]
        assert dose_schedule(patient).next_fire_at == at("2026-11-22T08:00:00+03:00")

    def test_a_second_sweep_in_the_same_minute_writes_nothing(self, patient, frozen):
        prescribe(patient)
        frozen.move_to(at("2026-11-21T20:00:30+03:00"))
        sweep()
        assert sweep().written == 0
        assert Occurrence.objects.count() == 1

    def test_nothing_is_written_before_the_slot(self, patient, frozen):
        prescribe(patient)
        frozen.move_to(at("2026-11-21T19:59:59+03:00"))
        assert sweep().written == 0

    def test_a_sweep_that_was_late_writes_every_missed_slot_once(self, patient, frozen):
        prescribe(patient)
        frozen.move_to(at("2026-11-22T08:30:00+03:00"))
        sweep()
        assert sorted(Occurrence.objects.values_list("local_date", "slot")) == [
            (datetime.date(2026, 11, 21), "20:00"),
            (datetime.date(2026, 11, 22), "08:00"),
        ]

    def test_slots_hours_in_the_past_are_recorded_as_skipped_not_sent(self, patient, frozen):
        prescribe(patient)
        frozen.move_to(at("2026-11-22T09:00:00+03:00"))  # 13 h after 20:00, 1 h after 08:00
        result = sweep()
        states = dict(Occurrence.objects.values_list("slot", "state"))
        assert states == {"20:00": OccurrenceState.SKIPPED, "08:00": OccurrenceState.PENDING}
        assert "too late" in Occurrence.objects.get(slot="20:00").skip_reason
        assert result.skipped_stale == 1

    def test_refreshing_a_schedule_after_a_slot_fired_does_not_fire_it_again(self, patient, frozen):
        prescribe(patient)
        frozen.move_to(at("2026-11-21T20:01:00+03:00"))
        sweep()
        schedules_refresh(patient=patient)  # looks back a few minutes, to 19:56
        sweep()
        assert Occurrence.objects.filter(slot="20:00").count() == 1

    def test_a_compare_and_set_write_loses_to_a_sweep_that_moved_the_row_first(self, patient, frozen):
        prescribe(patient)
        schedule = dose_schedule(patient)
        row = Schedule.objects.filter(pk=schedule.pk).values_list(*CLAIM_FIELDS).get()
        advanced = _advance_row(row, at("2026-11-21T20:00:30+03:00"))
        Schedule.objects.filter(pk=schedule.pk).update(next_fire_at=at("2026-11-22T08:00:00+03:00"))  # the other sweep
        assert _PortableWrites.save_positions([advanced]) == []
        assert _PortableWrites.save_positions([replace(advanced, read_fire_at=at("2026-11-22T08:00:00+03:00"))])

    def test_a_dependents_schedule_fires_too(self, child, caregiver, frozen):
        regimen_row(child, start_date=datetime.date(2026, 11, 1), created_by=caregiver)
        schedules_refresh(patient=child)
        frozen.move_to(at("2026-11-21T20:00:00+03:00"))
        assert sweep().written == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
def test_two_sweeps_at_once_on_postgresql_write_each_occurrence_once():
    """Two threads, two connections, the same 300 due schedules: 300 occurrences, never more."""
    patients = [PatientFactory(timezone="Asia/Qatar") for _ in range(300)]
    with time_machine.travel(at("2026-11-21T09:00:00+03:00"), tick=False):
        for patient in patients:
            regimen_row(patient, start_date=datetime.date(2026, 11, 1))
            schedules_refresh(patient=patient)
    due_at = at("2026-11-21T20:00:10+03:00")
    start = threading.Barrier(2)
    results = []
    errors = []

    def run() -> None:
        try:
            start.wait()
            results.append(sweep(now=due_at, batch_size=25))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Occurrence.objects.count() == 300
    assert sum(result.written for result in results) == 300
    assert all(result.claimed > 0 for result in results), "one sweep did all the work; the race was not exercised"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks")
def test_two_workers_delivering_the_same_occurrences_notify_each_recipient_once():
    """A re-enqueued batch racing its original: SKIP LOCKED gives each occurrence to one worker."""
    patients = [PatientFactory(timezone="Asia/Qatar") for _ in range(100)]
    with time_machine.travel(at("2026-11-21T09:00:00+03:00"), tick=False):
        for patient in patients:
            regimen_row(patient, start_date=datetime.date(2026, 11, 1))
            schedules_refresh(patient=patient)
    ids = sweep(now=at("2026-11-21T20:00:10+03:00")).pending_ids
    start = threading.Barrier(2)
    errors = []

    def deliver() -> None:
        try:
            start.wait()
            occurrences_deliver(ids, now=at("2026-11-21T20:00:20+03:00"))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Notification.objects.count() == 100
    assert Delivery.objects.filter(channel="inbox").count() == 100
    assert not Occurrence.objects.filter(pk__in=ids, state=OccurrenceState.PENDING).exists()


def test_the_sweeps_insert_names_the_occurrence_columns_in_their_order():
    """The PostgreSQL INSERT is written out by hand: it must follow the model and OCCURRENCE_COLUMNS."""
    columns = {field.column for field in Occurrence._meta.concrete_fields}
    assert set(OCCURRENCE_COLUMNS) <= columns
    assert columns - set(OCCURRENCE_COLUMNS) == {"recipient_id", "follows_id"}  # a sweep writes neither
    assert f"({', '.join(OCCURRENCE_COLUMNS)})" in _PostgresWrites.INSERT


def test_the_beat_entry_starts_the_configured_number_of_sweeps(patient, frozen, settings, monkeypatch):
    from tracking.reminders import tasks

    settings.REMINDER_SWEEPERS = 3
    helpers = []
    monkeypatch.setattr(tasks.sweep_reminders_helper, "delay", lambda: helpers.append(1))
    prescribe(patient)
    frozen.move_to(at("2026-11-21T20:00:30+03:00"))
    assert tasks.sweep_reminders() == 1  # this sweep wrote the one due reminder
    assert len(helpers) == 2  # and asked two more workers to sweep alongside it
