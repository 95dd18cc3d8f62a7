"""When a reminder schedule fires, as pure functions of its local rule and zone.

No database here, so the property tests can walk any zone across any DST change. The wall time
and the zone are the truth; the UTC instant is derived:
- a wall time skipped by a DST change fires at the shifted wall time (02:30 → 03:30);
- a wall time that occurs twice fires once, at the first (fold=0);
- quiet hours hold a reminder until they end, never drop it.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = datetime.UTC
ONE_DAY = datetime.timedelta(days=1)
# Far enough for any rule we write (at most every 90 days on chosen weekdays), short enough that a
# rule that can never fire (no weekday left before its end) answers None quickly.
SEARCH_HORIZON_DAYS = 7 * 400


def parse_wall_time(value: str) -> datetime.time:
    """A stored wall time ("HH:MM") as a time."""
    return datetime.time.fromisoformat(value)


@functools.cache
def zone_named(name: str) -> ZoneInfo:
    """A zone, kept: zoneinfo's own cache holds only the few most recent strongly, and a sweep
    across 30 zones would otherwise re-read zone files all minute long."""
    return ZoneInfo(name)


# The schedule row's columns a rule is read from, in the order `Recurrence.from_stored` takes them.
STORED_RULE_FIELDS = (
    "timezone",
    "times",
    "weekdays",
    "start_date",
    "end_date",
    "every_days",
    "quiet_hours_start",
    "quiet_hours_end",
)


@dataclass(frozen=True)
class Recurrence:
    """A schedule's local rule: wall times on the dates that run, in one zone, with optional quiet hours."""

    zone: str
    times: tuple[datetime.time, ...]
    weekdays: frozenset[int]
    start_date: datetime.date
    end_date: datetime.date | None = None
    every_days: int = 1
    quiet_start: datetime.time | None = None
    quiet_end: datetime.time | None = None

    def __post_init__(self) -> None:
        # Sorted and distinct, so "the next slot after this one" is well defined.
        object.__setattr__(self, "times", tuple(sorted(set(self.times))))

    @classmethod
    def from_stored(
        cls,
        zone: str,
        times: Iterable[str],
        weekdays: Iterable[int],
        start_date: datetime.date,
        end_date: datetime.date | None,
        every_days: int,
        quiet_start: datetime.time | None,
        quiet_end: datetime.time | None,
    ) -> Recurrence:
        """The rule of a stored schedule, from its STORED_RULE_FIELDS (wall times as "HH:MM")."""
        return cls(
            zone=zone,
            times=tuple(parse_wall_time(value) for value in times),
            weekdays=frozenset(weekdays),
            start_date=start_date,
            end_date=end_date,
            every_days=every_days,
            quiet_start=quiet_start,
            quiet_end=quiet_end,
        )

    def runs_on(self, date: datetime.date) -> bool:
        if date < self.start_date or (self.end_date is not None and date > self.end_date):
            return False
        return (date - self.start_date).days % self.every_days == 0 and date.isoweekday() in self.weekdays


@dataclass(frozen=True)
class Firing:
    """One slot of one local date: when it nominally is, and when it is sent (quiet hours applied)."""

    local_date: datetime.date
    slot: datetime.time
    slot_at: datetime.datetime
    fire_at: datetime.datetime

    @property
    def slot_label(self) -> str:
        return self.slot.strftime("%H:%M")


def wall_time_instant(zone: ZoneInfo, date: datetime.date, wall_time: datetime.time) -> datetime.datetime:
    """The UTC instant of a wall time on a date: shifted across a gap, the first of a repeated hour."""
    naive = datetime.datetime.combine(date, wall_time.replace(fold=0))
    # zoneinfo reads a skipped time with the offset in force before the change, which is the
    # shifted wall time once normalised through UTC.
    return naive.replace(tzinfo=zone).astimezone(UTC)


def in_quiet_hours(wall_time: datetime.time, start: datetime.time, end: datetime.time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= wall_time < end
    return wall_time >= start or wall_time < end  # across midnight, e.g. 22:00-07:00


def firing(rule: Recurrence, date: datetime.date, slot: datetime.time) -> Firing:
    """The firing of one slot: its nominal instant, and the end of quiet hours if it falls in them."""
    zone = zone_named(rule.zone)
    slot_at = wall_time_instant(zone, date, slot)
    fire_at = slot_at
    if rule.quiet_start is not None and rule.quiet_end is not None:
        # Quiet hours are wall-clock hours: judge the wall time the slot actually lands on.
        landed = slot_at.astimezone(zone)
        if in_quiet_hours(landed.time(), rule.quiet_start, rule.quiet_end):
            release_date = landed.date()
            if rule.quiet_start > rule.quiet_end and landed.time() >= rule.quiet_start:
                release_date += ONE_DAY
            fire_at = max(slot_at, wall_time_instant(zone, release_date, rule.quiet_end))
    return Firing(local_date=date, slot=slot, slot_at=slot_at, fire_at=fire_at)


def later(date: datetime.date, days: int) -> datetime.date:
    """`days` after `date`, or the calendar's last day when that lies beyond it."""
    try:
        return date + datetime.timedelta(days=days)
    except OverflowError:
        return datetime.date.max


def next_run_date(rule: Recurrence, first: datetime.date) -> datetime.date | None:
    """The first date on or after `first` the rule runs on, within the search horizon."""
    date = max(first, rule.start_date)
    # Jump to the interval's grid instead of testing every day.
    offset = (date - rule.start_date).days % rule.every_days
    if offset:
        if date > datetime.date.max - datetime.timedelta(days=rule.every_days - offset):
            return None
        date += datetime.timedelta(days=rule.every_days - offset)
    step = datetime.timedelta(days=rule.every_days)
    limit = later(first, SEARCH_HORIZON_DAYS)
    while date <= limit and (rule.end_date is None or date <= rule.end_date):
        if date.isoweekday() in rule.weekdays:
            return date
        if date > datetime.date.max - step:  # the calendar ends before the next run date
            return None
        date += step
    return None


def next_firing_after_slot(rule: Recurrence, date: datetime.date, slot: datetime.time) -> Firing | None:
    """The slot that follows (`date`, `slot`) in the rule's own order, or None when it never fires again."""
    later_today = [wall_time for wall_time in rule.times if wall_time > slot]
    if later_today and rule.runs_on(date):
        return firing(rule, date, later_today[0])
    if date == datetime.date.max:
        return None
    run_date = next_run_date(rule, date + ONE_DAY)
    return None if run_date is None else firing(rule, run_date, rule.times[0])


def first_firing_after(rule: Recurrence, instant: datetime.datetime) -> Firing | None:
    """The first slot, in the rule's order, that is sent after `instant`; None when none is left."""
    if not rule.times:
        return None
    # Start a day early: a slot of yesterday's date may still be held by quiet hours.
    run_date = next_run_date(rule, instant.astimezone(zone_named(rule.zone)).date() - ONE_DAY)
    candidate = None if run_date is None else firing(rule, run_date, rule.times[0])
    while candidate is not None and candidate.fire_at <= instant:
        candidate = next_firing_after_slot(rule, candidate.local_date, candidate.slot)
    return candidate
