"""The demo patients' weeks tell the stories the README promises, through the same selectors the API uses."""

from __future__ import annotations

import datetime
from io import StringIO
from statistics import mean

import pytest
from django.core.management import call_command
from django.db.models import QuerySet

from accounts.models import Patient
from tracking.models import Application, PoemEntry, Regimen, SkinCheck, Symptom
from tracking.selectors import adherence_for

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def adherence_over(patient: Patient, first_days_ago: int, last_days_ago: int) -> float:
    today = patient.local_today()
    report = adherence_for(
        patient,
        first=today - datetime.timedelta(days=first_days_ago),
        last=today - datetime.timedelta(days=last_days_ago),
    )
    assert report.adherence_pct is not None
    return report.adherence_pct


def scores(logs: QuerySet, field: str) -> list[int]:
    return [value for value in logs.values_list(field, flat=True) if value is not None]


def weeks_of_logs(patient: Patient) -> float:
    first = Application.objects.filter(patient=patient).order_by("applied_at").first()
    assert first is not None
    return (patient.local_today() - first.applied_at.date()).days / 7


def test_each_demo_patient_has_six_to_eight_weeks_of_logs() -> None:
    seed()
    for patient in Patient.objects.all():
        assert 6 <= weeks_of_logs(patient) <= 8.2, patient
        assert Symptom.objects.filter(patient=patient).count() >= 30
        assert SkinCheck.objects.filter(patient=patient).exists()


def test_the_adult_is_adherent_improving_and_stepped_down_to_maintenance() -> None:
    seed()
    amira = Patient.objects.get(first_name="Amira")

    assert adherence_over(amira, 48, 0) >= 85
    flares = scores(Symptom.objects.filter(patient=amira).order_by("recorded_at"), "flare_severity")
    assert mean(flares[:7]) - mean(flares[-7:]) >= 1.5  # severity falls by well over a grade
    poem = scores(PoemEntry.objects.filter(patient=amira).order_by("recorded_at"), "score")
    assert poem[0] >= 14
    assert poem[-1] <= 5
    treatment, maintenance = Regimen.objects.filter(patient=amira).order_by("start_date")
    assert (treatment.phase, maintenance.phase) == ("treatment", "maintenance")
    assert maintenance.previous_id == treatment.pk
    assert maintenance.weekdays == [1, 4]


def test_the_childs_burning_settles_after_the_first_week() -> None:
    seed()
    noah = Patient.objects.get(first_name="Noah")
    burning = [
        (recorded_at.date(), value)
        for recorded_at, value in Symptom.objects.filter(patient=noah).values_list("recorded_at", "burning")
        if value is not None
    ]
    burning.sort()
    start = burning[0][0]
    first_week = [value for date, value in burning if (date - start).days < 7]
    later = [value for date, value in burning if (date - start).days >= 10]

    assert mean(first_week) >= 3.5
    assert mean(later) <= 1.5


def test_the_lupus_patients_adherence_slips_week_by_week() -> None:
    seed()
    grace = Patient.objects.get(first_name="Grace")

    early, late = adherence_over(grace, 55, 42), adherence_over(grace, 13, 0)

    assert early >= 75
    assert late <= 50
    assert grace.condition == "cle_discoid"


def test_seed_demo_prints_each_patients_two_week_adherence() -> None:
    output = seed()

    assert "Their last two weeks (dose adherence):" in output
    for name in ("Amira Saleh", "Noah Weber", "Grace Miller"):
        assert name in output


def test_seeding_twice_stores_no_log_twice() -> None:
    seed()
    models = (Regimen, Application, Symptom, PoemEntry, SkinCheck)
    counts = [model.objects.count() for model in models]

    seed()

    assert [model.objects.count() for model in models] == counts
