"""Demo regimens and 6-8 weeks of logs for the demo patients, so the numbers tell a story:

- Amira, adult with atopic dermatitis: adherent and improving; steps down to maintenance.
- Noah, 8, atopic dermatitis: burning that settles after the first week.
- Grace, discoid lupus: adherence slipping week by week.

Deterministic (a seeded random generator) and idempotent: the logs have fixed ids, so a second
run stores nothing twice. Everything is written through the same services the API uses.
"""

from __future__ import annotations

import datetime
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from accounts.clock import PatientClock
from accounts.models import Patient, User
from tracking import rules, services
from tracking.alerts.services import evaluate_patient_alerts
from tracking.models import Application, Phase, PoemEntry, Regimen, SkinCheck, Symptom
from tracking.models.regimens import ALL_WEEKDAYS
from tracking.reminders.services import schedules_refresh
from tracking.review.services import summary_refresh

DEMO_NAMESPACE = uuid.UUID("6f1c2d1e-5a7b-4f0e-9a39-1c0de5eed5e7")


@dataclass(frozen=True)
class Story:
    """How one demo patient's weeks go: the chance a dose is logged, and symptoms by day."""

    key: str
    days: int
    take_dose: Callable[[int, random.Random], bool]  # (day index, rng) → logged?
    symptoms: Callable[[int, random.Random], dict[str, int]]
    poem_weekly: bool


def _log_id(story: Story, kind: str, *parts: object) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, ":".join([story.key, kind, *map(str, parts)]))


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _improving_adult_symptoms(day: int, rng: random.Random) -> dict[str, int]:
    progress = day / 49
    return {
        "burning": _clamp((4 if day < 5 else 1) + rng.uniform(-1, 1), 0, 10),
        "itch": _clamp(7 - 5 * progress + rng.uniform(-1, 1), 0, 10),
        "flare_severity": _clamp(3.2 - 2.8 * progress + rng.uniform(-0.4, 0.4), 0, 4),
    }


def _child_burning_settles(day: int, rng: random.Random) -> dict[str, int]:
    burning = 6 - day * 0.4 if day < 7 else 1 - (day - 7) / 20
    return {
        "burning": _clamp(burning + rng.uniform(-1, 1), 0, 10),
        "itch": _clamp(6 - 3 * day / 42 + rng.uniform(-1, 1), 0, 10),
        "flare_severity": _clamp(3 - 1.5 * day / 42 + rng.uniform(-0.4, 0.4), 0, 4),
    }


def _lupus_steady(day: int, rng: random.Random) -> dict[str, int]:
    return {
        "burning": _clamp(2 + rng.uniform(-1, 1), 0, 10),
        "flare_severity": _clamp(2.6 - day / 120 + rng.uniform(-0.5, 0.5), 0, 4),
    }


STORIES = {
    "adult": Story("adult", 49, lambda day, rng: rng.random() < 0.94, _improving_adult_symptoms, poem_weekly=True),
    "child": Story("child", 42, lambda day, rng: rng.random() < 0.86, _child_burning_settles, poem_weekly=True),
    # Grace logs nine doses in ten at first, fewer every week after: about three in ten by week 8.
    "lupus": Story(
        "lupus", 56, lambda day, rng: rng.random() < max(0.3, 0.92 - 0.012 * day), _lupus_steady, poem_weekly=False
    ),
}


def seed_demo_tracking(*, adult: Patient, child: Patient, lupus: Patient, caregiver: User) -> dict[str, Patient]:
    """Give the three demo patients their regimens and logs, unless they already have them."""
    for patient, story in ((adult, STORIES["adult"]), (child, STORIES["child"]), (lupus, STORIES["lupus"])):
        logger = caregiver if patient.user is None else patient.user
        assert logger is not None  # noqa: S101 - a dependent always has its caregiver here
        if not Regimen.objects.filter(patient=patient).exists():
            _prescribe(patient, story, logger)
        _write_logs(patient, story, logger)
        # Now, not when a worker gets to it: the reminders are due from today and the
        # dermatologist opens the admin to the alerts these weeks of logs call for.
        schedules_refresh(patient=patient)
        evaluate_patient_alerts(patient)
        summary_refresh(patient)
    return {"adult": adult, "child": child, "lupus": lupus}


def _prescribe(patient: Patient, story: Story, logger: User) -> None:
    start = patient.local_today() - datetime.timedelta(days=story.days)
    common: dict[str, Any] = {"patient": patient, "created_by": logger, "start_date": start}
    if story.key == "adult":
        treatment = services.regimen_prescribe(
            **common,
            drug=rules.Drug.TACROLIMUS,
            strength="0.1",
            phase=Phase.TREATMENT,
            body_areas=["face", "neck", "hand_left", "hand_right"],
            times=["07:30", "21:00"],
            weekdays=list(ALL_WEEKDAYS),
            tube_grams=60,
        )
        # Clear after five weeks: proactive therapy twice weekly (EU SmPC), Mondays and Thursdays.
        services.regimen_step_down(
            regimen=treatment,
            created_by=logger,
            start_date=start + datetime.timedelta(days=35),
            phase=Phase.MAINTENANCE,
            weekdays=[1, 4],
            times=["21:00"],
        )
    elif story.key == "child":
        services.regimen_prescribe(
            **common,
            drug=rules.Drug.TACROLIMUS,
            strength="0.03",
            phase=Phase.TREATMENT,
            body_areas=["arm_left", "arm_right", "leg_left", "leg_right"],
            times=["07:00", "19:30"],
            weekdays=list(ALL_WEEKDAYS),
            tube_grams=30,
        )
    else:
        services.regimen_prescribe(
            **common,
            drug=rules.Drug.TACROLIMUS,
            strength="0.1",
            phase=Phase.TREATMENT,
            body_areas=["face", "scalp"],
            times=["08:00", "20:00"],
            weekdays=list(ALL_WEEKDAYS),
            tube_grams=30,
        )


def _write_logs(patient: Patient, story: Story, logger: User) -> None:
    rng = random.Random(story.key)  # noqa: S311 - demo data, not security
    clock = PatientClock.for_patient(patient)
    now = timezone.now()
    regimens = list(Regimen.objects.filter(patient=patient).order_by("start_date"))
    first_day = regimens[0].start_date
    applications: list[dict[str, Any]] = []
    symptoms: list[dict[str, Any]] = []
    poem: list[dict[str, Any]] = []
    for day in range((patient.local_today() - first_day).days + 1):
        date = first_day + datetime.timedelta(days=day)
        for regimen in regimens:
            if not regimen.runs_on(date):
                continue
            for slot, wall_time in enumerate(regimen.wall_times()):
                applied_at = clock.at(date, wall_time) + datetime.timedelta(minutes=rng.randint(-20, 45))
                if applied_at > now or not story.take_dose(day, rng):
                    continue
                application_id = _log_id(story, "application", date, slot)
                applications.append(
                    {
                        "id": application_id,
                        "applied_at": applied_at,
                        "regimen": regimen.pk,
                        "body_areas": list(regimen.body_areas),
                    }
                )
                if slot == 0:  # burning is felt minutes after applying: rated with the morning dose
                    symptoms.append(
                        {
                            "id": _log_id(story, "symptom", date),
                            "recorded_at": applied_at + datetime.timedelta(minutes=20),
                            "application": application_id,
                            **story.symptoms(day, rng),
                        }
                    )
        if story.poem_weekly and day % 7 == 6:
            recorded_at = clock.at(date, datetime.time(19, 0))
            if recorded_at <= now:
                poem.append(
                    {"id": _log_id(story, "poem", date), "recorded_at": recorded_at, "answers": _poem(day, rng)}
                )
    symptoms = [item for item in symptoms if item["recorded_at"] <= now]
    skin_checks = [
        {
            "id": _log_id(story, "skin-check", 0),
            "performed_at": clock.at(first_day, datetime.time(18, 0)),
            "performed_by": "self",
            "concerning": False,
            "note": "Baseline check before starting treatment.",
        }
    ]
    for model, items in (
        (Application, applications),
        (Symptom, symptoms),
        (PoemEntry, poem),
        (SkinCheck, skin_checks),
    ):
        services.logs_record(model=model, patient=patient, created_by=logger, items=items)


def _poem(day: int, rng: random.Random) -> list[int]:
    """Seven POEM answers whose total falls from about 18 (moderate) toward clear over the weeks."""
    target = max(1.0, 18 - 16 * day / 49)
    return [_clamp(target / 7 + rng.uniform(-0.6, 0.6), rules.POEM_ITEM_MIN, rules.POEM_ITEM_MAX) for _ in range(7)]
