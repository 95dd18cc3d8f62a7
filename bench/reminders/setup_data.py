"""Issue #4's data on PostgreSQL: 1,000,000 reminder schedules across 30 zones, 100,000 due in one minute.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tacro_bench_reminders .venv/bin/python bench/reminders/setup_data.py

Creates the database if it is missing and migrates it, then (only when the data set is not there yet,
or with --force) loads it with COPY: 300,000 patients, each with a login and one regimen, and their
schedules (dose, refill, skin check, POEM: 1,000,000 rows). `--reset` puts back only what a timed
run changes (run.py does this before each run). Refuses a database that holds users of its own.

The data set, all built from one seeded random generator so every machine gets the same rows:
- Patients in 30 IANA zones (10,000 each), each with a patient login; two thirds have atopic
  dermatitis, one third a cutaneous lupus; each has one ongoing, twice-daily treatment regimen that
  started 7-180 days before DUE_AT; two thirds of the regimens have a tube size (so a refill prompt).
- Schedules as `tracking.reminders.services.desired_schedules` would make them: one dose schedule per regimen,
  one refill prompt per regimen with a tube, one skin-check prompt (every 90 days) per patient and one
  POEM prompt (every 7 days) per eczema patient: 300,000 + 200,000 + 300,000 + 200,000.
- 100,000 patients (scattered through the table, 3,333 or 3,334 per zone) have a dose slot at the
  wall time DUE_AT reads in their zone, so 100,000 dose schedules have `next_fire_at = DUE_AT`.
  Their dose setting sends to the inbox only (no SMTP, no push).
- Every other schedule points at its first firing after DUE_AT: dose slots (at five-minute wall times)
  spread over the next 12 hours, prompts at 18:00 local on a later date. A tenth of the other patients
  have dose quiet hours 22:00-07:00 (stored on their dose and refill schedules), and one in twenty has
  the POEM prompt switched off (its schedule has no next firing).
- `next_local_date`, `next_slot` and `next_fire_at` come from `tracking.reminders.schedules.first_firing_after`,
  so they are what `schedules_refresh` would store and what the sweep's `_advance` expects.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))
from bench import shared  # the project root must be on the path first

# Bumped whenever the data set changes, so an old one is rebuilt rather than measured.
SETUP_VERSION = "1"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tacro_bench_reminders"
EMAIL_DOMAIN = "tacro-bench-reminders.invalid"
# The minute the 100,000 dose slots fall in (a Tuesday).
DUE_AT = datetime.datetime(2026, 11, 24, 14, 7, tzinfo=datetime.UTC)
ZONES: tuple[str, ...] = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Paris",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Europe/Athens",
    "Africa/Cairo",
    "Europe/Istanbul",
    "Asia/Qatar",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Chatham",
)
PATIENTS = 300_000
DUE_PATIENTS = 100_000
SCHEDULES = 1_000_000
SEED = 4  # issue #4
ALL_CHANNELS_JSON = json.dumps(["push", "email", "inbox"])
QUIET_HOURS = (datetime.time(22, 0), datetime.time(7, 0))
PROMPT_TIME = datetime.time(18, 0)
AREA_SETS = (["face", "neck"], ["arm_left", "arm_right"], ["hand_left", "hand_right"], ["leg_left", "leg_right"])
META_TABLE = "bench_reminders_meta"
# Tables a timed run writes to; `reset` empties them (CASCADE: nothing else of ours refers to them).
RUN_TABLES = ("tracking_delivery", "tracking_notification", "tracking_occurrence")


@contextmanager
def connect(*, autocommit: bool = True) -> Iterator[psycopg.Connection]:
    from bench.environment import conninfo  # imported once Django's settings are configured

    with psycopg.connect(conninfo(), autocommit=autocommit) as connection:
        yield connection


# --- Building the rows ---------------------------------------------------------------------------


@dataclass
class Rows:
    users: list[tuple[object, ...]] = field(default_factory=list)
    patients: list[tuple[object, ...]] = field(default_factory=list)
    regimens: list[tuple[object, ...]] = field(default_factory=list)
    settings: list[tuple[object, ...]] = field(default_factory=list)
    schedules: list[tuple[object, ...]] = field(default_factory=list)
    due_schedule_ids: list[int] = field(default_factory=list)
    firing_schedules: int = 0


def wall(value: datetime.time) -> str:
    return value.strftime("%H:%M")


def build_rows() -> Rows:
    """Every row of the data set, in insertion order (patients shuffled, so due ones are scattered)."""
    from tracking.reminders.schedules import Firing, Recurrence, first_firing_after

    rng = random.Random(SEED)  # noqa: S311 - reproducible data, not secrets
    created = DUE_AT - datetime.timedelta(days=200)
    all_weekdays = frozenset(range(1, 8))
    weekdays_json = json.dumps(list(range(1, 8)))
    zones = {name: ZoneInfo(name) for name in ZONES}
    due_wall = {name: DUE_AT.astimezone(zone) for name, zone in zones.items()}
    rows = Rows()
    # Profiles with exact counts, then shuffled: which patients are due, eczema, with a tube, and where.
    order = list(range(PATIENTS))
    rng.shuffle(order)
    schedule_id = 0

    def schedule(
        kind: str,
        zone: str,
        times: Sequence[datetime.time],
        start: datetime.date,
        *,
        patient_id: uuid.UUID,
        regimen_id: uuid.UUID | None,
        end: datetime.date | None = None,
        every_days: int = 1,
        quiet: tuple[datetime.time, datetime.time] | None = None,
        after: datetime.datetime = DUE_AT,
        fires: bool = True,
    ) -> Firing | None:
        nonlocal schedule_id
        rule = Recurrence(
            zone=zone,
            times=tuple(times),
            weekdays=all_weekdays,
            start_date=start,
            end_date=end,
            every_days=every_days,
            quiet_start=quiet[0] if quiet else None,
            quiet_end=quiet[1] if quiet else None,
        )
        next_firing = first_firing_after(rule, after) if fires else None
        schedule_id += 1
        rows.schedules.append(
            (
                schedule_id,
                kind,
                zone,
                json.dumps([wall(value) for value in rule.times]),
                weekdays_json,
                start,
                end,
                every_days,
                quiet[0] if quiet else None,
                quiet[1] if quiet else None,
                next_firing.local_date if next_firing else None,
                next_firing.slot_label if next_firing else "",
                next_firing.fire_at if next_firing else None,
                created,
                patient_id,
                regimen_id,
            )
        )
        rows.firing_schedules += next_firing is not None
        return next_firing

    for position, profile in enumerate(order):
        user_id = position + 1
        zone = ZONES[profile % len(ZONES)]
        due = profile < DUE_PATIENTS
        eczema = profile % 3 != 2
        tube = profile % 3 != 1
        quiet = QUIET_HOURS if not due and profile % 10 == 5 else None
        poem_off = not due and profile % 20 == 7
        patient_id = shared.seeded_uuid(rng)
        regimen_id = shared.seeded_uuid(rng)
        email = f"patient{user_id:06d}@{EMAIL_DOMAIN}"
        rows.users.append(shared.user_row(user_id, email, "Bench", f"Patient {user_id}", "patient", created))
        rows.patients.append(
            (
                patient_id,
                "Bench",
                f"Patient {user_id}",
                datetime.date(1950 + rng.randrange(55), 1 + rng.randrange(12), 1 + rng.randrange(28)),
                zone,
                "atopic_dermatitis" if eczema else shared.LUPUS[profile % len(shared.LUPUS)],
                created,
                created,
                user_id,
            )
        )
        if due:
            local = due_wall[zone]
            first = datetime.time(local.hour, local.minute)
        else:
            first = datetime.time(rng.randrange(12), 5 * rng.randrange(12))
        times = sorted([first, first.replace(hour=(first.hour + 12) % 24)])
        start = DUE_AT.date() - datetime.timedelta(days=rng.randrange(7, 181))
        drug, strength = rng.choice((("tacrolimus", "0.1"), ("tacrolimus", "0.03"), ("pimecrolimus", "1")))
        rows.regimens.append(
            (
                regimen_id,
                drug,
                strength,
                json.dumps(rng.choice(AREA_SETS)),
                json.dumps([wall(value) for value in times]),
                weekdays_json,
                start,
                rng.choice((30, 60, 100)) if tube else None,
                "treatment",
                created,
                created,
                patient_id,
            )
        )
        if due:
            rows.settings.append(("dose", True, json.dumps(["inbox"]), None, None, created, patient_id))
        elif quiet:
            rows.settings.append(("dose", True, ALL_CHANNELS_JSON, *quiet, created, patient_id))
        if poem_off:
            rows.settings.append(("poem", False, ALL_CHANNELS_JSON, None, None, created, patient_id))

        dose = schedule(
            "dose",
            zone,
            times,
            start,
            regimen_id=regimen_id,
            quiet=quiet,
            after=DUE_AT - datetime.timedelta(minutes=1) if due else DUE_AT,
            patient_id=patient_id,
        )
        if due:
            if dose is None or dose.fire_at != DUE_AT:
                raise AssertionError(f"patient {user_id}: the dose slot is not at {DUE_AT} ({dose})")
            rows.due_schedule_ids.append(schedule_id)
        if tube:
            prompt_date = due_wall[zone].date() + datetime.timedelta(days=1 + profile % 60)
            schedule(
                "refill",
                zone,
                [PROMPT_TIME],
                prompt_date,
                regimen_id=regimen_id,
                end=prompt_date,
                quiet=quiet,
                patient_id=patient_id,
            )
        schedule(
            "skin_check",
            zone,
            [PROMPT_TIME],
            start + datetime.timedelta(days=90),
            regimen_id=None,
            every_days=90,
            patient_id=patient_id,
        )
        if eczema:
            poem_start = start + datetime.timedelta(days=7)
            schedule(
                "poem",
                zone,
                [PROMPT_TIME],
                poem_start,
                regimen_id=None,
                every_days=7,
                fires=not poem_off,
                patient_id=patient_id,
            )
    if len(rows.schedules) != SCHEDULES or len(rows.due_schedule_ids) != DUE_PATIENTS:
        raise AssertionError(f"{len(rows.schedules)} schedules, {len(rows.due_schedule_ids)} due")
    return rows


# --- Loading -------------------------------------------------------------------------------------

# The columns of each table the data set fills, in the order of the tuples build_rows makes.
COPY_TARGETS = {
    "users": shared.USER_COLUMNS,
    "patients": shared.PATIENT_COLUMNS,
    "regimens": (
        "tracking_regimen",
        "id, drug, strength, body_areas, times, weekdays, start_date, tube_grams, phase, created_at, updated_at, "
        "patient_id",
    ),
    "settings": (
        "tracking_remindersetting",
        "kind, enabled, channels, quiet_hours_start, quiet_hours_end, updated_at, patient_id",
    ),
    "schedules": (
        "tracking_schedule",
        "id, kind, timezone, times, weekdays, start_date, end_date, every_days, quiet_hours_start, "
        "quiet_hours_end, next_local_date, next_slot, next_fire_at, updated_at, patient_id, regimen_id",
    ),
}


def is_ready(connection: psycopg.Connection) -> bool:
    """Whether the data set of this SETUP_VERSION and DUE_AT is fully loaded."""
    meta = shared.read_meta(connection, META_TABLE)
    if meta.get("version") != SETUP_VERSION or meta.get("due_at") != DUE_AT.isoformat():
        return False
    row = connection.execute("SELECT count(*) FROM tracking_schedule").fetchone()
    return row is not None and row[0] == SCHEDULES


def load(connection: psycopg.Connection, rows: Rows) -> dict[str, float]:
    """Empty the bench's tables and COPY the data set in; seconds per step."""
    timings: dict[str, float] = {}
    connection.execute(f"DROP TABLE IF EXISTS {META_TABLE}, bench_reminders_due")
    # CASCADE: every table that refers to users or patients (regimens, schedules, logs, ...) goes too.
    connection.execute("TRUNCATE accounts_user, accounts_patient RESTART IDENTITY CASCADE")
    with connection.transaction():
        for name in COPY_TARGETS:
            _count, timings[f"COPY {name}"] = shared.copy_rows(connection, COPY_TARGETS[name], getattr(rows, name))
        for table in ("accounts_user", "tracking_remindersetting", "tracking_schedule"):
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            )
        connection.execute(
            "CREATE TABLE bench_reminders_due AS SELECT id, next_local_date, next_slot, next_fire_at "
            "FROM tracking_schedule WHERE id = ANY(%s)",
            (rows.due_schedule_ids,),
        )
        connection.execute("ALTER TABLE bench_reminders_due ADD PRIMARY KEY (id)")
        shared.write_meta(connection, META_TABLE, {"version": SETUP_VERSION, "due_at": DUE_AT.isoformat()})
    start = time.perf_counter()
    connection.execute("VACUUM (ANALYZE)")
    connection.execute("CHECKPOINT")
    timings["VACUUM ANALYZE + CHECKPOINT"] = time.perf_counter() - start
    return timings


def ensure(*, force: bool = False, verbose: bool = True) -> bool:
    """Load the data set unless it is already there; whether it was loaded now."""
    with connect() as connection:
        if not force and is_ready(connection):
            return False
        shared.refuse_foreign_users(connection, EMAIL_DOMAIN, "tacro_bench_reminders")
        start = time.perf_counter()
        rows = build_rows()
        built = time.perf_counter() - start
        timings = {"build rows (Python, first_firing_after)": built, **load(connection, rows)}
        reset(connection)
    if verbose:
        for step, seconds in timings.items():
            print(f"  {step}: {seconds:.1f} s")
        print(f"  total: {sum(timings.values()):.1f} s")
    return True


# --- Between runs --------------------------------------------------------------------------------


def due_count(connection: psycopg.Connection) -> int:
    row = connection.execute("SELECT count(*) FROM tracking_schedule WHERE next_fire_at <= %s", (DUE_AT,)).fetchone()
    return int(row[0]) if row else 0


def reset(connection: psycopg.Connection | None = None) -> float:
    """Undo a run: no occurrences, notifications or deliveries, and the 100,000 schedules due again.

    Then VACUUM ANALYZE the tables a run touched and CHECKPOINT, so each run starts from the same
    state and does not pay for the previous run's dead rows or dirty pages. Returns the seconds it took.
    """
    if connection is None:
        with connect() as own:
            return reset(own)
    start = time.perf_counter()
    connection.execute(f"TRUNCATE {', '.join(RUN_TABLES)} CASCADE")
    connection.execute(
        "UPDATE tracking_schedule AS s SET next_local_date = d.next_local_date, next_slot = d.next_slot, "
        "next_fire_at = d.next_fire_at FROM bench_reminders_due AS d WHERE s.id = d.id "
        "AND s.next_fire_at IS DISTINCT FROM d.next_fire_at"
    )
    connection.execute(f"VACUUM (ANALYZE) tracking_schedule, {', '.join(RUN_TABLES)}")
    connection.execute("CHECKPOINT")
    due = due_count(connection)
    if due != DUE_PATIENTS:
        raise AssertionError(f"after the reset {due} schedules are due at {DUE_AT}, not {DUE_PATIENTS}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="build and load the data set even if it is there")
    parser.add_argument("--reset", action="store_true", help="only undo a run (the data set must be there)")
    parser.add_argument("--recreate", action="store_true", help="drop and create the database first")
    args = parser.parse_args(argv)
    shared.project_root_first(Path(__file__).resolve().parent)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    from bench import environment

    database = environment.prepare(recreate=args.recreate)
    if args.reset:
        print(f"{database}: reset in {reset():.1f} s")
        return 0
    start = time.perf_counter()
    loaded = ensure(force=args.force)
    print(f"{database}: {'loaded' if loaded else 'already set up'} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
