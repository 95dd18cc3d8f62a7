"""The sweep that turns due schedules into occurrences.

Every minute the sweep claims due schedules, writes one occurrence per (schedule, local date, slot)
and advances each schedule's `next_fire_at`, in one transaction per batch. Two sweeps at once cannot
both claim a row (SKIP LOCKED, or a compare-and-set UPDATE where the database has no row locks),
and the unique constraint on occurrences would refuse a second copy even if they did.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tracking import rules
from tracking.claiming import locked_for_claim
from tracking.models import Occurrence, OccurrenceState, Schedule, ScheduleKind
from tracking.reminders.schedules import (
    STORED_RULE_FIELDS,
    Firing,
    Recurrence,
    firing,
    next_firing_after_slot,
    parse_wall_time,
)


@dataclass
class SweepResult:
    claimed: int = 0
    written: int = 0
    skipped_stale: int = 0
    pending_ids: list[uuid.UUID] = field(default_factory=list)


# What the sweep reads of a claimed schedule: values, not model instances (100,000 a minute).
CLAIM_FIELDS = ("id", "patient_id", "kind", *STORED_RULE_FIELDS, "next_local_date", "next_slot", "next_fire_at")
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
    pk, patient_id, kind, *stored_rule, date, slot, fire_at = row
    rule = Recurrence.from_stored(*stored_rule)
    try:
        fired, following = due_firings(rule, kind=kind, date=date, slot=slot, now=now)
    except OverflowError:
        return Advanced(pk, fire_at, [], None)
    return Advanced(pk, fire_at, [_occurrence_values(pk, patient_id, kind, due, now) for due in fired], following)


def _position(advanced: Advanced) -> tuple[datetime.date | None, str, datetime.datetime | None]:
    following = advanced.following
    return (None, "", None) if following is None else (following.local_date, following.slot_label, following.fire_at)


def _claim_rows(now: datetime.datetime, batch_size: int) -> list[tuple[Any, ...]]:
    # Without row locks, `_PortableWrites.save_positions` is the compare-and-set that settles a race.
    due = locked_for_claim(Schedule.objects.filter(next_fire_at__lte=now).order_by("next_fire_at"), of=("self",))
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
        due = locked_for_claim(
            Occurrence.objects.filter(state=OccurrenceState.SCHEDULED, due_at__lte=now).order_by("due_at")
        )
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
