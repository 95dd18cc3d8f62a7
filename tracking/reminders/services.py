"""Reminder writes: a kind's setting, the schedules a patient's regimens call for, follow-ups and snoozes.

A schedule is derived from the patient's regimens, zone and reminder settings (`schedules_refresh`);
the sweep (tracking/reminders/sweep.py) turns the due ones into occurrences.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import Condition, Patient
from tracking import rules, selectors
from tracking.models import (
    Occurrence,
    OccurrenceState,
    Regimen,
    ReminderKind,
    ReminderSetting,
    Schedule,
    ScheduleKind,
    SkinCheck,
)
from tracking.models.regimens import ALL_WEEKDAYS
from tracking.models.reminders import ALL_CHANNELS
from tracking.reminders.schedules import (
    STORED_RULE_FIELDS,
    Firing,
    Recurrence,
    first_firing_after,
    later,
    zone_named,
)
from tracking.reminders.selectors import SETTING_KIND, effective_settings

# A refresh recomputes from a little before now: a slot the sweep has not reached yet is not
# dropped, and one it already wrote is refused by the occurrence's unique constraint.
REFRESH_LOOKBACK = datetime.timedelta(minutes=5)


@transaction.atomic
def reminder_setting_update(
    *,
    patient: Patient,
    kind: str,
    enabled: bool | None = None,
    channels: Sequence[str] | None = None,
    quiet_hours: tuple[datetime.time, datetime.time] | bool | None = False,
) -> ReminderSetting:
    """Change one kind's setting and re-derive the patient's schedules. `quiet_hours=None` clears them."""
    if kind not in ReminderKind.values:
        raise ValidationError(
            {
                "kind": gettext("Unknown kind {kind}. Allowed: {allowed}.").format(
                    kind=repr(kind), allowed=", ".join(ReminderKind.values)
                )
            }
        )
    current = effective_settings(patient)[kind]
    setting, _created = ReminderSetting.objects.select_for_update().get_or_create(
        patient=patient,
        kind=kind,
        defaults={"enabled": current.enabled, "channels": list(current.channels)},
    )
    if enabled is not None:
        setting.enabled = enabled
    if channels is not None:
        unknown = sorted(set(channels) - set(ALL_CHANNELS))
        if unknown:
            raise ValidationError(
                {
                    "channels": gettext("Unknown channel(s): {unknown}. Allowed: {allowed}.").format(
                        unknown=", ".join(unknown), allowed=", ".join(ALL_CHANNELS)
                    )
                }
            )
        setting.channels = [channel for channel in ALL_CHANNELS if channel in channels]
    if quiet_hours is None:
        setting.quiet_hours_start = setting.quiet_hours_end = None
    elif quiet_hours is not False:
        start, end = quiet_hours  # type: ignore[misc]
        if start == end:
            raise ValidationError({"quiet_hours": gettext("Quiet hours start and end at different times.")})
        setting.quiet_hours_start, setting.quiet_hours_end = start, end
    setting.full_clean()
    setting.save()
    schedules_refresh(patient=patient)
    return setting


# --- Schedules -----------------------------------------------------------------------------------


def schedule_rule(schedule: Schedule) -> Recurrence:
    return Recurrence.from_stored(*(getattr(schedule, name) for name in STORED_RULE_FIELDS))


def place(schedule: Schedule, next_firing: Firing | None) -> None:
    """Point a schedule at its next firing (or at nothing)."""
    if next_firing is None:
        schedule.next_local_date, schedule.next_slot, schedule.next_fire_at = None, "", None
    else:
        schedule.next_local_date = next_firing.local_date
        schedule.next_slot = next_firing.slot_label
        schedule.next_fire_at = next_firing.fire_at


@dataclass
class ScheduleSpec:
    """What a schedule should be; `schedules_refresh` writes it."""

    kind: str
    regimen: Regimen | None
    times: list[str]
    weekdays: list[int]
    start_date: datetime.date
    end_date: datetime.date | None = None
    every_days: int = 1
    once: bool = False

    @classmethod
    def prompt(
        cls,
        kind: str,
        *,
        start_date: datetime.date,
        end_date: datetime.date | None,
        regimen: Regimen | None = None,
        every_days: int = 1,
        once: bool = False,
    ) -> ScheduleSpec:
        """A prompt (refill, skin check, POEM): at the prompt's local time, on any weekday."""
        return cls(
            kind=kind,
            regimen=regimen,
            times=[rules.PROMPT_LOCAL_TIME],
            weekdays=list(ALL_WEEKDAYS),
            start_date=start_date,
            end_date=end_date,
            every_days=every_days,
            once=once,
        )


def _current_regimens(patient: Patient, today: datetime.date) -> list[Regimen]:
    return [
        regimen for regimen in selectors.regimens_for(patient) if regimen.end_date is None or regimen.end_date >= today
    ]


def desired_schedules(patient: Patient, today: datetime.date) -> list[ScheduleSpec]:
    """The schedules a patient's current and future regimens call for."""
    regimens = _current_regimens(patient, today)
    specs: list[ScheduleSpec] = []
    for regimen in regimens:
        specs.append(
            ScheduleSpec(
                kind=ScheduleKind.DOSE,
                regimen=regimen,
                times=list(regimen.times),
                weekdays=list(regimen.weekdays),
                start_date=regimen.start_date,
                end_date=regimen.end_date,
            )
        )
        empty_date = selectors.regimen_usage(regimen, patient, today).empty_date
        if empty_date is not None:
            # "Less than 7 days away": the first such day is 6 days before the estimate.
            prompt_date = max(today, empty_date - datetime.timedelta(days=rules.REFILL_PROMPT_DAYS_AHEAD - 1))
            specs.append(
                ScheduleSpec.prompt(
                    ScheduleKind.REFILL, regimen=regimen, start_date=prompt_date, end_date=prompt_date, once=True
                )
            )
    if regimens:
        first_start = min(regimen.start_date for regimen in regimens)
        open_ended = any(regimen.end_date is None for regimen in regimens)
        last_end = None if open_ended else max(regimen.end_date for regimen in regimens if regimen.end_date)
        interval = settings.SKIN_CHECK_INTERVAL_DAYS
        last_check = SkinCheck.objects.filter(patient=patient, deleted_at__isnull=True).aggregate(
            last=Max("performed_at")
        )["last"]
        anchor = first_start
        if last_check is not None:
            anchor = max(anchor, last_check.astimezone(zone_named(patient.timezone)).date())
        specs.append(
            ScheduleSpec.prompt(
                ScheduleKind.SKIN_CHECK, start_date=later(anchor, interval), end_date=last_end, every_days=interval
            )
        )
        if patient.condition == Condition.ATOPIC_DERMATITIS:
            # POEM is validated for eczema (CLINICAL.md, Instruments); CLE patients are not asked.
            specs.append(
                ScheduleSpec.prompt(
                    ScheduleKind.POEM,
                    start_date=later(first_start, rules.POEM_INTERVAL_DAYS),
                    end_date=last_end,
                    every_days=rules.POEM_INTERVAL_DAYS,
                )
            )
    return specs


@transaction.atomic
def schedules_refresh(*, patient: Patient, now: datetime.datetime | None = None) -> list[Schedule]:
    """Re-derive a patient's schedules from regimens, zone and settings; recompute each `next_fire_at`.

    Rows are updated in place (their occurrences, and so what was already sent, stay attached).
    Schedules nothing calls for any more stop firing rather than disappear.
    """
    now = now or timezone.now()
    # Lock the patient's schedules against a concurrent sweep moving them under us.
    existing = {(row.kind, row.regimen_id): row for row in Schedule.objects.select_for_update().filter(patient=patient)}
    today = now.astimezone(zone_named(patient.timezone)).date()
    stored_settings = effective_settings(patient)
    kept: list[Schedule] = []
    for spec in desired_schedules(patient, today):
        key = (spec.kind, spec.regimen.pk if spec.regimen else None)
        schedule = existing.pop(key, None) or Schedule(patient=patient, kind=spec.kind, regimen=spec.regimen)
        setting = stored_settings[SETTING_KIND[ScheduleKind(spec.kind)]]
        schedule.timezone = patient.timezone
        schedule.times = spec.times
        schedule.weekdays = spec.weekdays
        schedule.start_date = spec.start_date
        schedule.end_date = spec.end_date
        schedule.every_days = spec.every_days
        schedule.quiet_hours_start = setting.quiet_hours_start
        schedule.quiet_hours_end = setting.quiet_hours_end
        # A one-off prompt that went out stays sent; one skipped because the estimate moved may come again.
        already_prompted = (
            spec.once
            and schedule.pk is not None
            and schedule.occurrences.exclude(state=OccurrenceState.SKIPPED).exists()
        )
        place(schedule, None)
        if setting.enabled and not already_prompted:
            # A slot past the calendar's last instant (year 9999) never fires.
            with contextlib.suppress(OverflowError):
                place(schedule, first_firing_after(schedule_rule(schedule), now - REFRESH_LOOKBACK))
        schedule.save()
        kept.append(schedule)
    for retired in existing.values():
        place(retired, None)
        retired.save(update_fields=["next_local_date", "next_slot", "next_fire_at", "updated_at"])
    return kept


# --- Follow-ups, snooze and ack ------------------------------------------------------------------


def follow_up_for(occurrence: Occurrence) -> Occurrence | None:
    """The one missed-dose follow-up of a dose reminder: at the slot plus the follow-up delay."""
    if occurrence.kind != ScheduleKind.DOSE or occurrence.follows_id is not None:
        return None
    delay = datetime.timedelta(minutes=settings.MISSED_DOSE_FOLLOW_UP_MINUTES)
    return Occurrence(
        schedule_id=occurrence.schedule_id,
        patient_id=occurrence.patient_id,
        kind=FOLLOW_UP_KIND,
        local_date=occurrence.local_date,
        slot=f"{occurrence.slot} follow-up",
        due_at=max(occurrence.due_at, occurrence.slot_at + delay),
        slot_at=occurrence.slot_at,
        state=OccurrenceState.SCHEDULED,
        follows_id=occurrence.pk,
    )


FOLLOW_UP_KIND = "dose_follow_up"


def snooze_validate(minutes: object) -> int:
    low, high = rules.SNOOZE_MIN_MINUTES, rules.SNOOZE_MAX_MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not low <= minutes <= high:
        raise ValidationError(
            {
                "minutes": gettext("Snooze for a whole number of minutes from {low} to {high}.").format(
                    low=low, high=high
                )
            }
        )
    return minutes
