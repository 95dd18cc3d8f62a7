"""Writes on regimens: prescribe, change, step down. Each owns its transaction and validates the row."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext

from accounts.models import Patient, User
from tracking import rules
from tracking.models import Phase, Regimen
from tracking.reminders.services import schedules_refresh
from tracking.services.logs import WHOLE_REQUEST, logs_changed

REGIMEN_CHANGEABLE_FIELDS = ("body_areas", "times", "weekdays", "end_date", "tube_grams")


@transaction.atomic
def regimen_prescribe(
    *,
    patient: Patient,
    created_by: User,
    drug: str,
    strength: str,
    phase: str,
    body_areas: list[str],
    times: list[str],
    weekdays: list[int],
    start_date: datetime.date,
    end_date: datetime.date | None = None,
    tube_grams: int | None = None,
    previous: Regimen | None = None,
) -> Regimen:
    """Record a prescription the patient follows. The label's age and strength rules apply."""
    regimen = Regimen(
        patient=patient,
        created_by=created_by,
        drug=drug,
        strength=strength,
        phase=phase,
        body_areas=body_areas,
        times=times,
        weekdays=weekdays,
        start_date=start_date,
        end_date=end_date,
        tube_grams=tube_grams,
        previous=previous,
    )
    regimen.full_clean()
    regimen.save()
    schedules_refresh(patient=patient)
    # The patient list shows the current regimen; alerts are judged per regimen.
    logs_changed(patient, schedules_refreshed=True)
    return regimen


@transaction.atomic
def regimen_update(*, regimen: Regimen, **changes: Any) -> Regimen:
    """Change a regimen's areas, times, weekdays, end date or tube. Drug, strength and phase step down instead."""
    unknown = set(changes) - set(REGIMEN_CHANGEABLE_FIELDS)
    if unknown:
        raise ValidationError(
            dict.fromkeys(sorted(unknown), gettext("This field cannot be changed; step down instead."))
        )
    following = Regimen.objects.filter(previous=regimen).only("start_date").first()
    if following is not None and "end_date" in changes:
        last_day = following.start_date - datetime.timedelta(days=1)
        if changes["end_date"] is None or changes["end_date"] > last_day:
            raise ValidationError(
                {
                    "end_date": gettext("The regimen it stepped down to starts on {start}: end by {last_day}.").format(
                        start=following.start_date, last_day=last_day
                    )
                }
            )
    for name, value in changes.items():
        setattr(regimen, name, value)
    regimen.full_clean()
    if changes:
        regimen.save(update_fields=[*changes, "updated_at"])
    if changes:
        # Times, weekdays and end date drive the dose schedule; the tube drives the refill prompt.
        schedules_refresh(patient=regimen.patient)
        logs_changed(regimen.patient, schedules_refreshed=True)
    return regimen


@transaction.atomic
def regimen_step_down(
    *,
    regimen: Regimen,
    created_by: User,
    start_date: datetime.date | None = None,
    **changes: Any,
) -> Regimen:
    """End `regimen` the day before `start_date` and start the next one, linked to it.

    A step down lowers the strength (tacrolimus 0.1% → 0.03%) or moves from treatment to
    maintenance (EU SmPC; CLINICAL.md): anything else is a new prescription, not a step down.
    """
    regimen = Regimen.objects.select_for_update().select_related("patient").get(pk=regimen.pk)
    start_date = start_date or regimen.patient.local_today()
    strength = changes.get("strength", regimen.strength)
    phase = changes.get("phase", regimen.phase)
    errors: dict[str, str] = {}
    if Regimen.objects.filter(previous=regimen).exists():
        errors[WHOLE_REQUEST] = "This regimen has already been stepped down; step down from the newer one."
    if start_date <= regimen.start_date:
        errors["start_date"] = f"The next regimen starts after this one started ({regimen.start_date})."
    elif regimen.end_date is not None and regimen.end_date < start_date - datetime.timedelta(days=1):
        errors["start_date"] = f"This regimen ended on {regimen.end_date}; prescribe the next one as new."
    allowed = rules.STRENGTHS_BY_DRUG[rules.Drug(regimen.drug)]
    if strength not in allowed:
        errors["strength"] = f"{regimen.drug} comes as {' or '.join(s + '%' for s in allowed)}."
    lower_strength = rules.is_lower_strength(drug=rules.Drug(regimen.drug), old=regimen.strength, new=strength)
    to_maintenance = regimen.phase == Phase.TREATMENT and phase == Phase.MAINTENANCE
    if not (lower_strength or to_maintenance) and not errors:
        errors[WHOLE_REQUEST] = (
            "A step down lowers the strength (tacrolimus 0.1% to 0.03%) or moves from treatment to "
            "maintenance. For any other change, end this regimen and prescribe a new one."
        )
    if errors:
        raise ValidationError(errors)

    regimen.end_date = start_date - datetime.timedelta(days=1)
    regimen.save(update_fields=["end_date", "updated_at"])
    return regimen_prescribe(
        patient=regimen.patient,
        created_by=created_by,
        drug=regimen.drug,
        strength=strength,
        phase=phase,
        body_areas=changes.get("body_areas", regimen.body_areas),
        times=changes.get("times", regimen.times),
        weekdays=changes.get("weekdays", regimen.weekdays),
        start_date=start_date,
        tube_grams=changes.get("tube_grams", regimen.tube_grams),
        previous=regimen,
    )
