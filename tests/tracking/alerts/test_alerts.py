"""Care-team alerts: each rule with its boundaries, episodes (once while open, fresh evidence after a
resolution), thresholds from settings, resolving, the daily digest and the admin.

The patient lives in Asia/Qatar (+03:00, no DST) on a twice-daily tacrolimus regimen from
1 October 2026 (tests/tracking/conftest.py). Every instant is written in local time; a log's
`created_at` (when the server stored it) is its event time unless a test says otherwise.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Patient, User
from tests.factories import CareTeamMembershipFactory, DermatologistFactory, PatientFactory
from tests.personas import Clinic, admin_client_as, regimen_row
from tracking import rules
from tracking.alerts import selectors as alert_selectors
from tracking.alerts import services as alert_services
from tracking.alerts.services import alert_resolve, evaluate_all_alerts, evaluate_patient_alerts, send_alert_digests
from tracking.models import (
    Alert,
    AlertDigest,
    AlertKind,
    AlertSeverity,
    Application,
    PoemEntry,
    Regimen,
    SkinCheck,
    Symptom,
)
from tracking.models.logs import PatientLog

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
DELETED_AT = datetime.datetime(2026, 12, 31, tzinfo=UTC)
ADMIN_ALERTS = "/admin/tracking/alert/"


def at(iso: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(iso)


def local(day: str, time: str = "09:00") -> str:
    """An instant on the patient's wall clock in Doha."""
    return f"{day}T{time}+03:00"


def _stored(model: type[PatientLog], row: Any, recorded: str | None) -> Any:
    # created_at is auto_now_add: set it afterwards to when the server is meant to have stored the log.
    model._default_manager.filter(pk=row.pk).update(created_at=at(recorded) if recorded else row.event_time)
    row.refresh_from_db()
    return row


def symptom(
    patient: Patient,
    when: str,
    *,
    burning: int | None = None,
    flare: int | None = None,
    recorded: str | None = None,
    deleted: bool = False,
) -> Symptom:
    row = Symptom.objects.create(
        patient=patient,
        recorded_at=at(when),
        burning=burning,
        flare_severity=flare,
        created_by=patient.user,
        fingerprint="test",
        deleted_at=DELETED_AT if deleted else None,
    )
    return _stored(Symptom, row, recorded)


def poem(patient: Patient, when: str, score: int, *, recorded: str | None = None) -> PoemEntry:
    answers = [min(4, max(0, score - 4 * item)) for item in range(rules.POEM_ITEM_COUNT)]
    assert rules.poem_score(answers) == score
    row = PoemEntry.objects.create(
        patient=patient,
        recorded_at=at(when),
        answers=answers,
        score=score,
        band=rules.poem_band(score),
        created_by=patient.user,
        fingerprint="test",
    )
    return _stored(PoemEntry, row, recorded)


def skin_check(
    patient: Patient, when: str, *, concerning: bool = True, recorded: str | None = None, deleted: bool = False
) -> SkinCheck:
    row = SkinCheck.objects.create(
        patient=patient,
        performed_at=at(when),
        concerning=concerning,
        created_by=patient.user,
        fingerprint="test",
        deleted_at=DELETED_AT if deleted else None,
    )
    return _stored(SkinCheck, row, recorded)


def doses(patient: Patient, regimen: Regimen, days: list[str], *, time: str = "08:00", deleted: bool = False) -> None:
    Application.objects.bulk_create(
        Application(
            patient=patient,
            regimen=regimen,
            applied_at=at(local(day, time)),
            body_areas=regimen.body_areas,
            created_by=patient.user,
            fingerprint="test",
            deleted_at=DELETED_AT if deleted else None,
        )
        for day in days
    )


def days_from(first: str, count: int) -> list[str]:
    start = datetime.date.fromisoformat(first)
    return [(start + datetime.timedelta(days=offset)).isoformat() for offset in range(count)]


def evaluate(patient: Patient, now: str, kind: str | None = None) -> list[Alert]:
    """The alerts opened at `now`; only those of `kind` when given (most tests also open low adherence,
    since they log no doses)."""
    opened = evaluate_patient_alerts(patient, now=at(now))
    return [alert for alert in opened if kind is None or alert.kind == kind]


def kinds(opened: list[Alert]) -> list[str]:
    return [alert.kind for alert in opened]


def resolve(alert: Alert, when: str, by: User | None = None) -> Alert:
    with time_machine.travel(at(when), tick=False):
        return alert_resolve(alert=alert, resolved_by=by or DermatologistFactory(), note="Reviewed by phone.")


def thresholds(settings: Any, **changes: int) -> None:
    settings.ALERT_THRESHOLDS = {**settings.ALERT_THRESHOLDS, **changes}


# --- Persistent burning ------------------------------------------------------------------------------


def burning_on(patient: Patient, *days: str, score: int = 4, **kwargs: Any) -> None:
    for day in days:
        symptom(patient, local(day), burning=score, **kwargs)


def test_it_raises_persistent_burning_after_three_days_at_four_or_more(patient: Patient, regimen: Regimen) -> None:
    burning_on(patient, "2026-11-10", "2026-11-12")
    symptom(patient, local("2026-11-14"), burning=7)

    opened = evaluate(patient, local("2026-11-14", "12:00"), AlertKind.PERSISTENT_BURNING)

    assert kinds(opened) == [AlertKind.PERSISTENT_BURNING]
    alert = opened[0]
    assert alert.severity == AlertSeverity.MEDIUM
    assert alert.regimen == regimen
    assert alert.evidence["burning_by_day"] == {"2026-11-10": 4, "2026-11-12": 4, "2026-11-14": 7}
    assert alert.evidence["course_start"] == "2026-10-01"
    assert "3 of the last 7 days" in alert.summary
    assert alert.opened_at == at(local("2026-11-14", "12:00"))


def test_it_does_not_raise_persistent_burning_on_only_two_days_at_four_or_more(
    patient: Patient, regimen: Regimen
) -> None:
    burning_on(patient, "2026-11-10", "2026-11-12")
    burning_on(patient, "2026-11-13", "2026-11-14", score=3)

    assert evaluate(patient, local("2026-11-14", "12:00"), AlertKind.PERSISTENT_BURNING) == []


def test_several_burning_logs_on_one_local_day_count_as_one_day(patient: Patient, regimen: Regimen) -> None:
    for time in ("08:30", "13:00", "21:00"):
        symptom(patient, local("2026-11-13", time), burning=6)
    burning_on(patient, "2026-11-14")

    assert evaluate(patient, local("2026-11-14", "22:00"), AlertKind.PERSISTENT_BURNING) == []


def test_burning_days_are_the_patients_local_days_not_utc_days(patient: Patient, regimen: Regimen) -> None:
    # UTC dates 9, 10 and 11 November; in Doha these are the 10th, the 10th and the 11th.
    for instant in ("2026-11-10T00:30+03:00", "2026-11-10T23:30+03:00", "2026-11-11T22:00+03:00"):
        symptom(patient, instant, burning=5)

    assert evaluate(patient, local("2026-11-11", "23:00"), AlertKind.PERSISTENT_BURNING) == []


def test_burning_older_than_the_last_seven_local_days_does_not_count(patient: Patient, regimen: Regimen) -> None:
    burning_on(patient, "2026-11-07", "2026-11-10", "2026-11-12")  # the window is 8-14 November

    assert evaluate(patient, local("2026-11-14", "12:00"), AlertKind.PERSISTENT_BURNING) == []


def test_burning_within_14_days_of_the_start_does_not_count(patient: Patient, regimen: Regimen) -> None:
    # The regimen started on 1 October: only days after 15 October count; 16 October is the first.
    burning_on(patient, "2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16")

    assert evaluate(patient, local("2026-10-16", "12:00"), AlertKind.PERSISTENT_BURNING) == []


def test_burning_counts_from_the_fifteenth_day_after_the_start(patient: Patient, regimen: Regimen) -> None:
    burning_on(patient, "2026-10-16", "2026-10-17", "2026-10-18")

    assert kinds(evaluate(patient, local("2026-10-18", "12:00"), AlertKind.PERSISTENT_BURNING)) == [
        AlertKind.PERSISTENT_BURNING
    ]


def test_a_step_down_continues_the_course_for_persistent_burning(patient: Patient) -> None:
    treatment = regimen_row(patient, start_date=datetime.date(2026, 10, 1), end_date=datetime.date(2026, 11, 1))
    maintenance = regimen_row(
        patient,
        phase="maintenance",
        weekdays=[1, 4],
        start_date=datetime.date(2026, 11, 2),
        previous=treatment,
    )
    burning_on(patient, "2026-11-05", "2026-11-06", "2026-11-07")

    opened = evaluate(patient, local("2026-11-07", "12:00"), AlertKind.PERSISTENT_BURNING)

    assert kinds(opened) == [AlertKind.PERSISTENT_BURNING]
    assert opened[0].regimen == maintenance
    assert opened[0].evidence["course_start"] == "2026-10-01"


def test_persistent_burning_needs_a_regimen_active_today(patient: Patient) -> None:
    regimen_row(patient, start_date=datetime.date(2026, 10, 1), end_date=datetime.date(2026, 11, 1))
    burning_on(patient, "2026-11-10", "2026-11-11", "2026-11-12")

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.PERSISTENT_BURNING) == []


def test_soft_deleted_burning_logs_are_ignored(patient: Patient, regimen: Regimen) -> None:
    burning_on(patient, "2026-11-10", "2026-11-12")
    burning_on(patient, "2026-11-14", deleted=True)

    assert evaluate(patient, local("2026-11-14", "12:00"), AlertKind.PERSISTENT_BURNING) == []


def test_persistent_burning_reads_its_thresholds_from_settings(
    patient: Patient, regimen: Regimen, settings: Any
) -> None:
    burning_on(patient, "2026-11-12", "2026-11-14", score=3)
    now = local("2026-11-14", "12:00")
    assert evaluate(patient, now, AlertKind.PERSISTENT_BURNING) == []

    thresholds(settings, persistent_burning_min_days=2, persistent_burning_min_score=3)

    opened = evaluate(patient, now, AlertKind.PERSISTENT_BURNING)
    assert kinds(opened) == [AlertKind.PERSISTENT_BURNING]
    assert "Burning of 3/10 or more on 2 of the last 7 days" in opened[0].summary


def test_it_raises_persistent_burning_once_while_it_is_open(patient: Patient, regimen: Regimen) -> None:
    burning_on(patient, "2026-11-10", "2026-11-12", "2026-11-14")

    first = evaluate(patient, local("2026-11-14", "12:00"), AlertKind.PERSISTENT_BURNING)
    burning_on(patient, "2026-11-15")
    second = evaluate(patient, local("2026-11-15", "12:00"), AlertKind.PERSISTENT_BURNING)

    assert len(first) == 1
    assert second == []
    assert Alert.objects.filter(patient=patient, kind=AlertKind.PERSISTENT_BURNING).count() == 1


def test_after_a_resolution_persistent_burning_needs_three_fresh_days(patient: Patient, regimen: Regimen) -> None:
    burning_on(patient, "2026-11-10", "2026-11-12", "2026-11-14")
    (alert,) = evaluate(patient, local("2026-11-14", "12:00"), AlertKind.PERSISTENT_BURNING)
    resolve(alert, local("2026-11-14", "15:00"))

    assert evaluate(patient, local("2026-11-14", "16:00"), AlertKind.PERSISTENT_BURNING) == []  # the same old logs
    burning_on(patient, "2026-11-15", "2026-11-16")
    assert (
        evaluate(patient, local("2026-11-16", "12:00"), AlertKind.PERSISTENT_BURNING) == []
    )  # two fresh days, the rest seen already
    burning_on(patient, "2026-11-17")
    reopened = evaluate(patient, local("2026-11-17", "12:00"), AlertKind.PERSISTENT_BURNING)

    assert kinds(reopened) == [AlertKind.PERSISTENT_BURNING]
    assert reopened[0].evidence["burning_by_day"] == {"2026-11-15": 4, "2026-11-16": 4, "2026-11-17": 4}


def test_a_log_synced_after_the_resolution_is_fresh_evidence(patient: Patient, regimen: Regimen) -> None:
    burning_on(patient, "2026-11-10", "2026-11-12", "2026-11-14")
    (alert,) = evaluate(patient, local("2026-11-14", "12:00"), AlertKind.PERSISTENT_BURNING)
    resolve(alert, local("2026-11-14", "15:00"))
    # Logged offline on the 13th, stored on the 16th, with two more days after the resolution.
    burning_on(patient, "2026-11-13", recorded=local("2026-11-16", "08:00"))
    burning_on(patient, "2026-11-15", "2026-11-16")

    assert kinds(evaluate(patient, local("2026-11-16", "12:00"), AlertKind.PERSISTENT_BURNING)) == [
        AlertKind.PERSISTENT_BURNING
    ]


# --- No improvement at 6 weeks --------------------------------------------------------------------------

DAY_42 = local("2026-11-12", "12:00")  # 1 October + 42 days


def test_it_raises_no_improvement_when_flare_severity_is_no_better_at_six_weeks(
    patient: Patient, regimen: Regimen
) -> None:
    symptom(patient, local("2026-10-02"), flare=3)
    symptom(patient, local("2026-11-10"), flare=3)

    opened = evaluate(patient, DAY_42, AlertKind.NO_IMPROVEMENT)

    assert kinds(opened) == [AlertKind.NO_IMPROVEMENT]
    alert = opened[0]
    assert alert.severity == AlertSeverity.HIGH
    assert alert.regimen == regimen
    assert alert.episode_key == f"regimen:{regimen.pk}"
    assert alert.evidence["flare_severity"] == {
        "baseline": 3,
        "baseline_date": "2026-10-02",
        "current": 3,
        "current_date": "2026-11-10",
        "no_better": True,
    }
    assert "re-examine" in alert.summary


def test_it_does_not_raise_no_improvement_a_day_before_six_weeks(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-10-02"), flare=3)
    symptom(patient, local("2026-11-10"), flare=4)

    assert evaluate(patient, local("2026-11-11", "23:59"), AlertKind.NO_IMPROVEMENT) == []


def test_it_does_not_raise_no_improvement_when_both_measures_improved(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-10-02"), flare=3)
    poem(patient, local("2026-09-28"), 14)
    symptom(patient, local("2026-11-10"), flare=2)
    poem(patient, local("2026-11-09"), 6)

    assert evaluate(patient, DAY_42, AlertKind.NO_IMPROVEMENT) == []


def test_poem_no_better_raises_no_improvement_even_when_flare_severity_improved(
    patient: Patient, regimen: Regimen
) -> None:
    poem(patient, local("2026-09-28"), 10)
    poem(patient, local("2026-11-09"), 12)
    symptom(patient, local("2026-10-02"), flare=3)
    symptom(patient, local("2026-11-10"), flare=1)

    (alert,) = evaluate(patient, DAY_42, AlertKind.NO_IMPROVEMENT)

    assert alert.kind == AlertKind.NO_IMPROVEMENT
    assert alert.evidence["poem"]["no_better"] is True
    assert alert.evidence["flare_severity"]["no_better"] is False


def test_no_improvement_compares_the_latest_readings_of_each_window(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-09-26"), flare=2)
    symptom(patient, local("2026-10-05"), flare=4)  # the baseline: latest within a week of the start
    symptom(patient, local("2026-11-07"), flare=4)
    symptom(patient, local("2026-11-11"), flare=3)  # the current reading

    assert evaluate(patient, DAY_42, AlertKind.NO_IMPROVEMENT) == []


def test_no_improvement_needs_a_baseline_within_a_week_of_the_start(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-09-23"), flare=3)  # 8 days before the start
    symptom(patient, local("2026-10-09"), flare=3)  # 8 days after
    symptom(patient, local("2026-11-10"), flare=4)

    assert evaluate(patient, DAY_42, AlertKind.NO_IMPROVEMENT) == []


def test_no_improvement_needs_a_current_reading_from_the_last_seven_days(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-10-02"), flare=3)
    symptom(patient, local("2026-11-05"), flare=4)  # the window is 6-12 November

    assert evaluate(patient, DAY_42, AlertKind.NO_IMPROVEMENT) == []


def test_no_improvement_is_not_judged_for_a_maintenance_regimen(patient: Patient) -> None:
    regimen_row(patient, phase="maintenance", weekdays=[1, 4], start_date=datetime.date(2026, 10, 1))
    symptom(patient, local("2026-10-02"), flare=3)
    symptom(patient, local("2026-11-10"), flare=3)

    assert evaluate(patient, DAY_42, AlertKind.NO_IMPROVEMENT) == []


def test_no_improvement_is_raised_once_per_regimen(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-10-02"), flare=3)
    symptom(patient, local("2026-11-10"), flare=3)
    (alert,) = evaluate(patient, DAY_42, AlertKind.NO_IMPROVEMENT)
    resolve(alert, local("2026-11-12", "15:00"))
    symptom(patient, local("2026-11-20"), flare=4)

    assert evaluate(patient, local("2026-11-20", "12:00"), AlertKind.NO_IMPROVEMENT) == []
    assert Alert.objects.filter(patient=patient, kind=AlertKind.NO_IMPROVEMENT).count() == 1


def test_no_improvement_reads_the_review_day_from_settings(patient: Patient, regimen: Regimen, settings: Any) -> None:
    symptom(patient, local("2026-10-02"), flare=3)
    symptom(patient, local("2026-10-28"), flare=3)
    now = local("2026-10-29", "12:00")  # day 28
    assert evaluate(patient, now, AlertKind.NO_IMPROVEMENT) == []

    thresholds(settings, no_improvement_after_days=28)

    (alert,) = evaluate(patient, now, AlertKind.NO_IMPROVEMENT)
    assert "No improvement 4 weeks into" in alert.summary


# --- Worsening flare ------------------------------------------------------------------------------------


def test_it_raises_worsening_flare_when_severity_rises_by_two_within_seven_days(
    patient: Patient, regimen: Regimen
) -> None:
    symptom(patient, local("2026-11-06"), flare=1)
    symptom(patient, local("2026-11-09"), flare=2)
    symptom(patient, local("2026-11-12"), flare=3)

    (alert,) = evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE)

    assert alert.kind == AlertKind.WORSENING_FLARE
    assert alert.severity == AlertSeverity.HIGH
    assert alert.evidence["flare_severity"] == {
        "from": 1,
        "from_date": "2026-11-06",
        "to": 3,
        "to_date": "2026-11-12",
    }
    assert "from 1 (almost clear)" in alert.summary
    assert "to 3 (moderate)" in alert.summary


def test_a_rise_of_one_is_not_a_worsening_flare(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-11-08"), flare=2)
    symptom(patient, local("2026-11-12"), flare=3)

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE) == []


def test_a_rise_of_two_over_more_than_seven_days_is_not_a_worsening_flare(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-11-04", "08:59"), flare=1)
    symptom(patient, local("2026-11-11", "09:00"), flare=3)

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE) == []


def test_a_rise_that_ended_more_than_seven_days_ago_is_not_raised(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-11-01"), flare=1)
    symptom(patient, local("2026-11-04"), flare=3)  # the window is 6-12 November

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE) == []


def test_a_deleted_low_reading_is_not_a_reference_for_a_rise(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-11-08"), flare=1, deleted=True)
    symptom(patient, local("2026-11-12"), flare=3)

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE) == []


def test_it_raises_worsening_flare_when_the_poem_band_goes_up(patient: Patient, regimen: Regimen) -> None:
    poem(patient, local("2026-10-30"), 5)  # mild
    poem(patient, local("2026-11-09"), 10)  # moderate

    (alert,) = evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE)

    assert alert.kind == AlertKind.WORSENING_FLARE
    assert alert.evidence["poem"]["from_band"] == "mild"
    assert alert.evidence["poem"]["to_band"] == "moderate"
    assert "POEM went from 5 (mild) to 10 (moderate)" in alert.summary


def test_a_higher_poem_in_the_same_band_is_not_a_worsening_flare(patient: Patient, regimen: Regimen) -> None:
    poem(patient, local("2026-11-02"), 8)
    poem(patient, local("2026-11-09"), 16)

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE) == []


def test_a_poem_band_rise_older_than_seven_days_is_not_raised(patient: Patient, regimen: Regimen) -> None:
    poem(patient, local("2026-10-28"), 5)
    poem(patient, local("2026-11-04"), 10)

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE) == []


def test_worsening_flare_reads_its_minimum_rise_from_settings(
    patient: Patient, regimen: Regimen, settings: Any
) -> None:
    symptom(patient, local("2026-11-08"), flare=2)
    symptom(patient, local("2026-11-12"), flare=3)
    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE) == []

    thresholds(settings, worsening_flare_min_rise=1)

    assert kinds(evaluate(patient, local("2026-11-12", "12:00"), AlertKind.WORSENING_FLARE)) == [
        AlertKind.WORSENING_FLARE
    ]


def test_after_a_resolution_worsening_flare_needs_a_fresh_rise(patient: Patient, regimen: Regimen) -> None:
    symptom(patient, local("2026-11-08"), flare=1)
    symptom(patient, local("2026-11-10"), flare=3)
    (alert,) = evaluate(patient, local("2026-11-10", "12:00"), AlertKind.WORSENING_FLARE)
    resolve(alert, local("2026-11-10", "15:00"))

    assert evaluate(patient, local("2026-11-10", "16:00"), AlertKind.WORSENING_FLARE) == []
    symptom(patient, local("2026-11-11"), flare=3)  # still high: the rise from 1 was raised already
    assert evaluate(patient, local("2026-11-11", "12:00"), AlertKind.WORSENING_FLARE) == []
    symptom(patient, local("2026-11-12"), flare=1)
    symptom(patient, local("2026-11-13"), flare=3)  # a new rise
    reopened = evaluate(patient, local("2026-11-13", "12:00"), AlertKind.WORSENING_FLARE)

    assert kinds(reopened) == [AlertKind.WORSENING_FLARE]
    assert reopened[0].evidence["flare_severity"]["from_date"] == "2026-11-12"


# --- Low adherence -------------------------------------------------------------------------------------

AFTER_WINDOW = local("2026-11-15", "12:00")  # the window is 1-14 November: 28 doses due


def test_it_raises_low_adherence_below_half_the_doses_over_14_days(patient: Patient, regimen: Regimen) -> None:
    doses(patient, regimen, days_from("2026-11-01", 13))  # 13 of 28

    (alert,) = evaluate(patient, AFTER_WINDOW)

    assert alert.kind == AlertKind.LOW_ADHERENCE
    assert alert.severity == AlertSeverity.LOW
    assert alert.regimen == regimen
    assert alert.evidence == {
        "first": "2026-11-01",
        "last": "2026-11-14",
        "expected_doses": 28,
        "logged_doses": 13,
        "adherence_pct": 46.4,
        "threshold_pct": 50,
    }
    assert "Logged 13 of 28 scheduled doses (46.4%)" in alert.summary


def test_exactly_half_the_doses_is_not_low_adherence(patient: Patient, regimen: Regimen) -> None:
    doses(patient, regimen, days_from("2026-11-01", 14))  # 14 of 28

    assert evaluate(patient, AFTER_WINDOW) == []


def test_deleted_doses_do_not_count_toward_adherence(patient: Patient, regimen: Regimen) -> None:
    doses(patient, regimen, days_from("2026-11-01", 14))
    doses(patient, regimen, days_from("2026-11-01", 14), time="20:00", deleted=True)

    assert evaluate(patient, AFTER_WINDOW) == []
    doses(patient, regimen, days_from("2026-11-01", 14), time="20:00")
    assert evaluate(patient, AFTER_WINDOW) == []


def test_low_adherence_is_not_judged_for_a_regimen_that_started_inside_the_window(patient: Patient) -> None:
    regimen_row(patient, start_date=datetime.date(2026, 11, 2))

    assert evaluate(patient, AFTER_WINDOW) == []


def test_low_adherence_is_judged_for_a_regimen_that_started_on_the_first_day(patient: Patient) -> None:
    regimen_row(patient, start_date=datetime.date(2026, 11, 1))

    assert kinds(evaluate(patient, AFTER_WINDOW)) == [AlertKind.LOW_ADHERENCE]


def test_low_adherence_is_not_judged_for_a_regimen_that_stopped_inside_the_window(patient: Patient) -> None:
    regimen_row(patient, start_date=datetime.date(2026, 10, 1), end_date=datetime.date(2026, 11, 10))

    assert evaluate(patient, AFTER_WINDOW) == []


def test_low_adherence_reads_its_threshold_from_settings(patient: Patient, regimen: Regimen, settings: Any) -> None:
    doses(patient, regimen, days_from("2026-11-01", 14))  # 50%
    assert evaluate(patient, AFTER_WINDOW) == []

    thresholds(settings, low_adherence_pct=80)

    (alert,) = evaluate(patient, AFTER_WINDOW)
    assert "below 80%" in alert.summary


def test_after_a_resolution_low_adherence_needs_a_full_new_window(patient: Patient, regimen: Regimen) -> None:
    (alert,) = evaluate(patient, AFTER_WINDOW)  # nothing logged at all
    resolve(alert, local("2026-11-15", "15:00"))

    assert evaluate(patient, local("2026-11-16", "12:00")) == []
    assert evaluate(patient, local("2026-11-29", "12:00")) == []  # 15-28 November: starts on the resolution day
    assert kinds(evaluate(patient, local("2026-11-30", "12:00"))) == [AlertKind.LOW_ADHERENCE]


# --- Concerning skin check ------------------------------------------------------------------------------


def test_it_raises_an_alert_for_a_concerning_skin_check(patient: Patient, regimen: Regimen) -> None:
    check = skin_check(patient, local("2026-11-12"))

    (alert,) = evaluate(patient, local("2026-11-12", "12:00"), AlertKind.CONCERNING_SKIN_CHECK)

    assert alert.kind == AlertKind.CONCERNING_SKIN_CHECK
    assert alert.severity == AlertSeverity.HIGH
    assert alert.episode_key == f"skin_check:{check.pk}"
    assert alert.evidence["skin_check_id"] == str(check.pk)
    assert "skin check of 2026-11-12 as concerning" in alert.summary


def test_a_skin_check_not_marked_concerning_raises_nothing(patient: Patient, regimen: Regimen) -> None:
    skin_check(patient, local("2026-11-12"), concerning=False)

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.CONCERNING_SKIN_CHECK) == []


def test_a_deleted_concerning_skin_check_raises_nothing(patient: Patient, regimen: Regimen) -> None:
    skin_check(patient, local("2026-11-12"), deleted=True)

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.CONCERNING_SKIN_CHECK) == []


def test_another_concerning_check_while_one_is_open_is_listed_not_raised(patient: Patient, regimen: Regimen) -> None:
    skin_check(patient, local("2026-11-10"))
    (alert,) = evaluate(patient, local("2026-11-10", "12:00"), AlertKind.CONCERNING_SKIN_CHECK)
    later = skin_check(patient, local("2026-11-12"))

    assert evaluate(patient, local("2026-11-12", "12:00"), AlertKind.CONCERNING_SKIN_CHECK) == []
    alert.refresh_from_db()
    assert alert.evidence["other_skin_check_ids"] == [str(later.pk)]
    assert Alert.objects.filter(patient=patient, kind=AlertKind.CONCERNING_SKIN_CHECK).count() == 1


def test_after_a_resolution_only_a_new_concerning_check_raises_again(patient: Patient, regimen: Regimen) -> None:
    skin_check(patient, local("2026-11-10"))
    (alert,) = evaluate(patient, local("2026-11-10", "12:00"), AlertKind.CONCERNING_SKIN_CHECK)
    skin_check(patient, local("2026-11-11"))
    evaluate(patient, local("2026-11-11", "12:00"))  # lists it in the open alert
    resolve(alert, local("2026-11-11", "15:00"))

    assert evaluate(patient, local("2026-11-11", "16:00"), AlertKind.CONCERNING_SKIN_CHECK) == []
    newest = skin_check(patient, local("2026-11-13"))
    (reopened,) = evaluate(patient, local("2026-11-13", "12:00"), AlertKind.CONCERNING_SKIN_CHECK)

    assert reopened.episode_key == f"skin_check:{newest.pk}"
    assert reopened.evidence["other_skin_check_ids"] == []


def test_a_concerning_check_resolved_away_before_it_was_listed_raises_its_own_alert(
    patient: Patient, regimen: Regimen
) -> None:
    skin_check(patient, local("2026-11-10"))
    (alert,) = evaluate(patient, local("2026-11-10", "12:00"), AlertKind.CONCERNING_SKIN_CHECK)
    unseen = skin_check(patient, local("2026-11-11", "14:59"))
    resolve(alert, local("2026-11-11", "15:00"))  # before any evaluation named the new check

    (reopened,) = evaluate(patient, local("2026-11-11", "16:00"), AlertKind.CONCERNING_SKIN_CHECK)

    assert reopened.episode_key == f"skin_check:{unseen.pk}"


def test_the_first_skin_check_alert_lists_the_earlier_concerning_checks(patient: Patient, regimen: Regimen) -> None:
    earlier = skin_check(patient, local("2026-11-08"))
    skin_check(patient, local("2026-11-09"), concerning=False)
    newest = skin_check(patient, local("2026-11-10"))

    (alert,) = evaluate(patient, local("2026-11-10", "12:00"), AlertKind.CONCERNING_SKIN_CHECK)

    assert alert.episode_key == f"skin_check:{newest.pk}"
    assert alert.evidence["other_skin_check_ids"] == [str(earlier.pk)]
    assert "1 earlier concerning check(s) not reviewed yet" in alert.summary


# --- Evaluation as a whole -------------------------------------------------------------------------------


def test_evaluation_returns_only_the_alerts_it_opened(patient: Patient, regimen: Regimen) -> None:
    skin_check(patient, local("2026-11-10"))
    evaluate(patient, local("2026-11-10", "12:00"))
    symptom(patient, local("2026-11-10"), flare=1)
    symptom(patient, local("2026-11-12"), flare=4)

    assert kinds(evaluate(patient, local("2026-11-12", "12:00"))) == [AlertKind.WORSENING_FLARE]


def test_a_race_to_open_the_same_alert_leaves_one_and_raises_nothing(
    patient: Patient, regimen: Regimen, monkeypatch: pytest.MonkeyPatch
) -> None:
    skin_check(patient, local("2026-11-10"))
    evaluate(patient, local("2026-11-10", "12:00"))
    # The other evaluation's alert is not in the history this one read: only the database knows.
    monkeypatch.setattr(alert_selectors, "_kind_history", lambda patient: {})

    before = Alert.objects.filter(patient=patient).count()

    with transaction.atomic():
        opened = evaluate(patient, local("2026-11-10", "12:01"))
        still_usable = Alert.objects.filter(patient=patient).count()

    assert opened == []
    assert still_usable == before
    assert Alert.objects.filter(patient=patient, kind=AlertKind.CONCERNING_SKIN_CHECK).count() == 1


def test_evaluation_costs_the_same_queries_whatever_the_number_of_logs(patient: Patient, regimen: Regimen) -> None:
    def measure(days: int) -> int:
        for model in (Symptom, PoemEntry, SkinCheck, Application):
            model.objects.all().delete()
        logged = days_from((datetime.date(2026, 11, 15) - datetime.timedelta(days=days)).isoformat(), days)
        for day in logged:  # nothing to raise: mild burning, an improving flare and POEM, every dose logged
            early = day < "2026-11-01"
            symptom(patient, local(day), burning=2, flare=3 if early else 2)
            poem(patient, local(day, "10:00"), 10 if early else 5)
            skin_check(patient, local(day, "11:00"), concerning=False)
        doses(patient, regimen, logged)
        doses(patient, regimen, logged, time="20:00")
        fresh_patient = Patient.objects.get(pk=patient.pk)  # nothing cached from the previous measure
        with CaptureQueriesContext(connection) as queries:
            assert evaluate(fresh_patient, AFTER_WINDOW) == []
        return len(queries)

    few, many = measure(15), measure(45)

    assert few == many
    assert many <= 13  # a query per rule: the urgent skin-signs rule (issue #17) added one


def test_evaluate_all_alerts_covers_patients_with_a_regimen_or_recent_logs(regimen: Regimen, clinic: Clinic) -> None:
    on_regimen = regimen.patient
    skin_check(on_regimen, local("2026-11-10"))
    recent = clinic.ad_patient(timezone="Europe/London")
    skin_check(recent, "2026-11-10T09:00+00:00")
    quiet = clinic.ad_patient(timezone="Europe/London")
    skin_check(quiet, "2026-10-20T09:00+00:00")  # stored 22 days ago, no regimen: not evaluated

    opened = evaluate_all_alerts(now=at("2026-11-11T12:00+00:00"), chunk_size=1)

    assert opened == Alert.objects.count() == 3  # both skin checks, and no dose logged on the regimen
    assert set(Alert.objects.values_list("patient", flat=True)) == {on_regimen.pk, recent.pk}


def test_evaluate_all_alerts_goes_on_after_one_patient_fails(
    regimen: Regimen, monkeypatch: pytest.MonkeyPatch, clinic: Clinic
) -> None:
    broken = clinic.ad_patient(timezone="Europe/London")
    regimen_row(broken)
    skin_check(regimen.patient, local("2026-11-10"))
    real = alert_services.evaluate_patient_alerts

    def evaluate_or_fail(patient: Patient, **kwargs: Any) -> list[Alert]:
        if patient.pk == broken.pk:
            raise RuntimeError("boom")
        return real(patient, **kwargs)

    monkeypatch.setattr(alert_services, "evaluate_patient_alerts", evaluate_or_fail)

    assert evaluate_all_alerts(now=at("2026-11-11T12:00+00:00")) == 2  # the skin check, and no dose logged
    assert not Alert.objects.filter(patient=broken).exists()


# --- Resolving -------------------------------------------------------------------------------------------


@pytest.fixture
def open_alert(patient: Patient, regimen: Regimen) -> Alert:
    skin_check(patient, local("2026-11-10"))
    (alert,) = evaluate(patient, local("2026-11-10", "12:00"), AlertKind.CONCERNING_SKIN_CHECK)
    return alert


def test_resolving_records_when_who_and_the_note(open_alert: Alert, dermatologist: User) -> None:

    with time_machine.travel(at(local("2026-11-11", "10:00")), tick=False):
        resolved = alert_resolve(alert=open_alert, resolved_by=dermatologist, note="  Seen in clinic: benign.  ")

    open_alert.refresh_from_db()
    assert resolved.resolved_at == open_alert.resolved_at == at(local("2026-11-11", "10:00"))
    assert open_alert.resolved_by == dermatologist
    assert open_alert.resolution_note == "Seen in clinic: benign."
    assert not open_alert.is_open


@pytest.mark.parametrize("note", ["", "   "])
def test_resolving_needs_a_note(open_alert: Alert, note: str, dermatologist: User) -> None:
    with pytest.raises(ValidationError) as error:
        alert_resolve(alert=open_alert, resolved_by=dermatologist, note=note)

    assert "resolution_note" in error.value.message_dict
    open_alert.refresh_from_db()
    assert open_alert.is_open


def test_resolving_a_resolved_alert_is_refused(open_alert: Alert, dermatologist: User, stranger: User) -> None:
    alert_resolve(alert=open_alert, resolved_by=dermatologist, note="Reviewed.")

    with pytest.raises(ValidationError, match="already resolved"):
        alert_resolve(alert=open_alert, resolved_by=stranger, note="Me too.")

    open_alert.refresh_from_db()
    assert open_alert.resolved_by == dermatologist
    assert open_alert.resolution_note == "Reviewed."


# --- Daily digest -----------------------------------------------------------------------------------------


def make_alert(patient: Patient, opened_at: str, *, kind: str = AlertKind.PERSISTENT_BURNING, **extra: Any) -> Alert:
    return Alert.objects.create(
        patient=patient,
        kind=kind,
        severity=AlertSeverity.MEDIUM,
        summary=f"Summary {uuid.uuid4().hex[:8]}",
        evidence={},
        opened_at=at(opened_at),
        **extra,
    )


@pytest.fixture
def two_teams(clinic: Clinic) -> dict[str, Any]:
    """The clinic's team and another clinic's (not the stranger persona: that one is on no team).

    The patients' names are the digests' own, so a name absent from an email means something.
    """
    theirs = DermatologistFactory()
    my_patient = clinic.ad_patient(first_name="Quentin", last_name="Mineowner")
    their_patient = PatientFactory(first_name="Xavier", last_name="Elsewhere")
    CareTeamMembershipFactory(patient=their_patient, clinician=theirs)
    return {"mine": clinic.dermatologist, "theirs": theirs, "my_patient": my_patient, "their_patient": their_patient}


def sent_to(user: User) -> list[Any]:
    return [message for message in mail.outbox if message.to == [user.email]]


def test_the_digest_sends_each_dermatologist_only_their_own_patients_alerts(
    two_teams: dict[str, Any], stranger: User
) -> None:
    mine = make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")
    make_alert(two_teams["my_patient"], "2026-11-10T21:00+00:00", kind=AlertKind.CONCERNING_SKIN_CHECK)
    theirs = make_alert(two_teams["their_patient"], "2026-11-10T22:00+00:00")
    # The stranger persona is a dermatologist with no patients: no email for them.

    sent = send_alert_digests(now=at("2026-11-11T06:00+00:00"))

    assert sent == 2
    assert len(mail.outbox) == 2
    (email,) = sent_to(two_teams["mine"])
    assert email.subject == "2 new alerts for your patients"
    html = email.alternatives[0].content
    assert email.alternatives[0].mimetype == "text/html"
    for body in (email.body, html):
        assert "Quentin Mineowner" in body
        assert mine.summary in body
        assert "burning that does not settle" in body
        assert "concerning skin check" in body
        assert "2026-11-10 20:00" in body
        assert f"http://127.0.0.1:8000/admin/tracking/alert/{mine.pk}/change/" in body
        assert "Elsewhere" not in body
        assert theirs.summary not in body
    (their_email,) = sent_to(two_teams["theirs"])
    assert their_email.subject == "1 new alert for your patients"
    assert "Mineowner" not in their_email.body
    assert AlertDigest.objects.get(clinician=two_teams["mine"]).alert_count == 2


def test_the_digest_sends_nothing_when_nothing_is_new(two_teams: dict[str, Any]) -> None:
    make_alert(two_teams["my_patient"], "2026-11-09T20:00+00:00")  # more than 24 hours before the first run

    assert send_alert_digests(now=at("2026-11-11T06:00+00:00")) == 0
    assert mail.outbox == []
    assert not AlertDigest.objects.exists()


def test_the_next_days_digest_covers_only_newer_alerts(two_teams: dict[str, Any]) -> None:
    first = make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")
    assert send_alert_digests(now=at("2026-11-11T06:00+00:00")) == 1
    resolve(first, "2026-11-11T08:00+00:00")
    second = make_alert(two_teams["my_patient"], "2026-11-11T10:00+00:00")
    mail.outbox.clear()

    assert send_alert_digests(now=at("2026-11-12T06:00+00:00")) == 1
    (email,) = mail.outbox
    assert email.subject == "1 new alert for your patients"
    assert second.summary in email.body
    assert first.summary not in email.body
    assert send_alert_digests(now=at("2026-11-13T06:00+00:00")) == 0


def test_an_alert_opened_a_moment_before_the_digest_goes_in_the_next_one(two_teams: dict[str, Any]) -> None:
    # It may not have committed when the digest read: the window ends a minute before the run.
    late = make_alert(two_teams["my_patient"], "2026-11-11T05:59:30+00:00")

    assert send_alert_digests(now=at("2026-11-11T06:00+00:00")) == 0
    assert send_alert_digests(now=at("2026-11-12T06:00+00:00")) == 1
    (email,) = mail.outbox
    assert late.summary in email.body


def test_a_patient_on_two_care_teams_is_in_both_digests(two_teams: dict[str, Any]) -> None:
    CareTeamMembershipFactory(patient=two_teams["my_patient"], clinician=two_teams["theirs"])
    alert = make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")

    assert send_alert_digests(now=at("2026-11-11T06:00+00:00")) == 2
    for dermatologist in (two_teams["mine"], two_teams["theirs"]):
        (email,) = sent_to(dermatologist)
        assert alert.summary in email.body


def test_an_inactive_dermatologist_gets_no_digest(two_teams: dict[str, Any]) -> None:
    User.objects.filter(pk=two_teams["mine"].pk).update(is_active=False)
    make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")

    assert send_alert_digests(now=at("2026-11-11T06:00+00:00")) == 0
    assert mail.outbox == []


def test_a_digest_that_fails_to_send_is_sent_by_the_next_run(
    two_teams: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    alert = make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")

    def refuse(self: Any, fail_silently: bool = False) -> int:
        raise OSError("mail server down")

    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
        assert send_alert_digests(now=at("2026-11-11T06:00+00:00")) == 0
    assert not AlertDigest.objects.exists()

    assert send_alert_digests(now=at("2026-11-11T07:00+00:00")) == 1
    (email,) = mail.outbox
    assert alert.summary in email.body


# --- Admin -------------------------------------------------------------------------------------------------


def test_a_dermatologists_alert_list_shows_only_their_patients_alerts(two_teams: dict[str, Any]) -> None:
    make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")
    make_alert(two_teams["their_patient"], "2026-11-10T20:00+00:00")

    response = admin_client_as(two_teams["mine"]).get(ADMIN_ALERTS)

    assert response.status_code == 200
    content = response.content.decode()
    assert "Mineowner" in content
    assert "Elsewhere" not in content


def test_a_dermatologist_cannot_open_another_patients_alert_in_the_admin(two_teams: dict[str, Any]) -> None:
    theirs = make_alert(two_teams["their_patient"], "2026-11-10T20:00+00:00")

    response = admin_client_as(two_teams["mine"]).get(f"{ADMIN_ALERTS}{theirs.pk}/change/")

    assert response.status_code in (302, 404)
    assert "Elsewhere" not in response.content.decode()


def test_resolving_with_a_note_in_the_admin_records_who_resolved_it(two_teams: dict[str, Any]) -> None:
    alert = make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")
    client = admin_client_as(two_teams["mine"])

    page = client.get(f"{ADMIN_ALERTS}{alert.pk}/change/")
    response = client.post(f"{ADMIN_ALERTS}{alert.pk}/change/", {"resolution_note": "Called the patient."})

    assert page.status_code == 200
    assert response.status_code == 302, response.content.decode()
    alert.refresh_from_db()
    assert alert.resolved_by == two_teams["mine"]
    assert alert.resolved_at is not None
    assert alert.resolution_note == "Called the patient."


def test_saving_without_a_note_in_the_admin_leaves_the_alert_open(two_teams: dict[str, Any]) -> None:
    alert = make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")

    admin_client_as(two_teams["mine"]).post(f"{ADMIN_ALERTS}{alert.pk}/change/", {"resolution_note": "  "})

    alert.refresh_from_db()
    assert alert.is_open
    assert alert.resolution_note == ""


def test_a_resolved_alert_is_read_only_in_the_admin(two_teams: dict[str, Any]) -> None:
    alert = make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")
    resolve(alert, "2026-11-11T08:00+00:00", by=two_teams["mine"])

    admin_client_as(two_teams["mine"]).post(f"{ADMIN_ALERTS}{alert.pk}/change/", {"resolution_note": "Rewritten."})

    alert.refresh_from_db()
    assert alert.resolution_note == "Reviewed by phone."


def test_alerts_cannot_be_added_or_deleted_in_the_admin(two_teams: dict[str, Any]) -> None:
    alert = make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")
    client = admin_client_as(two_teams["mine"])

    assert client.get(f"{ADMIN_ALERTS}add/").status_code == 403
    assert client.post(f"{ADMIN_ALERTS}{alert.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Alert.objects.filter(pk=alert.pk).exists()


def test_the_open_filter_lists_only_open_alerts(two_teams: dict[str, Any]) -> None:
    make_alert(two_teams["my_patient"], "2026-11-10T20:00+00:00")
    resolved = make_alert(two_teams["my_patient"], "2026-11-09T20:00+00:00", kind=AlertKind.LOW_ADHERENCE)
    resolve(resolved, "2026-11-10T08:00+00:00")

    response = admin_client_as(two_teams["mine"]).get(ADMIN_ALERTS, {"status": "open"})

    content = response.content.decode()
    assert "burning that does not settle" in content
    assert f"{resolved.pk}/change/" not in content


def test_the_alert_list_costs_the_same_queries_for_3_alerts_as_for_30(
    two_teams: dict[str, Any], clinic: Clinic
) -> None:
    client = admin_client_as(two_teams["mine"])

    def measure(count: int) -> int:
        Alert.objects.all().delete()
        for _ in range(count):
            patient = clinic.ad_patient()
            make_alert(patient, "2026-11-10T20:00+00:00")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(ADMIN_ALERTS).status_code == 200
        return len(queries)

    few, many = measure(3), measure(30)

    assert few == many
    assert many <= 12
