"""A patient's calendar: which zone, and so which local date, applies at any instant.

Patients travel and move. Each log keeps the local date and time it had when it was written,
and each calendar date is scheduled in the zone the patient lived by when that date ended.
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from zoneinfo import ZoneInfo

from accounts.models import Patient, PatientTimezoneChange

UTC = datetime.UTC


@dataclass(frozen=True)
class PatientClock:
    """Zones over time: `history` is (until, zone left) in time order; `current` is today's zone."""

    current: str
    history: Sequence[tuple[datetime.datetime, str]] = ()

    @classmethod
    def for_patient(cls, patient: Patient) -> PatientClock:
        """One query for the history (none when the caller prefetched `timezone_changes`)."""
        changes: list[PatientTimezoneChange] = list(patient.timezone_changes.all())
        return cls(
            current=patient.timezone,
            history=tuple(sorted((change.until, change.timezone) for change in changes)),
        )

    @cached_property
    def _untils(self) -> list[datetime.datetime]:
        return [until for until, _zone in self.history]

    def zone_at(self, instant: datetime.datetime) -> ZoneInfo:
        """The zone the patient lived by at this instant."""
        index = bisect.bisect_right(self._untils, instant)
        return ZoneInfo(self.history[index][1] if index < len(self.history) else self.current)

    def local(self, instant: datetime.datetime) -> datetime.datetime:
        """The instant on the patient's wall clock at the time, with its offset."""
        return instant.astimezone(self.zone_at(instant))

    def local_date(self, instant: datetime.datetime) -> datetime.date:
        return self.local(instant).date()

    def zone_on(self, date: datetime.date) -> ZoneInfo:
        """The zone a calendar date is scheduled in: the one the patient lived by when it ended."""
        for until, zone_name in self.history:
            zone = ZoneInfo(zone_name)
            end_of_day = datetime.datetime.combine(date + datetime.timedelta(days=1), datetime.time(), zone)
            if end_of_day <= until:
                return zone
        return ZoneInfo(self.current)

    def at(self, date: datetime.date, wall_time: datetime.time) -> datetime.datetime:
        """The instant of a wall-clock time on a date (UTC).

        A time skipped by a DST change lands at the shifted wall time (02:30 → 03:30); a time
        that occurs twice is the first of the two (fold=0).
        """
        zone = self.zone_on(date)
        naive = datetime.datetime.combine(date, wall_time.replace(fold=0))
        # zoneinfo reads a skipped time with the offset in force before the change, which is the
        # shifted wall time once normalised through UTC.
        return naive.replace(tzinfo=zone).astimezone(UTC)

    def day_bounds(self, first: datetime.date, last: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
        """UTC instants from the start of `first` to the end of `last`, widened by a day on each side.

        The margin covers any zone the patient lived by in between; callers still assign each
        instant to its own local date.
        """
        start = datetime.datetime.combine(first - datetime.timedelta(days=1), datetime.time(), UTC)
        end = datetime.datetime.combine(last + datetime.timedelta(days=2), datetime.time(), UTC)
        return start, end
