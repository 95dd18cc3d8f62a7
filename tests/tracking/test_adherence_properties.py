"""Properties of tracking.adherence, on generated schedules, doses and zones (no database).

Dates are drawn around the DST changes of each zone as often as anywhere else, and wall times
around 01:00-03:59, where the changes happen, so gaps and repeated hours come up in most runs.
"""

from __future__ import annotations

import datetime
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.clock import PatientClock
from tracking import adherence
from tracking.adherence import Day, Dose, Schedule

UTC = datetime.UTC
ALL_WEEKDAYS = frozenset(range(1, 8))
# Southern DST (Sydney), a half-hour offset without DST (Kolkata), a 45-minute offset whose DST
# change happens at 02:45 (Chatham), and the northern DST of Berlin and New York.
DST_ZONES = ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Pacific/Chatham")
ZONES = (*DST_ZONES, "Asia/Kolkata", "Asia/Qatar")
YEARS = (2025, 2026, 2027)
FAR_FUTURE = datetime.datetime(2100, 1, 1, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
# Whole scenarios (zone, move, up to three regimens, doses, now) cost hypothesis about 5 ms each to
# generate: fewer of them keep this file at a few seconds. The DST-day tests below run the full 200.
SCENARIO_SETTINGS = settings(max_examples=100, deadline=None)


@cache
def dst_change_dates(zone_name: str) -> tuple[datetime.date, ...]:
    """Local dates whose length is not 24 hours: the offset at their end differs from their start."""
    zone = ZoneInfo(zone_name)
    dates = []
    day = datetime.date(YEARS[0], 1, 1)
    while day.year <= YEARS[-1]:
        start = datetime.datetime.combine(day, datetime.time(), zone)
        end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), zone)
        if start.utcoffset() != end.utcoffset():
            dates.append(day)
        day += datetime.timedelta(days=1)
    return tuple(dates)


def test_the_generators_see_two_dst_changes_a_year_in_each_dst_zone() -> None:
    # Guards the strategies below: if this table were empty, the DST properties would test nothing.
    for zone_name in DST_ZONES:
        assert len(dst_change_dates(zone_name)) == 2 * len(YEARS), zone_name
    assert dst_change_dates("Asia/Kolkata") == ()


# --- Strategies --------------------------------------------------------------------------------

# Strategies are built once, here: building them inside each example costs more than the test.

# Minutes after midnight. Half the time one of the minutes DST changes happen around (01:30-03:45,
# Chatham's 02:45 included), so skipped, repeated and colliding wall times come up in most runs.
DST_HOUR_MINUTES = (90, 120, 150, 165, 180, 210, 225)
minutes_of_day = st.one_of(st.sampled_from(DST_HOUR_MINUTES), st.integers(0, 24 * 60 - 1))
wall_time_lists = st.lists(minutes_of_day, min_size=1, max_size=4, unique=True).map(
    lambda minutes: [datetime.time(minute // 60, minute % 60) for minute in minutes]
)
any_dates = st.dates(datetime.date(YEARS[0], 1, 1), datetime.date(YEARS[-1], 12, 31))
zones = st.sampled_from(ZONES)


@cache
def anchor_dates(zone_name: str) -> st.SearchStrategy[datetime.date]:
    """A DST change date of the zone (give or take a day) half the time, any date otherwise."""
    changes = dst_change_dates(zone_name)
    if not changes:
        return any_dates
    near_change = st.builds(
        lambda day, shift: day + datetime.timedelta(days=shift), st.sampled_from(changes), st.integers(-1, 1)
    )
    return st.one_of(near_change, any_dates)


# A regimen: (maintenance?, weekday bits for maintenance (bit 0 Monday), start relative to the
# anchor, length in days (15 and up: ongoing), wall times).
schedule_specs = st.tuples(st.booleans(), st.integers(1, 127), st.integers(-10, 3), st.integers(0, 29), wall_time_lists)


def make_schedule(spec: tuple, around: datetime.date, maintenance: bool | None = None) -> Schedule:
    drawn_maintenance, weekday_bits, start_shift, length, times = spec
    maintenance = drawn_maintenance if maintenance is None else maintenance
    start = around + datetime.timedelta(days=start_shift)
    weekdays = frozenset(weekday for weekday in range(1, 8) if weekday_bits >> (weekday - 1) & 1)
    return Schedule(
        regimen_id=uuid.uuid4(),
        start_date=start,
        end_date=None if length >= 15 else start + datetime.timedelta(days=length),
        times=tuple(times),
        weekdays=weekdays if maintenance else ALL_WEEKDAYS,
    )


# A move into the patient's zone: None (never moved), or (which other zone, minutes from the anchor).
move_specs = st.one_of(st.none(), st.tuples(st.integers(0, len(ZONES) - 2), st.integers(-3 * 24 * 60, 3 * 24 * 60)))


def make_clock(zone_name: str, move: tuple[int, int] | None, around: datetime.date) -> PatientClock:
    if move is None:
        return PatientClock(current=zone_name)
    left = [zone for zone in ZONES if zone != zone_name][move[0]]
    until = datetime.datetime.combine(around, datetime.time(), UTC) + datetime.timedelta(minutes=move[1])
    return PatientClock(current=zone_name, history=((until, left),))


# A dose is drawn as one integer (one draw instead of four keeps the file fast), read by
# `make_doses` as: which regimen, which date (from the day before the span to the day after),
# which wall time (one of the regimen's own, or any whole hour), and how many minutes off it (up to
# 14 hours either way). Zero reads as the first regimen's first time, on time.
REGIMEN_CHOICES, DATE_CHOICES, TIME_CHOICES, OFFSET_CHOICES = 3, 11, 4 + 24, 2 * 14 * 60 + 1
dose_specs = st.integers(0, REGIMEN_CHOICES * DATE_CHOICES * TIME_CHOICES * OFFSET_CHOICES - 1)
dose_spec_lists = st.lists(dose_specs, max_size=10)


def make_doses(
    specs: Sequence[int],
    schedule_list: Sequence[Schedule],
    clock: PatientClock,
    first: datetime.date,
    last: datetime.date,
) -> list[Dose]:
    """Doses near a slot of their regimen (on time, early, late, even a day off), in and around the span."""
    span = (last - first).days + 3
    doses = []
    for spec in specs:
        spec, offset = divmod(spec, OFFSET_CHOICES)
        spec, time_index = divmod(spec, TIME_CHOICES)
        which, day = divmod(spec, DATE_CHOICES)
        schedule = schedule_list[which % len(schedule_list)]
        date = first + datetime.timedelta(days=(day + 1) % span - 1)  # 0 reads as the first date
        own = time_index < 4
        wall_time = schedule.times[time_index % len(schedule.times)] if own else datetime.time(time_index - 4)
        minutes = offset // 2 if offset % 2 == 0 else -(offset + 1) // 2  # 0, -1, 1, -2, 2, ...
        doses.append(Dose(schedule.regimen_id, clock.at(date, wall_time) + datetime.timedelta(minutes=minutes)))
    return doses


@dataclass(frozen=True)
class Scenario:
    clock: PatientClock
    first: datetime.date
    last: datetime.date
    schedules: tuple[Schedule, ...]
    doses: tuple[Dose, ...]
    now: datetime.datetime

    def days(self, doses: Sequence[Dose] | None = None) -> list[Day]:
        return adherence.adherence_days(
            first=self.first,
            last=self.last,
            schedules=self.schedules,
            doses=self.doses if doses is None else doses,
            clock=self.clock,
            now=self.now,
        )

    def more_doses(self, specs: Sequence[int]) -> list[Dose]:
        return make_doses(specs, self.schedules, self.clock, self.first, self.last)


span_lengths = st.integers(0, 3)
schedule_spec_lists = st.lists(schedule_specs, min_size=1, max_size=3)
now_minutes = st.one_of(st.none(), st.integers(0, 9 * 24 * 60))  # None: long after the span


@st.composite
def scenarios(draw: st.DrawFn, *, far_future: bool = False, moves: bool = True) -> Scenario:
    """Up to three regimens over a span of 1-7 days around the anchor, doses, and the time now."""
    zone_name = draw(zones)
    anchor = draw(anchor_dates(zone_name))
    first = anchor - datetime.timedelta(days=draw(span_lengths))
    last = anchor + datetime.timedelta(days=draw(span_lengths))
    clock = make_clock(zone_name, draw(move_specs) if moves else None, anchor)
    schedule_list = tuple(make_schedule(spec, anchor) for spec in draw(schedule_spec_lists))
    doses = make_doses(draw(dose_spec_lists), schedule_list, clock, first, last)
    minutes = None if far_future else draw(now_minutes)
    if minutes is None:
        now = FAR_FUTURE
    else:
        span_minutes = ((last - first).days + 3) * 24 * 60
        now = datetime.datetime.combine(first - datetime.timedelta(days=1), datetime.time(), UTC)
        now += datetime.timedelta(minutes=minutes % span_minutes)
    return Scenario(clock=clock, first=first, last=last, schedules=schedule_list, doses=tuple(doses), now=now)


def distinct_wall_times_due(scenario: Scenario, date: datetime.date) -> int:
    """Slots a date asks for once all are due: one per distinct wall time of each regimen running on it."""
    return sum(len(set(schedule.times)) for schedule in scenario.schedules if schedule.runs_on(date))


# --- Properties ------------------------------------------------------------------------------


@SCENARIO_SETTINGS
@given(scenarios())
def test_a_day_logs_at_most_what_it_expects_and_at_most_one_dose_per_slot(scenario: Scenario) -> None:
    days = scenario.days()
    assert [day.date for day in days] == list(adherence.dates_between(scenario.first, scenario.last))
    for day in days:
        assert 0 <= day.logged <= day.expected, day
        assert day.logged <= distinct_wall_times_due(scenario, day.date), day
    pct = adherence.adherence_pct(days)
    if sum(day.expected for day in days) == 0:
        assert pct is None
    else:
        assert pct is not None
        assert 0 <= pct <= 100


@SCENARIO_SETTINGS
@given(scenarios(), dose_specs, st.integers(1, 3))
def test_a_duplicate_dose_changes_nothing(scenario: Scenario, spec: int, copies: int) -> None:
    (dose,) = scenario.more_doses([spec])
    once = scenario.days(doses=[*scenario.doses, dose])
    assert scenario.days(doses=[*scenario.doses, dose, *[dose] * copies]) == once
    assert scenario.days(doses=[dose, *scenario.doses, *[dose] * copies]) == once


@SCENARIO_SETTINGS
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_order_doses_arrive_in_does_not_matter(scenario: Scenario, shuffler: random.Random) -> None:
    shuffled = list(scenario.doses)
    shuffler.shuffle(shuffled)
    assert scenario.days(doses=shuffled) == scenario.days()


@SCENARIO_SETTINGS
@given(scenarios(), dose_specs)
def test_an_extra_dose_never_lowers_the_logged_count(scenario: Scenario, extra: int) -> None:
    before = scenario.days()
    after = scenario.days(doses=[*scenario.doses, *scenario.more_doses([extra])])
    for old, new in zip(before, after, strict=True):
        assert new.logged >= old.logged


@SCENARIO_SETTINGS
@given(scenarios())
def test_a_slot_is_expected_once_due_and_before_that_only_once_logged(scenario: Scenario) -> None:
    # `now` is long after the span half the time, when every slot of every day is due.
    for day in scenario.days():
        instants = [
            scenario.clock.at(day.date, wall_time)
            for schedule in scenario.schedules
            if schedule.runs_on(day.date)
            for wall_time in schedule.times
        ]
        if instants and min(instants) > scenario.now:
            assert day.expected == day.logged, day
        if instants and max(instants) <= scenario.now:
            assert day.expected == distinct_wall_times_due(scenario, day.date), day
        if not instants:
            assert day.expected == day.logged == 0, day


@SCENARIO_SETTINGS
@given(st.data())
def test_a_maintenance_regimen_expects_and_counts_nothing_on_its_off_weekdays(data: st.DataObject) -> None:
    zone_name = data.draw(zones)
    anchor = data.draw(anchor_dates(zone_name))
    first, last = anchor - datetime.timedelta(days=7), anchor + datetime.timedelta(days=7)
    clock = make_clock(zone_name, data.draw(move_specs), anchor)
    schedule = make_schedule(data.draw(schedule_specs), anchor, maintenance=True)
    # Doses on every date of the span, on-days and off-days alike.
    doses = make_doses(data.draw(dose_spec_lists), [schedule], clock, first, last)
    doses += [
        Dose(schedule.regimen_id, clock.at(date, wall_time))
        for date in adherence.dates_between(first, last)
        for wall_time in schedule.times
    ]
    days = adherence.adherence_days(
        first=first, last=last, schedules=[schedule], doses=doses, clock=clock, now=FAR_FUTURE
    )
    for day in days:
        if day.date.isoweekday() not in schedule.weekdays:
            assert day.expected == day.logged == 0, day
        elif schedule.runs_on(day.date) and not clock.history:
            # (Across a move, a dose at a slot's instant may fall on another local date.)
            assert day.expected == day.logged == len(schedule.times), day


# Every DST change date of every DST zone, with a clock in that zone.
dst_days = st.sampled_from(
    [(PatientClock(current=zone_name), date) for zone_name in DST_ZONES for date in dst_change_dates(zone_name)]
)


@PROPERTY_SETTINGS
@given(dst_days, wall_time_lists, st.booleans())
def test_on_a_dst_change_day_each_distinct_wall_time_is_exactly_one_slot(
    dst_day: tuple[PatientClock, datetime.date], times: list[datetime.time], maintenance: bool
) -> None:
    """A time skipped by spring-forward still gets its slot; a time that occurs twice gets only one."""
    clock, date = dst_day
    weekdays = frozenset({date.isoweekday()}) if maintenance else ALL_WEEKDAYS
    schedule = Schedule(uuid.uuid4(), date - datetime.timedelta(days=3), None, tuple(times), weekdays)
    (day,) = adherence.adherence_days(
        first=date, last=date, schedules=[schedule], doses=[], clock=clock, now=FAR_FUTURE
    )
    assert day.expected == len(times)


@PROPERTY_SETTINGS
@given(dst_days, wall_time_lists)
def test_on_a_dst_change_day_a_dose_at_every_slot_is_full_adherence(
    dst_day: tuple[PatientClock, datetime.date], times: list[datetime.time]
) -> None:
    clock, date = dst_day
    schedule = Schedule(uuid.uuid4(), date, date, tuple(times), ALL_WEEKDAYS)
    doses = [Dose(schedule.regimen_id, clock.at(date, wall_time)) for wall_time in times]
    (day,) = adherence.adherence_days(
        first=date, last=date, schedules=[schedule], doses=doses, clock=clock, now=FAR_FUTURE
    )
    assert day.expected == day.logged == len(times)


@SCENARIO_SETTINGS
@given(scenarios(far_future=True, moves=False))
def test_a_dose_at_every_slot_of_every_day_is_full_adherence(scenario: Scenario) -> None:
    # In one zone: across a move eastwards, the first slots of the new zone's day can come before
    # the move, when the patient's own calendar still showed the day before.
    doses = [
        Dose(schedule.regimen_id, scenario.clock.at(date, wall_time))
        for date in adherence.dates_between(scenario.first, scenario.last)
        for schedule in scenario.schedules
        if schedule.runs_on(date)
        for wall_time in schedule.times
    ]
    days = scenario.days(doses=doses)
    for day in days:
        assert day.logged == day.expected == distinct_wall_times_due(scenario, day.date), day
    assert adherence.adherence_pct(days) in (None, 100.0)


# --- Streak ----------------------------------------------------------------------------------

generated_days = st.lists(
    st.builds(
        lambda expected, missed: Day(
            date=datetime.date(2026, 1, 1), expected=expected, logged=max(expected - missed, 0)
        ),
        st.integers(0, 4),
        st.one_of(st.just(0), st.integers(0, 4)),
    ),
    max_size=30,
)


@PROPERTY_SETTINGS
@given(generated_days, st.lists(st.integers(0, 40), min_size=1, max_size=5))
def test_days_with_nothing_due_neither_count_toward_nor_break_a_streak(days: list[Day], positions: list[int]) -> None:
    padded = list(days)
    for position in positions:
        padded.insert(position % (len(padded) + 1), Day(date=datetime.date(2026, 1, 1), expected=0, logged=0))
    assert adherence.streak_days(padded) == adherence.streak_days(days)


@PROPERTY_SETTINGS
@given(generated_days)
def test_a_streak_is_the_run_of_fully_adherent_due_days_before_the_first_miss(days: list[Day]) -> None:
    streak, broken = adherence.streak_days(days)
    due = [day for day in days if day.expected > 0]
    assert all(day.logged == day.expected for day in due[:streak])
    if broken:
        assert due[streak].logged < due[streak].expected
    else:
        assert streak == len(due)
