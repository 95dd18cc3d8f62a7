"""Dose-based adherence, as pure functions: logged doses over the doses the regimens asked for.

No database here, so the property tests can throw any schedule, zone and log at it. The
selector `tracking.selectors.adherence_for` loads the rows and calls these.
"""

from __future__ import annotations

import datetime
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from accounts.clock import PatientClock

ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Schedule:
    """What adherence needs of a regimen: when it runs and at which wall times."""

    regimen_id: uuid.UUID
    start_date: datetime.date
    end_date: datetime.date | None
    times: tuple[datetime.time, ...]
    weekdays: frozenset[int]

    def runs_on(self, date: datetime.date) -> bool:
        active = self.start_date <= date and (self.end_date is None or date <= self.end_date)
        return active and date.isoweekday() in self.weekdays


@dataclass(frozen=True)
class Dose:
    regimen_id: uuid.UUID
    applied_at: datetime.datetime


@dataclass(frozen=True)
class Day:
    date: datetime.date
    expected: int
    logged: int

    @property
    def fully_adherent(self) -> bool:
        return self.expected > 0 and self.logged == self.expected


def dates_between(first: datetime.date, last: datetime.date) -> Iterable[datetime.date]:
    day = first
    while day <= last:
        yield day
        day += ONE_DAY


def adherence_days(
    *,
    first: datetime.date,
    last: datetime.date,
    schedules: Sequence[Schedule],
    doses: Iterable[Dose],
    clock: PatientClock,
    now: datetime.datetime,
) -> list[Day]:
    """Expected and logged doses for each local date from `first` to `last`.

    - A date expects one dose per wall time of each regimen that runs on it (maintenance only on
      its weekdays), scheduled in the zone the patient lived by that day.
    - Each dose counts toward the slot of its own regimen nearest in time on its own local date
      (the earlier slot on a tie); a slot takes at most one dose, so a double dose in the morning
      does not make up for the evening.
    - A slot whose time has not come is expected only once it has been logged: a morning check
      does not count the evening dose as missed.
    """
    doses_by_day: dict[tuple[uuid.UUID, datetime.date], list[datetime.datetime]] = defaultdict(list)
    for dose in doses:
        doses_by_day[(dose.regimen_id, clock.local_date(dose.applied_at))].append(dose.applied_at)

    days = []
    for date in dates_between(first, last):
        expected = logged = 0
        for schedule in schedules:
            if not schedule.runs_on(date):
                continue
            # One slot per distinct wall time. Across a DST gap two wall times can meet at one instant
            # (02:30 shifts onto 03:30): each keeps its slot there, and that instant takes a dose for each.
            slots = Counter(clock.at(date, wall_time) for wall_time in set(schedule.times))
            instants = sorted(slots)
            doses_at = Counter(
                nearest_slot(instants, applied_at) for applied_at in doses_by_day.get((schedule.regimen_id, date), ())
            )
            for instant, wall_times in slots.items():
                taken = min(doses_at[instant], wall_times)
                expected += wall_times if instant <= now else taken
                logged += taken
        days.append(Day(date=date, expected=expected, logged=logged))
    return days


def nearest_slot(slots: Sequence[datetime.datetime], applied_at: datetime.datetime) -> datetime.datetime:
    """The slot nearest in time; on a tie the earlier one (`slots` are sorted)."""
    return min(slots, key=lambda slot: abs(slot - applied_at))


def adherence_pct(days: Iterable[Day]) -> float | None:
    """Logged over expected doses, as a percentage to one decimal; None when nothing was due."""
    days = list(days)
    expected = sum(day.expected for day in days)
    if expected == 0:
        return None
    return round(100 * sum(day.logged for day in days) / expected, 1)


def streak_days(days_newest_first: Iterable[Day]) -> tuple[int, bool]:
    """Fully adherent days in a row, newest first; days with nothing due neither count nor break it.

    Also says whether the run was broken (False means it may go on before the first day given).
    """
    streak = 0
    for day in days_newest_first:
        if day.expected == 0:
            continue
        if day.logged < day.expected:
            return streak, True
        streak += 1
    return streak, False
