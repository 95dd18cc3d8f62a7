"""What every care-team alert rule shares: the thresholds, the context, a reading, a finding, the wording.

Pure: nothing here reads the database. The rules themselves are in course_findings.py (about a
treatment course: persistent burning, no improvement, low adherence) and symptom_findings.py
(worsening flare, a concerning skin check); each takes the `AlertContext` and the readings that
tracking/alerts/selectors.py gathered for it, and returns a `Finding` or None. Opening, resolving
and digesting alerts is tracking/alerts/services.py's.

Thresholds come from `settings.ALERT_THRESHOLDS`, whose defaults and sources are in `tracking.rules`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from accounts.clock import PatientClock
from accounts.models import Patient
from tracking import rules
from tracking.models import Alert, AlertKind, AlertSeverity, Regimen

ONE_DAY = datetime.timedelta(days=1)
# A skin-check alert lists at most this many other concerning checks by id.
MAX_LISTED_SKIN_CHECKS = 20
SKIN_CHECK_EPISODE = "skin_check:"
SUMMARY_MAX_LENGTH = Alert._meta.get_field("summary").max_length or 300


@dataclass(frozen=True)
class Thresholds:
    """The alert thresholds in force: `settings.ALERT_THRESHOLDS`, each key defaulting to tracking.rules."""

    burning_min_score: int
    burning_min_days: int
    burning_window_days: int
    burning_after_start_days: int
    no_improvement_after_days: int
    worsening_min_rise: int
    worsening_window_days: int
    low_adherence_pct: int
    low_adherence_window_days: int

    @classmethod
    def from_settings(cls) -> Thresholds:
        """Read at each evaluation, so a changed setting (or a test's override) applies at once."""
        configured: dict[str, int] = getattr(settings, "ALERT_THRESHOLDS", {})

        def value(key: str, default: int) -> int:
            return int(configured.get(key, default))

        return cls(
            burning_min_score=value("persistent_burning_min_score", rules.PERSISTENT_BURNING_MIN_SCORE),
            burning_min_days=value("persistent_burning_min_days", rules.PERSISTENT_BURNING_MIN_DAYS),
            burning_window_days=value("persistent_burning_window_days", rules.PERSISTENT_BURNING_WINDOW_DAYS),
            burning_after_start_days=value(
                "persistent_burning_after_start_days", rules.PERSISTENT_BURNING_AFTER_START_DAYS
            ),
            no_improvement_after_days=value("no_improvement_after_days", rules.NO_IMPROVEMENT_AFTER_DAYS),
            worsening_min_rise=value("worsening_flare_min_rise", rules.WORSENING_FLARE_MIN_RISE),
            worsening_window_days=value("worsening_flare_window_days", rules.WORSENING_FLARE_WINDOW_DAYS),
            low_adherence_pct=value("low_adherence_pct", rules.LOW_ADHERENCE_PCT),
            low_adherence_window_days=value("low_adherence_window_days", rules.LOW_ADHERENCE_WINDOW_DAYS),
        )


@dataclass(frozen=True)
class Finding:
    """What a rule found: enough to open an alert. `evidence` holds plain JSON (strings and numbers)."""

    kind: AlertKind
    severity: AlertSeverity
    summary: str
    evidence: dict[str, Any]
    regimen: Regimen | None = None
    episode_key: str = ""


@dataclass(frozen=True)
class KindHistory:
    """A patient's past alerts of one kind, as far as the episode rules need them."""

    is_open: bool = False
    last_opened_at: datetime.datetime | None = None
    last_resolved_at: datetime.datetime | None = None


@dataclass
class AlertContext:
    """Everything the rules share for one patient at one instant, read once (tracking/alerts/selectors.py)."""

    patient: Patient
    now: datetime.datetime
    clock: PatientClock
    regimens: list[Regimen]
    history: dict[str, KindHistory]
    thresholds: Thresholds
    today: datetime.date = field(init=False)

    def __post_init__(self) -> None:
        self.today = self.clock.local_date(self.now)

    def past(self, kind: AlertKind) -> KindHistory:
        return self.history.get(kind, KindHistory())

    def is_fresh(self, kind: AlertKind, recorded: datetime.datetime) -> bool:
        """Whether a log stored at `recorded` may count toward a new alert of `kind`."""
        resolved = self.past(kind).last_resolved_at
        return resolved is None or recorded > resolved

    def course_start(self, regimen: Regimen) -> datetime.date:
        """When the course this regimen belongs to began: a step-down continues the same course."""
        by_id = {candidate.pk: candidate for candidate in self.regimens}
        first, seen = regimen, {regimen.pk}
        while first.previous_id in by_id and first.previous_id not in seen:
            first = by_id[first.previous_id]
            seen.add(first.pk)
        return first.start_date

    def active_on(self, date: datetime.date) -> list[Regimen]:
        return [regimen for regimen in self.regimens if regimen.is_active_on(date)]


@dataclass(frozen=True)
class Reading:
    """One scored log: when it happened, when the server stored it, and its value."""

    recorded_at: datetime.datetime
    created_at: datetime.datetime
    value: int


def latest_in(
    readings: Iterable[Reading], clock: PatientClock, first: datetime.date, last: datetime.date
) -> Reading | None:
    """The latest reading on the local days `first`..`last`, or None."""
    within = [reading for reading in readings if first <= clock.local_date(reading.recorded_at) <= last]
    return max(within, key=lambda reading: reading.recorded_at, default=None)


# --- Wording -----------------------------------------------------------------------------------------


def iso(date: datetime.date) -> str:
    return date.isoformat()


def short(text: str) -> str:
    """Fit a summary in the column; the evidence keeps every figure."""
    return text if len(text) <= SUMMARY_MAX_LENGTH else text[: SUMMARY_MAX_LENGTH - 1] + "…"


def regimen_name(regimen: Regimen) -> str:
    return f"{regimen.drug} {regimen.strength}%"


def flare_words(score: int) -> str:
    return f"{score} ({rules.FLARE_SEVERITY_LABELS[score]})"


def poem_words(band: str) -> str:
    return band.replace("_", " ")
