"""Reads of a patient's reminders: each kind's effective setting, and when it next goes out."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.db.models import Min

from accounts.models import Patient
from tracking.models import ReminderKind, ReminderSetting, Schedule, ScheduleKind
from tracking.models.reminders import ALL_CHANNELS

# Settings the schedule kinds follow; a refill prompt is about doses, so it follows the dose setting.
SETTING_KIND = {
    ScheduleKind.DOSE: ReminderKind.DOSE,
    ScheduleKind.REFILL: ReminderKind.DOSE,
    ScheduleKind.SKIN_CHECK: ReminderKind.SKIN_CHECK,
    ScheduleKind.POEM: ReminderKind.POEM,
}


@dataclass(frozen=True)
class EffectiveSetting:
    """A kind's setting, with the default (on, every channel, no quiet hours) where none is stored."""

    kind: str
    enabled: bool = True
    channels: tuple[str, ...] = ALL_CHANNELS
    quiet_hours_start: datetime.time | None = None
    quiet_hours_end: datetime.time | None = None


def effective_settings(
    patient: Patient, stored: Iterable[ReminderSetting] | None = None
) -> dict[str, EffectiveSetting]:
    rows = {row.kind: row for row in (stored if stored is not None else patient.reminder_settings.all())}
    answer = {}
    for kind in ReminderKind.values:
        row = rows.get(kind)
        answer[kind] = (
            EffectiveSetting(
                kind=kind,
                enabled=row.enabled,
                channels=tuple(row.channels),
                quiet_hours_start=row.quiet_hours_start,
                quiet_hours_end=row.quiet_hours_end,
            )
            if row
            else EffectiveSetting(kind=kind)
        )
    return answer


@dataclass(frozen=True)
class ReminderOverview:
    setting: EffectiveSetting
    next_reminder_at: datetime.datetime | None


def reminder_overview(patient: Patient, kinds: Sequence[str] | None = None) -> list[ReminderOverview]:
    """Each kind's effective setting and when it next goes out (one query for all kinds)."""
    next_by_schedule_kind = dict(
        Schedule.objects.filter(patient=patient, next_fire_at__isnull=False)
        .values("kind")
        .annotate(first=Min("next_fire_at"))
        .values_list("kind", "first")
    )
    overview = []
    for kind, setting in effective_settings(patient).items():
        if kinds and kind not in kinds:
            continue
        fires = [
            at
            for schedule_kind, at in next_by_schedule_kind.items()
            if SETTING_KIND[ScheduleKind(schedule_kind)] == kind
        ]
        overview.append(ReminderOverview(setting, min(fires) if fires and setting.enabled else None))
    return overview
