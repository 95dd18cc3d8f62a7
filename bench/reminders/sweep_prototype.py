"""Where the sweep's time went, step by step: the sweep of commit d42ae3f and prototypes of its fix.

Not application code. `run.py` (parts `breakdown` and `parallel`) uses it to show, with numbers, what
each change to the sweep gains. Self-contained on purpose: `before` is a frozen copy of
`tracking.reminders.sweep.sweep_batch` and its helpers as of commit d42ae3f (unchanged since 334b3e1), so the
comparison still runs once tracking/reminders/sweep.py has moved on. Every variant keeps the claim
(SELECT ... FOR UPDATE SKIP LOCKED, ORDER BY next_fire_at, LIMIT batch), one transaction per batch,
and the unique constraint that refuses a second copy of an occurrence. All for PostgreSQL.

- `before`: d42ae3f's batch, with a timer around each step. It claims Schedule instances, advances
  each into Occurrence instances, saves positions with `Schedule.objects.bulk_update(...)` (a
  `CASE WHEN id = ... THEN ...` with one `When` per row for each of three fields: Django resolves
  and compiles 3,000 expressions per 1,000 rows, and PostgreSQL evaluates a 1,000-branch CASE per
  row), inserts with `bulk_create(ignore_conflicts=True)`, then reads back which ids made it.
- `writes`: the two writes replaced: one `UPDATE ... FROM unnest(%s::bigint[], %s::date[], ...)`
  (four array parameters, whatever the batch size) and one
  `INSERT ... SELECT * FROM unnest(...) ON CONFLICT DO NOTHING RETURNING id` (no read back).
- `writes+zones`: also keeps each `ZoneInfo` alive. `tracking.reminders.schedules.firing` looked the zone up
  by name twice per schedule, and zoneinfo's cache holds only the 8 most recently used zones
  strongly: with 30 zones in claim order most lookups re-read and re-parsed the zone file.
- `lean+zones`: also no model instances: the claim reads only the columns the math needs
  (`values_list`), and occurrences are rows of values (d42ae3f's `_advance` loop, written out with
  the same tracking.reminders.schedules calls).

The zone lookups are switched for the duration of a sweep (`zones`): plain `ZoneInfo` for `before`
and `writes` (with every cache that would keep zones alive cleared first), a cache that keeps every
zone for the `+zones` variants. That works whether tracking/reminders/schedules.py calls `ZoneInfo(name)` (as
at d42ae3f) or a cached `zone_named(name)`.
"""

from __future__ import annotations

import datetime
import functools
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tracking import rules
from tracking.models import Occurrence, OccurrenceState, Schedule, ScheduleKind
from tracking.reminders import schedules
from tracking.reminders.schedules import parse_wall_time
from tracking.reminders.sweep import SweepResult, promote_due_occurrences

VARIANTS = ("before", "writes", "writes+zones", "lean+zones")
STALE_REASON = "Not sent: the reminder service was down at this time, and it is too late now."
UPDATE_SQL = (
    "UPDATE tracking_schedule AS s SET next_local_date = v.next_local_date, next_slot = v.next_slot, "
    "next_fire_at = v.next_fire_at "
    "FROM unnest(%s::bigint[], %s::date[], %s::varchar[], %s::timestamptz[]) "
    "AS v(id, next_local_date, next_slot, next_fire_at) WHERE s.id = v.id"
)
INSERT_COLUMNS = (
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
INSERT_SQL = (
    f"INSERT INTO tracking_occurrence ({', '.join(INSERT_COLUMNS)}) SELECT * FROM unnest("  # noqa: S608
    "%s::uuid[], %s::bigint[], %s::uuid[], %s::varchar[], %s::date[], %s::varchar[], %s::timestamptz[], "
    "%s::timestamptz[], %s::varchar[], %s::varchar[], %s::timestamptz[], %s::timestamptz[], %s::timestamptz[]"
    ") ON CONFLICT DO NOTHING RETURNING id"
)
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
)


@dataclass
class Phases:
    """Seconds spent in each step, summed over the batches."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    @contextmanager
    def rest(self, name: str) -> Iterator[None]:
        """Time the block less what the steps inside it timed: here the COMMIT (and the loop around)."""
        start, inside = time.perf_counter(), sum(self.seconds.values())
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start - (sum(self.seconds.values()) - inside)


# --- d42ae3f's sweep batch (frozen copy) ---------------------------------------------------------


def schedule_rule(schedule: Schedule) -> schedules.Recurrence:
    return schedules.Recurrence(
        zone=schedule.timezone,
        times=tuple(parse_wall_time(value) for value in schedule.times),
        weekdays=frozenset(schedule.weekdays),
        start_date=schedule.start_date,
        end_date=schedule.end_date,
        every_days=schedule.every_days,
        quiet_start=schedule.quiet_hours_start,
        quiet_end=schedule.quiet_hours_end,
    )


def place(schedule: Schedule, next_firing: schedules.Firing | None) -> None:
    if next_firing is None:
        schedule.next_local_date, schedule.next_slot, schedule.next_fire_at = None, "", None
    else:
        schedule.next_local_date = next_firing.local_date
        schedule.next_slot = next_firing.slot_label
        schedule.next_fire_at = next_firing.fire_at


def occurrence_for(schedule: Schedule, due: schedules.Firing, now: datetime.datetime) -> Occurrence:
    stale = due.slot_at < now - rules.REMINDER_STALE_AFTER
    return Occurrence(
        schedule_id=schedule.pk,
        patient_id=schedule.patient_id,
        kind=schedule.kind,
        local_date=due.local_date,
        slot=due.slot_label,
        due_at=due.fire_at,
        slot_at=due.slot_at,
        state=OccurrenceState.SKIPPED if stale else OccurrenceState.PENDING,
        skip_reason=STALE_REASON if stale else "",
        handled_at=now if stale else None,
        enqueued_at=None if stale else now,
    )


def advance_safely(schedule: Schedule, now: datetime.datetime) -> list[Occurrence]:
    """Occurrences for every slot of `schedule` due by `now`, and the schedule moved past them."""
    try:
        rule = schedule_rule(schedule)
        written: list[Occurrence] = []
        assert schedule.next_local_date is not None  # noqa: S101 - claimed rows have a next slot
        due: schedules.Firing | None = schedules.firing(
            rule, schedule.next_local_date, parse_wall_time(schedule.next_slot)
        )
        while due is not None and due.fire_at <= now:
            written.append(occurrence_for(schedule, due, now))
            due = (
                None
                if schedule.kind == ScheduleKind.REFILL
                else schedules.next_firing_after_slot(rule, due.local_date, due.slot)
            )
        place(schedule, due)
    except OverflowError:
        place(schedule, None)
        return []
    return written


def claim_batch(now: datetime.datetime, batch_size: int) -> list[Schedule]:
    due = Schedule.objects.filter(next_fire_at__lte=now).order_by("next_fire_at")
    return list(due.select_for_update(skip_locked=True, of=("self",))[:batch_size])


def before_batch(*, now: datetime.datetime, batch_size: int, phases: Phases) -> SweepResult:
    """d42ae3f's `sweep_batch` on PostgreSQL, step for step, with a timer around each step."""
    with phases.rest("commit"), transaction.atomic():
        with phases.timed("claim (SELECT ... FOR UPDATE SKIP LOCKED, model instances)"):
            claimed = claim_batch(now, batch_size)
        if not claimed:
            return SweepResult()
        with phases.timed("advance (recurrence math, Occurrence instances)"):
            by_schedule = {schedule.pk: advance_safely(schedule, now) for schedule in claimed}
        with phases.timed("save positions (bulk_update)"):
            Schedule.objects.bulk_update(claimed, ["next_local_date", "next_slot", "next_fire_at"])
        occurrences = [occurrence for schedule in claimed for occurrence in by_schedule[schedule.pk]]
        with phases.timed("insert occurrences (bulk_create)"):
            Occurrence.objects.bulk_create(occurrences, batch_size=2000, ignore_conflicts=True)
        with phases.timed("read back inserted ids (SELECT id IN ...)"):
            written_ids = set(
                Occurrence.objects.filter(
                    id__in=[occurrence.id for occurrence in occurrences if occurrence.state == OccurrenceState.PENDING]
                ).values_list("id", flat=True)
            )
    return _result(len(claimed), occurrences, written_ids)


def _result(claimed: int, occurrences: list[Occurrence], written_ids: set[uuid.UUID]) -> SweepResult:
    return SweepResult(
        claimed=claimed,
        written=len(occurrences),
        skipped_stale=sum(1 for occurrence in occurrences if occurrence.state == OccurrenceState.SKIPPED),
        pending_ids=[occurrence.id for occurrence in occurrences if occurrence.id in written_ids],
    )


# --- The prototypes ------------------------------------------------------------------------------


def update_positions(columns: list[list[Any]]) -> None:
    """UPDATE ... FROM unnest(ids, next_local_dates, next_slots, next_fire_ats)."""
    with connection.cursor() as cursor:
        cursor.execute(UPDATE_SQL, columns)


def insert_columns(columns: list[list[Any]]) -> set[uuid.UUID]:
    """INSERT ... SELECT * FROM unnest(one array per INSERT_COLUMNS) ON CONFLICT DO NOTHING RETURNING id."""
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SQL, columns)
        return {row[0] for row in cursor.fetchall()}


def writes_batch(*, now: datetime.datetime, batch_size: int, phases: Phases) -> SweepResult:
    """d42ae3f's claim and math; an UPDATE ... FROM unnest and an INSERT ... RETURNING."""
    with phases.rest("commit"), transaction.atomic():
        with phases.timed("claim (SELECT ... FOR UPDATE SKIP LOCKED, model instances)"):
            claimed = claim_batch(now, batch_size)
        if not claimed:
            return SweepResult()
        with phases.timed("advance (recurrence math, Occurrence instances)"):
            occurrences = [occurrence for schedule in claimed for occurrence in advance_safely(schedule, now)]
        with phases.timed("save positions (UPDATE ... FROM unnest)"):
            update_positions(
                [
                    [schedule.pk for schedule in claimed],
                    [schedule.next_local_date for schedule in claimed],
                    [schedule.next_slot for schedule in claimed],
                    [schedule.next_fire_at for schedule in claimed],
                ]
            )
        with phases.timed("insert occurrences (INSERT ... SELECT unnest ... RETURNING id)"):
            inserted = set()
            if occurrences:
                columns = [[getattr(occurrence, name) for occurrence in occurrences] for name in INSERT_COLUMNS[:-1]]
                inserted = insert_columns([*columns, [timezone.now()] * len(occurrences)])
    pending = {occurrence.id for occurrence in occurrences if occurrence.state == OccurrenceState.PENDING}
    return _result(len(claimed), occurrences, inserted & pending)


def advance_values(row: tuple[Any, ...], now: datetime.datetime) -> tuple[list[tuple[Any, ...]], Any]:
    """`advance_safely` on a claimed row of CLAIM_FIELDS: the occurrences' INSERT_COLUMNS values, and
    the next firing (None when there is none, or when the next slot lies past the calendar's end)."""
    pk, patient_id, kind, zone, times, weekdays, start, end, every, quiet_start, quiet_end, date, slot = row
    rule = schedules.Recurrence(
        zone=zone,
        times=tuple(parse_wall_time(value) for value in times),
        weekdays=frozenset(weekdays),
        start_date=start,
        end_date=end,
        every_days=every,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
    )
    written = []
    try:
        due: schedules.Firing | None = schedules.firing(rule, date, parse_wall_time(slot))
        while due is not None and due.fire_at <= now:
            stale = due.slot_at < now - rules.REMINDER_STALE_AFTER
            state = OccurrenceState.SKIPPED if stale else OccurrenceState.PENDING
            written.append(
                (
                    *(uuid.uuid4(), pk, patient_id, kind, due.local_date, due.slot_label, due.fire_at, due.slot_at),
                    *(state, STALE_REASON if stale else "", now if stale else None, None if stale else now, now),
                )
            )
            due = (
                None
                if kind == ScheduleKind.REFILL
                else schedules.next_firing_after_slot(rule, due.local_date, due.slot)
            )
    except OverflowError:
        return [], None
    return written, due


def lean_batch(*, now: datetime.datetime, batch_size: int, phases: Phases) -> SweepResult:
    """`writes` without model instances: the claim reads the columns the math needs, and the
    occurrences are rows of values."""
    with phases.rest("commit"), transaction.atomic():
        with phases.timed("claim (SELECT ... FOR UPDATE SKIP LOCKED, values_list)"):
            due = Schedule.objects.filter(next_fire_at__lte=now).order_by("next_fire_at")
            claimed = list(
                due.select_for_update(skip_locked=True, of=("self",)).values_list(*CLAIM_FIELDS)[:batch_size]
            )
        if not claimed:
            return SweepResult()
        written: list[tuple[Any, ...]] = []
        positions: list[tuple[Any, ...]] = []
        with phases.timed("advance (recurrence math, value rows)"):
            for row in claimed:
                occurrences, following = advance_values(row, now)
                written.extend(occurrences)
                place = (
                    (following.local_date, following.slot_label, following.fire_at) if following else (None, "", None)
                )
                positions.append((row[0], *place))
        with phases.timed("save positions (UPDATE ... FROM unnest)"):
            update_positions([list(column) for column in zip(*positions, strict=True)])
        with phases.timed("insert occurrences (INSERT ... SELECT unnest ... RETURNING id)"):
            inserted = insert_columns([list(column) for column in zip(*written, strict=True)]) if written else set()
    pending = [values[0] for values in written if values[8] == OccurrenceState.PENDING and values[0] in inserted]
    return SweepResult(
        claimed=len(claimed),
        written=len(written),
        skipped_stale=sum(1 for values in written if values[8] == OccurrenceState.SKIPPED),
        pending_ids=pending,
    )


# --- Running a variant ---------------------------------------------------------------------------


@contextmanager
def zones(*, cached: bool) -> Iterator[None]:
    """tracking.reminders.schedules' zone lookups: uncached `ZoneInfo` (as at d42ae3f), or a cache of every zone."""
    lookup: Callable[[str], ZoneInfo] = functools.cache(ZoneInfo) if cached else ZoneInfo
    # d42ae3f calls ZoneInfo(name); a later tracking/reminders/schedules.py may call a cached zone_named(name).
    names = [name for name in ("ZoneInfo", "zone_named") if hasattr(schedules, name)]
    originals = {name: getattr(schedules, name) for name in names}
    if not cached:
        # Nothing may keep a zone alive that d42ae3f did not (a cached zone_named would keep all 30, and
        # zoneinfo's weak cache would then always hit): zoneinfo's own cache keeps only the 8 most recent.
        for original in originals.values():
            getattr(original, "cache_clear", lambda: None)()
        ZoneInfo.clear_cache()
    for name in names:
        setattr(schedules, name, lookup)
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(schedules, name, original)


BATCHES: dict[str, Callable[..., SweepResult]] = {
    "before": before_batch,
    "writes": writes_batch,
    "writes+zones": writes_batch,
    "lean+zones": lean_batch,
}


def sweep(
    variant: str,
    *,
    now: datetime.datetime,
    batch_size: int | None = None,
    phases: Phases | None = None,
    on_pending: Callable[[list[uuid.UUID]], None] | None = None,
) -> SweepResult:
    """`tracking.reminders.sweep.sweep` with the batch function of `variant` (one of VARIANTS)."""
    if connection.vendor != "postgresql":
        raise RuntimeError("The prototypes are for PostgreSQL.")
    batch_function = BATCHES[variant]
    phases = phases or Phases()
    batch_size = batch_size or settings.REMINDER_SWEEP_BATCH
    total = SweepResult()
    with zones(cached=variant.endswith("+zones")):
        while True:
            batch = batch_function(now=now, batch_size=batch_size, phases=phases)
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
