"""Reminder schedules and the sweep that turns due schedules into occurrences.

A schedule is derived from the patient's regimens, zone and reminder settings (`schedules_refresh`).
Every minute the sweep claims due schedules, writes one occurrence per (schedule, local date, slot)
and advances each schedule's `next_fire_at`, in one transaction per batch. Two sweeps at once cannot
both claim a row (SKIP LOCKED, or a compare-and-set UPDATE where the database has no row locks),
and the unique constraint on occurrences would refuse a second copy even if they did.
"""

from __future__ import annotations

import contextlib
import datetime
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

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
from tracking.schedules import Firing, Recurrence, firing, first_firing_after, later, next_firing_after_slot, zone_named

# A refresh recomputes from a little before now: a slot the sweep has not reached yet is not
# dropped, and one it already wrote is refused by the occurrence's unique constraint.
REFRESH_LOOKBACK = datetime.timedelta(minutes=5)
# Settings the schedule kinds follow; a refill prompt is about doses, so it follows the dose setting.
SETTING_KIND = {
    ScheduleKind.DOSE: ReminderKind.DOSE,
    ScheduleKind.REFILL: ReminderKind.DOSE,
    ScheduleKind.SKIN_CHECK: ReminderKind.SKIN_CHECK,
    ScheduleKind.POEM: ReminderKind.POEM,
}


def parse_wall_time(value: str) -> datetime.time:
    return datetime.time.fromisoformat(value)


# --- Settings ------------------------------------------------------------------------------------


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
        raise ValidationError({"kind": f"Unknown kind {kind!r}. Allowed: {', '.join(ReminderKind.values)}."})
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
                {"channels": f"Unknown channel(s): {', '.join(unknown)}. Allowed: {', '.join(ALL_CHANNELS)}."}
            )
        setting.channels = [channel for channel in ALL_CHANNELS if channel in channels]
    if quiet_hours is None:
        setting.quiet_hours_start = setting.quiet_hours_end = None
    elif quiet_hours is not False:
        start, end = quiet_hours  # type: ignore[misc]
        if start == end:
            raise ValidationError({"quiet_hours": "Quiet hours start and end at different times."})
        setting.quiet_hours_start, setting.quiet_hours_end = start, end
    setting.full_clean()
    setting.save()
    schedules_refresh(patient=patient)
    return setting


# --- Schedules -----------------------------------------------------------------------------------


def schedule_rule(schedule: Schedule) -> Recurrence:
    return Recurrence(
        zone=schedule.timezone,
        times=tuple(parse_wall_time(value) for value in schedule.times),
        weekdays=frozenset(schedule.weekdays),
        start_date=schedule.start_date,
        end_date=schedule.end_date,
        every_days=schedule.every_days,
        quiet_start=schedule.quiet_hours_start,
        quiet_end=schedule.quiet_hours_end,
    )


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
                ScheduleSpec(
                    kind=ScheduleKind.REFILL,
                    regimen=regimen,
                    times=[rules.PROMPT_LOCAL_TIME],
                    weekdays=list(ALL_WEEKDAYS),
                    start_date=prompt_date,
                    end_date=prompt_date,
                    once=True,
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
            ScheduleSpec(
                kind=ScheduleKind.SKIN_CHECK,
                regimen=None,
                times=[rules.PROMPT_LOCAL_TIME],
                weekdays=list(ALL_WEEKDAYS),
                start_date=later(anchor, interval),
                end_date=last_end,
                every_days=interval,
            )
        )
        if patient.condition == Condition.ATOPIC_DERMATITIS:
            # POEM is validated for eczema (CLINICAL.md, Instruments); CLE patients are not asked.
            specs.append(
                ScheduleSpec(
                    kind=ScheduleKind.POEM,
                    regimen=None,
                    times=[rules.PROMPT_LOCAL_TIME],
                    weekdays=list(ALL_WEEKDAYS),
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


# --- The sweep -----------------------------------------------------------------------------------


@dataclass
class SweepResult:
    claimed: int = 0
    written: int = 0
    skipped_stale: int = 0
    pending_ids: list[uuid.UUID] = field(default_factory=list)


# What the sweep reads of a claimed schedule: values, not model instances (100,000 a minute).
CLAIM_FIELDS = (
    "id",
    "patient_id",
    "kind",
    "timezone",
    "times",
    "weekdays",
    "start_date",
    "end_date",
    "every_days",
    "quiet_hours_start",
    "quiet_hours_end",
    "next_local_date",
    "next_slot",
    "next_fire_at",
)
# The occurrence columns the sweep writes, in the order of `_occurrence_values`.
OCCURRENCE_COLUMNS = (
    "id",
    "schedule_id",
    "patient_id",
    "kind",
    "local_date",
    "slot",
    "due_at",
    "slot_at",
    "state",
    "skip_reason",
    "handled_at",
    "enqueued_at",
    "created_at",
)
STALE_REASON = "Not sent: the reminder service was down at this time, and it is too late now."


@dataclass(frozen=True)
class Advanced:
    """A claimed schedule after the sweep: the occurrence rows it owes, and where it stands next."""

    schedule_id: int
    read_fire_at: datetime.datetime
    occurrences: list[tuple[object, ...]]
    following: Firing | None


def due_firings(
    rule: Recurrence, *, kind: str, date: datetime.date, slot: str, now: datetime.datetime
) -> tuple[list[Firing], Firing | None]:
    """Every slot from (`date`, `slot`) on that is sent by `now`, and the first one that is not.

    The second is None when the schedule never fires again (a refill prompt fires once).
    """
    fired: list[Firing] = []
    due: Firing | None = firing(rule, date, parse_wall_time(slot))
    while due is not None and due.fire_at <= now:
        fired.append(due)
        due = None if kind == ScheduleKind.REFILL else next_firing_after_slot(rule, due.local_date, due.slot)
    return fired, due


def _occurrence_values(
    schedule_id: int, patient_id: uuid.UUID, kind: str, due: Firing, now: datetime.datetime
) -> tuple[object, ...]:
    stale = due.slot_at < now - rules.REMINDER_STALE_AFTER
    return (
        uuid.uuid4(),
        schedule_id,
        patient_id,
        kind,
        due.local_date,
        due.slot_label,
        due.fire_at,
        due.slot_at,
        OccurrenceState.SKIPPED if stale else OccurrenceState.PENDING,
        STALE_REASON if stale else "",
        now if stale else None,
        None if stale else now,
        now,
    )


def _advance_row(row: Sequence[Any], now: datetime.datetime) -> Advanced:
    """Advance one claimed row (CLAIM_FIELDS). A schedule whose next slot lies past the calendar's
    end stops there: one such row must not fail the batch, or every other reminder would wait on it."""
    (pk, patient_id, kind, zone, times, weekdays, start, end, every, quiet_start, quiet_end, date, slot, fire_at) = row
    rule = Recurrence(
        zone=zone,
        times=tuple(parse_wall_time(value) for value in times),
        weekdays=frozenset(weekdays),
        start_date=start,
        end_date=end,
        every_days=every,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
    )
    try:
        fired, following = due_firings(rule, kind=kind, date=date, slot=slot, now=now)
    except OverflowError:
        return Advanced(pk, fire_at, [], None)
    return Advanced(pk, fire_at, [_occurrence_values(pk, patient_id, kind, due, now) for due in fired], following)


def _position(advanced: Advanced) -> tuple[datetime.date | None, str, datetime.datetime | None]:
    following = advanced.following
    return (None, "", None) if following is None else (following.local_date, following.slot_label, following.fire_at)


def _claim_rows(now: datetime.datetime, batch_size: int) -> list[tuple[Any, ...]]:
    due = Schedule.objects.filter(next_fire_at__lte=now).order_by("next_fire_at")
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self",))
    return list(due.values_list(*CLAIM_FIELDS)[:batch_size])


class _PostgresWrites:
    """Two statements a batch whatever its size: arrays in, one UPDATE and one INSERT ... RETURNING.

    Django's bulk_update builds a CASE with a branch per row for each field and bulk_create needs a
    second read to learn which rows the constraint let in; at 100,000 rows a minute that was 5x slower.
    """

    UPDATE = (
        "UPDATE tracking_schedule AS s SET next_local_date = v.next_local_date, next_slot = v.next_slot, "
        "next_fire_at = v.next_fire_at "
        "FROM unnest(%s::bigint[], %s::date[], %s::varchar[], %s::timestamptz[]) "
        "AS v(id, next_local_date, next_slot, next_fire_at) WHERE s.id = v.id"
    )
    INSERT = (
        "INSERT INTO tracking_occurrence (id, schedule_id, patient_id, kind, local_date, slot, due_at, slot_at, "
        "state, skip_reason, handled_at, enqueued_at, created_at) SELECT * FROM unnest("
        "%s::uuid[], %s::bigint[], %s::uuid[], %s::varchar[], %s::date[], %s::varchar[], %s::timestamptz[], "
        "%s::timestamptz[], %s::varchar[], %s::varchar[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[]"
        ") ON CONFLICT DO NOTHING RETURNING id"
    )

    @classmethod
    def save_positions(cls, batch: list[Advanced]) -> list[Advanced]:
        # The rows are locked by this transaction's claim: no other sweep can have moved them.
        positions = [(advanced.schedule_id, *_position(advanced)) for advanced in batch]
        with connection.cursor() as cursor:
            cursor.execute(cls.UPDATE, [list(column) for column in zip(*positions, strict=True)])
        return batch

    @classmethod
    def insert(cls, rows: list[tuple[object, ...]]) -> set[uuid.UUID]:
        if not rows:
            return set()
        with connection.cursor() as cursor:
            cursor.execute(cls.INSERT, [list(column) for column in zip(*rows, strict=True)])
            return {row[0] for row in cursor.fetchall()}


class _PortableWrites:
    """Any other database (SQLite in the embedded default): a compare-and-set per row, then the ORM."""

    @staticmethod
    def save_positions(batch: list[Advanced]) -> list[Advanced]:
        """Write each row only if `next_fire_at` is still what this sweep read: the loser of a race
        writes nothing for that row (and none of its occurrences)."""
        owned = []
        for advanced in batch:
            next_local_date, next_slot, next_fire_at = _position(advanced)
            changed = Schedule.objects.filter(pk=advanced.schedule_id, next_fire_at=advanced.read_fire_at).update(
                next_local_date=next_local_date, next_slot=next_slot, next_fire_at=next_fire_at
            )
            if changed:
                owned.append(advanced)
        return owned

    @staticmethod
    def insert(rows: list[tuple[object, ...]]) -> set[uuid.UUID]:
        occurrences = [Occurrence(**dict(zip(OCCURRENCE_COLUMNS, row, strict=True))) for row in rows]
        # The constraint on (schedule, local_date, slot) refuses a copy another sweep already wrote.
        Occurrence.objects.bulk_create(occurrences, batch_size=2000, ignore_conflicts=True)
        return set(Occurrence.objects.filter(id__in=[row[0] for row in rows]).values_list("id", flat=True))


def sweep_batch(*, now: datetime.datetime, batch_size: int) -> SweepResult:
    """Claim up to `batch_size` due schedules and write their occurrences, in one transaction."""
    writes = _PostgresWrites if connection.vendor == "postgresql" else _PortableWrites
    with transaction.atomic():
        claimed = _claim_rows(now, batch_size)
        if not claimed:
            return SweepResult()
        owned = writes.save_positions([_advance_row(row, now) for row in claimed])
        rows = [row for advanced in owned for row in advanced.occurrences]
        inserted = writes.insert(rows)
    pending_state = OccurrenceState.PENDING
    return SweepResult(
        claimed=len(claimed),
        written=len(rows),
        skipped_stale=sum(1 for row in rows if row[8] == OccurrenceState.SKIPPED),
        pending_ids=[row[0] for row in rows if row[8] == pending_state and row[0] in inserted],  # type: ignore[misc]
    )


def promote_due_occurrences(*, now: datetime.datetime, batch_size: int) -> list[uuid.UUID]:
    """Follow-ups and snoozes whose time has come become pending; returns their ids."""
    with transaction.atomic():
        due = Occurrence.objects.filter(state=OccurrenceState.SCHEDULED, due_at__lte=now).order_by("due_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:batch_size])
        if ids:
            Occurrence.objects.filter(id__in=ids, state=OccurrenceState.SCHEDULED).update(
                state=OccurrenceState.PENDING, enqueued_at=now
            )
    return ids


def sweep(
    *,
    now: datetime.datetime | None = None,
    batch_size: int | None = None,
    on_pending: Callable[[list[uuid.UUID]], None] | None = None,
) -> SweepResult:
    """Sweep until nothing is due. `on_pending` receives each batch's pending ids once it is committed."""
    now = now or timezone.now()
    batch_size = batch_size or settings.REMINDER_SWEEP_BATCH
    total = SweepResult()
    while True:
        batch = sweep_batch(now=now, batch_size=batch_size)
        if batch.claimed == 0:
            break
        total.claimed += batch.claimed
        total.written += batch.written
        total.skipped_stale += batch.skipped_stale
        total.pending_ids.extend(batch.pending_ids)
        if on_pending and batch.pending_ids:
            on_pending(batch.pending_ids)
    while promoted := promote_due_occurrences(now=now, batch_size=batch_size):
        total.pending_ids.extend(promoted)
        if on_pending:
            on_pending(promoted)
    return total


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
        raise ValidationError({"minutes": f"Snooze for a whole number of minutes from {low} to {high}."})
    return minutes
