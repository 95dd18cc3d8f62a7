"""What follows a change to a patient's record (tracking/follow_up.py): schedules, alerts, then the summary."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
import time_machine

from accounts.models import Patient
from tests.personas import prescribe
from tracking import tasks
from tracking.follow_up import patient_record_follow_up
from tracking.models import Alert, AlertKind, PatientSummary, Schedule, Symptom

pytestmark = pytest.mark.django_db


def burning_on_three_days(patient: Patient) -> None:
    """Burning 6/10 on three of the last seven days, a month into the course: persistent burning (rules.py)."""
    for day in (10, 12, 14):
        Symptom.objects.create(
            patient=patient,
            recorded_at=datetime.datetime(2026, 11, day, 9, tzinfo=datetime.UTC),
            burning=6,
            created_by=patient.user,
            fingerprint="f" * 64,
        )


def test_the_summary_counts_the_alert_the_same_follow_up_opened(patient: Patient) -> None:
    with time_machine.travel(datetime.datetime(2026, 11, 14, 12, tzinfo=datetime.UTC), tick=False):
        prescribe(patient, start_date=datetime.date(2026, 10, 1))
        burning_on_three_days(patient)

        opened = patient_record_follow_up(patient)

    # No dose logged in six weeks: low adherence opens beside the burning.
    assert {alert.kind for alert in opened} == {AlertKind.PERSISTENT_BURNING, AlertKind.LOW_ADHERENCE}
    # Were the summary refreshed before the alerts were evaluated, it would count none.
    assert PatientSummary.objects.get(patient=patient).open_alerts == 2


def test_the_task_after_new_logs_refreshes_schedules_alerts_and_summary(patient: Patient) -> None:
    with time_machine.travel(datetime.datetime(2026, 11, 14, 12, tzinfo=datetime.UTC), tick=False):
        prescribe(patient, start_date=datetime.date(2026, 10, 1))
        Schedule.objects.filter(patient=patient).delete()
        burning_on_three_days(patient)

        opened = tasks.patient_logs_changed(str(patient.pk))

    assert opened == 2  # persistent burning and low adherence
    assert Schedule.objects.filter(patient=patient).exists()  # re-derived from the regimen
    assert PatientSummary.objects.get(patient=patient).open_alerts == 2


def test_the_task_for_a_patient_since_deleted_does_nothing() -> None:
    assert tasks.patient_logs_changed("00000000-0000-0000-0000-000000000000") == 0


def test_a_regimen_change_derives_the_schedules_once_and_new_logs_once(
    patient: Patient, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    from tracking import follow_up
    from tracking.services import logs, regimens
    from tracking.services.logs import logs_changed

    refreshed: list[Patient] = []
    sent: list[tuple[object, ...]] = []
    real_refresh = follow_up.schedules_refresh

    def counted_refresh(*, patient: Patient, **kwargs: object) -> object:
        refreshed.append(patient)
        return real_refresh(patient=patient, **kwargs)

    def recorded_enqueue(task: object, *args: object) -> bool:
        sent.append(args)
        return True

    for module in (follow_up, regimens):
        monkeypatch.setattr(module, "schedules_refresh", counted_refresh)
    monkeypatch.setattr(logs, "enqueue", recorded_enqueue)

    def follow_through(change: Callable[[], object]) -> int:
        """How often the change, its commit and the task it sends derive the schedules."""
        refreshed.clear()
        sent.clear()
        with django_capture_on_commit_callbacks(execute=True):
            change()
        for args in sent:
            tasks.patient_logs_changed(*args)
        return len(refreshed)

    with time_machine.travel(datetime.datetime(2026, 11, 14, 12, tzinfo=datetime.UTC), tick=False):
        assert follow_through(lambda: prescribe(patient, start_date=datetime.date(2026, 11, 1))) == 1
        regimen = patient.regimens.get()
        assert follow_through(lambda: regimens.regimen_update(regimen=regimen, times=["09:00"])) == 1
        assert follow_through(lambda: logs_changed(patient)) == 1  # new logs: the task derives them


def test_alerts_are_opened_even_when_the_schedules_cannot_be_refreshed(
    patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_refresh(**kwargs: object) -> None:
        raise RuntimeError("schedules could not be derived")

    monkeypatch.setattr("tracking.follow_up.schedules_refresh", broken_refresh)
    with time_machine.travel(datetime.datetime(2026, 11, 14, 12, tzinfo=datetime.UTC), tick=False):
        prescribe(patient, start_date=datetime.date(2026, 10, 1))
        burning_on_three_days(patient)

        with pytest.raises(RuntimeError):
            patient_record_follow_up(patient)

    # The task fails (and is logged), but the alerts and the summary were written before the schedules.
    assert Alert.objects.filter(patient=patient, kind=AlertKind.PERSISTENT_BURNING).exists()
    assert PatientSummary.objects.get(patient=patient).open_alerts == 2
