"""When schedules fire: DST gaps and repeats, quiet hours, intervals, and the sweep's walk over them.

The property tests drive the same code the sweep runs (`_advance` on a schedule row, no database)
at irregular sweep times across DST changes in many zones, and check that every slot of every
local day fires exactly once.
"""

from __future__ import annotations

import datetime
import itertools
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracking.reminders.schedules import (
    Recurrence,
    firing,
    first_firing_after,
    in_quiet_hours,
    next_firing_after_slot,
    wall_time_instant,
)
from tracking.reminders.sweep import due_firings

UTC = datetime.UTC
EVERY_DAY = frozenset(range(1, 8))
T = datetime.time

# Zones with DST on both hemispheres, half-hour and 45-minute offsets, a 30-minute DST shift
# (Lord Howe), and zones without DST.
ZONES = (
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "America/St_Johns",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Asia/Qatar",
    "Asia/Tehran",
    "Africa/Cairo",
    "UTC",
)


def rule(zone: str = "Europe/Berlin", times: tuple[datetime.time, ...] = (T(8), T(20)), **kwargs: object) -> Recurrence:
    return Recurrence(
        zone=zone,
        times=times,
        weekdays=kwargs.pop("weekdays", EVERY_DAY),
        start_date=kwargs.pop("start_date", datetime.date(2026, 1, 1)),
        **kwargs,
    )


def local(instant: datetime.datetime, zone: str) -> datetime.datetime:
    return instant.astimezone(ZoneInfo(zone))


class TestDaylightSaving:
    def test_a_time_skipped_by_spring_forward_fires_at_the_shifted_wall_time(self):
        # Europe/Berlin, 29 March 2026: 02:00 jumps to 03:00, so 02:30 does not exist.
        fired = firing(rule(times=(T(2, 30),)), datetime.date(2026, 3, 29), T(2, 30))
        assert local(fired.fire_at, "Europe/Berlin").time() == T(3, 30)
        assert fired.fire_at == datetime.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)

    def test_a_time_repeated_by_fall_back_fires_once_at_the_first(self):
        # Europe/Berlin, 25 October 2026: 02:00-03:00 happens twice; 02:30 fires at the first (CEST).
        schedule_rule = rule(times=(T(2, 30),))
        fired = firing(schedule_rule, datetime.date(2026, 10, 25), T(2, 30))
        assert fired.fire_at == datetime.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
        following = next_firing_after_slot(schedule_rule, fired.local_date, fired.slot)
        assert following is not None
        assert following.local_date == datetime.date(2026, 10, 26)

    def test_wall_time_stays_on_home_time_across_the_change(self):
        schedule_rule = rule(times=(T(8),), zone="America/New_York")
        before = firing(schedule_rule, datetime.date(2026, 11, 1), T(8))  # the day clocks fall back
        after = firing(schedule_rule, datetime.date(2026, 11, 2), T(8))
        assert local(before.fire_at, "America/New_York").time() == T(8)
        assert local(after.fire_at, "America/New_York").time() == T(8)
        assert after.fire_at - before.fire_at == datetime.timedelta(hours=24)
        assert before.fire_at.hour == 13
        assert after.fire_at.hour == 13  # 08:00 EST is 13:00 UTC on both days (EDT ends at 02:00 the first day)


class TestQuietHours:
    def test_a_reminder_in_quiet_hours_waits_until_they_end(self):
        schedule_rule = rule(times=(T(6),), quiet_start=T(22), quiet_end=T(7))
        fired = firing(schedule_rule, datetime.date(2026, 5, 4), T(6))
        assert local(fired.fire_at, "Europe/Berlin") == datetime.datetime(
            2026, 5, 4, 7, tzinfo=ZoneInfo("Europe/Berlin")
        )
        assert fired.slot_at < fired.fire_at

    def test_quiet_hours_across_midnight_hold_a_late_reminder_to_the_next_morning(self):
        schedule_rule = rule(times=(T(23),), quiet_start=T(22), quiet_end=T(7))
        fired = firing(schedule_rule, datetime.date(2026, 5, 4), T(23))
        assert local(fired.fire_at, "Europe/Berlin") == datetime.datetime(
            2026, 5, 5, 7, tzinfo=ZoneInfo("Europe/Berlin")
        )
        assert fired.local_date == datetime.date(2026, 5, 4)  # still the 4th's dose

    def test_a_reminder_outside_quiet_hours_is_not_held(self):
        fired = firing(rule(times=(T(8),), quiet_start=T(22), quiet_end=T(7)), datetime.date(2026, 5, 4), T(8))
        assert fired.fire_at == fired.slot_at

    @pytest.mark.parametrize(
        ("wall", "start", "end", "quiet"),
        [
            (T(22), T(22), T(7), True),
            (T(6, 59), T(22), T(7), True),
            (T(7), T(22), T(7), False),
            (T(13), T(12), T(14), True),
            (T(14), T(12), T(14), False),
            (T(11, 59), T(12), T(14), False),
        ],
    )
    def test_quiet_hours_include_the_start_and_exclude_the_end(self, wall, start, end, quiet):
        assert in_quiet_hours(wall, start, end) is quiet


class TestRunDates:
    def test_maintenance_fires_only_on_its_weekdays(self):
        schedule_rule = rule(times=(T(8),), weekdays=frozenset({1, 4}))  # Monday and Thursday
        fired = first_firing_after(schedule_rule, datetime.datetime(2026, 5, 5, tzinfo=UTC))  # a Tuesday
        assert fired is not None
        assert fired.local_date == datetime.date(2026, 5, 7)
        following = next_firing_after_slot(schedule_rule, fired.local_date, fired.slot)
        assert following is not None
        assert following.local_date == datetime.date(2026, 5, 11)

    def test_an_interval_fires_every_so_many_days_from_its_start(self):
        schedule_rule = rule(times=(T(18),), start_date=datetime.date(2026, 1, 10), every_days=90)
        fired = first_firing_after(schedule_rule, datetime.datetime(2026, 2, 1, tzinfo=UTC))
        assert fired is not None
        assert fired.local_date == datetime.date(2026, 4, 10)

    def test_nothing_fires_after_the_end_date(self):
        schedule_rule = rule(times=(T(8),), end_date=datetime.date(2026, 5, 4))
        last = firing(schedule_rule, datetime.date(2026, 5, 4), T(8))
        assert next_firing_after_slot(schedule_rule, last.local_date, last.slot) is None
        assert first_firing_after(schedule_rule, datetime.datetime(2026, 5, 5, tzinfo=UTC)) is None

    def test_nothing_before_the_start_date(self):
        fired = first_firing_after(
            rule(start_date=datetime.date(2026, 6, 1)), datetime.datetime(2026, 5, 1, tzinfo=UTC)
        )
        assert fired is not None
        assert (fired.local_date, fired.slot) == (datetime.date(2026, 6, 1), T(8))

    def test_the_first_firing_is_the_next_slot_still_to_come(self):
        now = datetime.datetime(2026, 5, 4, 9, tzinfo=UTC)  # 11:00 in Berlin
        fired = first_firing_after(rule(), now)
        assert fired is not None
        assert (fired.local_date, fired.slot) == (datetime.date(2026, 5, 4), T(20))


# --- Properties: the sweep's walk over days, zones and DST ---------------------------------------


def sweep_walk(
    schedule_rule: Recurrence, start: datetime.datetime, steps: list[int]
) -> list[tuple[datetime.date, str, datetime.datetime]]:
    """The sweep's walk (`due_firings` from where the schedule stands) at the given sweep intervals
    (minutes), starting from the schedule placed at `start`: what each sweep wrote, with its time."""
    following = first_firing_after(schedule_rule, start)
    now = start
    written: list[tuple[datetime.date, str, datetime.datetime]] = []
    for minutes in steps:
        now += datetime.timedelta(minutes=minutes)
        if following is not None and following.fire_at <= now:
            fired, following = due_firings(
                schedule_rule, kind="dose", date=following.local_date, slot=following.slot_label, now=now
            )
            written.extend((due.local_date, due.slot_label, now) for due in fired)
    return written


# Dates around every DST change of 2026 in the zones above (both hemispheres), and ordinary days.
DST_DATES = [
    datetime.date(2026, 3, 8),  # US spring forward
    datetime.date(2026, 3, 29),  # EU spring forward
    datetime.date(2026, 4, 5),  # Australia / New Zealand / Chile fall back
    datetime.date(2026, 9, 6),  # Chile spring forward
    datetime.date(2026, 9, 27),  # New Zealand spring forward
    datetime.date(2026, 10, 4),  # Australia spring forward
    datetime.date(2026, 10, 25),  # EU fall back
    datetime.date(2026, 11, 1),  # US fall back
    datetime.date(2026, 4, 24),  # Egypt spring forward
    datetime.date(2026, 10, 29),  # Egypt fall back
]
wall_times = st.builds(T, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    around=st.one_of(st.sampled_from(DST_DATES), st.dates(datetime.date(2026, 1, 1), datetime.date(2027, 12, 1))),
    times=st.lists(wall_times, min_size=1, max_size=4, unique=True),
    sweep_every=st.lists(st.integers(1, 180), min_size=1, max_size=5),
)
def test_each_slot_fires_exactly_once_per_local_day(zone, around, times, sweep_every):
    schedule_rule = rule(zone=zone, times=tuple(times), start_date=around - datetime.timedelta(days=3))
    start = datetime.datetime.combine(around - datetime.timedelta(days=2), T(), UTC)
    cursor = list(itertools.islice(itertools.cycle(sweep_every), 5 * 24 * 60))
    cursor = cursor[: next(i for i in range(len(cursor) + 1) if sum(cursor[:i]) >= 5 * 24 * 60)]
    written = sweep_walk(schedule_rule, start, cursor)
    fired_slots = [(date, slot) for date, slot, _ in written]
    assert len(fired_slots) == len(set(fired_slots)), "a slot fired twice"
    zone_info = ZoneInfo(zone)
    end = start + datetime.timedelta(minutes=sum(cursor))
    for day in (around - datetime.timedelta(days=1), around, around + datetime.timedelta(days=1)):
        for wall in times:
            due = wall_time_instant(zone_info, day, wall)
            if start < due <= end:
                assert (day, wall.strftime("%H:%M")) in fired_slots, f"{day} {wall} never fired"


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    around=st.sampled_from(DST_DATES),
    times=st.lists(wall_times, min_size=1, max_size=3, unique=True),
    # Quiet hours begin and end outside 00:00-05:00, where DST changes happen: an end inside a
    # gap would itself be shifted (covered by the wall-time property below).
    quiet=st.tuples(st.integers(5, 23), st.integers(5, 23)).filter(lambda pair: pair[0] != pair[1]),
)
def test_no_slot_is_sent_in_quiet_hours_or_before_its_time(zone, around, times, quiet):
    schedule_rule = rule(
        zone=zone,
        times=tuple(times),
        start_date=around - datetime.timedelta(days=2),
        quiet_start=T(quiet[0]),
        quiet_end=T(quiet[1]),
    )
    fired = first_firing_after(schedule_rule, datetime.datetime.combine(around - datetime.timedelta(days=1), T(), UTC))
    for _ in range(3 * len(times)):
        assert fired is not None
        assert fired.fire_at >= fired.slot_at
        landed = fired.fire_at.astimezone(ZoneInfo(zone)).time()
        assert not in_quiet_hours(landed, T(quiet[0]), T(quiet[1]))
        if fired.fire_at != fired.slot_at:  # held: it goes out exactly when quiet hours end
            assert landed == T(quiet[1])
        fired = next_firing_after_slot(schedule_rule, fired.local_date, fired.slot)


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    day=st.one_of(st.sampled_from(DST_DATES), st.dates(datetime.date(2026, 1, 1), datetime.date(2027, 12, 31))),
    wall=wall_times,
)
def test_a_slot_lands_on_its_wall_time_unless_that_time_does_not_exist(zone, day, wall):
    fired = firing(rule(zone=zone, times=(wall,), start_date=day), day, wall)
    landed = local(fired.fire_at, zone)
    naive = datetime.datetime.combine(day, wall)
    round_trip = naive.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    if round_trip == naive:
        assert landed.replace(tzinfo=None) == naive
        assert landed.fold == 0
    else:  # in a gap: later the same day by the size of the gap
        assert landed.replace(tzinfo=None) > naive
        assert landed.replace(tzinfo=None) - naive <= datetime.timedelta(hours=1)
