"""Care-team alert rules: each reads one patient's `AlertContext` and returns a `Finding` (or None).

Thresholds come from `settings.ALERT_THRESHOLDS`, whose defaults and sources are in `tracking.rules`.
The rules read the patient's logs through the context and `tracking.selectors`; opening, resolving
and digesting alerts is tracking/alerts/services.py's.
"""

from __future__ import annotations

import contextlib
import datetime
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.clock import PatientClock
from accounts.models import Patient
from tracking import rules
from tracking.models import (
    Alert,
    AlertKind,
    AlertSeverity,
    PerformedBy,
    Phase,
    PoemEntry,
    Regimen,
    SkinCheck,
    Symptom,
)
from tracking.models.logs import PatientLog
from tracking.selectors import adherence_for, logs_for

ONE_DAY = datetime.timedelta(days=1)
# Issue #4 defines these windows of the no-improvement rule; they are not settings. The baseline is
# the latest reading within a week either side of the start (patients log in the days around a visit);
# the current reading is the latest of the past week, the recall period of POEM (CLINICAL.md).
NO_IMPROVEMENT_BASELINE_DAYS = 7
NO_IMPROVEMENT_CURRENT_DAYS = 7
# A skin-check alert lists at most this many other concerning checks by id.
MAX_LISTED_SKIN_CHECKS = 20
SKIN_CHECK_EPISODE = "skin_check:"
SUMMARY_MAX_LENGTH = Alert._meta.get_field("summary").max_length or 300


# --- Thresholds and findings ---------------------------------------------------------------------


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
    """Everything the rules share for one patient at one instant, read once."""

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

    def fresh(self, logs: QuerySet, kind: AlertKind) -> QuerySet:
        """Only the logs stored after the last resolution of `kind`: what the clinician has not seen."""
        resolved = self.past(kind).last_resolved_at
        return logs if resolved is None else logs.filter(created_at__gt=resolved)

    def within_days(self, logs: QuerySet, model: type[PatientLog], first: datetime.date) -> QuerySet:
        """Logs from local date `first` to today, widened by a day each side (callers keep local dates)."""
        start, end = self.clock.day_bounds(first, self.today)
        return logs.filter(**{f"{model.EVENT_TIME}__gte": start, f"{model.EVENT_TIME}__lt": end})

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


def _iso(date: datetime.date) -> str:
    return date.isoformat()


def _short(text: str) -> str:
    """Fit a summary in the column; the evidence keeps every figure."""
    return text if len(text) <= SUMMARY_MAX_LENGTH else text[: SUMMARY_MAX_LENGTH - 1] + "…"


def _regimen_name(regimen: Regimen) -> str:
    return f"{regimen.drug} {regimen.strength}%"


def _flare_words(score: int) -> str:
    return f"{score} ({rules.FLARE_SEVERITY_LABELS[score]})"


def _poem_words(band: str) -> str:
    return band.replace("_", " ")


# --- Rules -----------------------------------------------------------------------------------------


def persistent_burning(context: AlertContext) -> Finding | None:
    """Burning at or above the score on enough of the last local days, well after the course began.

    Days are the patient's local days in the window ending today, each counted once at its worst
    burning; a day counts only when it is more than `burning_after_start_days` after the start of
    the course active today (burning is expected early and usually settles). With several courses
    active, the latest start is used: burning may come from the one just begun.
    """
    thresholds = context.thresholds
    active = context.active_on(context.today)
    if not active:
        return None
    regimen = max(active, key=context.course_start)
    course_start = context.course_start(regimen)
    window_first = context.today - datetime.timedelta(days=thresholds.burning_window_days - 1)
    counts_from = course_start + datetime.timedelta(days=thresholds.burning_after_start_days + 1)
    first = max(window_first, counts_from)
    if first > context.today:
        return None

    logs = logs_for(Symptom, context.patient).filter(burning__gte=thresholds.burning_min_score)
    logs = context.within_days(context.fresh(logs, AlertKind.PERSISTENT_BURNING), Symptom, first)
    worst: dict[datetime.date, int] = {}
    for recorded_at, burning in logs.values_list("recorded_at", "burning"):
        day = context.clock.local_date(recorded_at)
        if first <= day <= context.today:
            worst[day] = max(worst.get(day, 0), burning)
    if len(worst) < thresholds.burning_min_days:
        return None

    days = sorted(worst)
    return Finding(
        kind=AlertKind.PERSISTENT_BURNING,
        severity=AlertSeverity.MEDIUM,
        summary=_short(
            f"Burning of {thresholds.burning_min_score}/10 or more on {len(days)} of the last "
            f"{thresholds.burning_window_days} days ({', '.join(_iso(day) for day in days)}), more than "
            f"{thresholds.burning_after_start_days} days after starting {_regimen_name(regimen)} "
            f"on {_iso(course_start)}."
        ),
        evidence={
            "burning_by_day": {_iso(day): worst[day] for day in days},
            "window": [_iso(window_first), _iso(context.today)],
            "course_start": _iso(course_start),
            "min_score": thresholds.burning_min_score,
            "min_days": thresholds.burning_min_days,
        },
        regimen=regimen,
    )


@dataclass(frozen=True)
class _Reading:
    recorded_at: datetime.datetime
    created_at: datetime.datetime
    value: int


def _latest_in(
    readings: Iterable[_Reading], clock: PatientClock, first: datetime.date, last: datetime.date
) -> _Reading | None:
    within = [reading for reading in readings if first <= clock.local_date(reading.recorded_at) <= last]
    return max(within, key=lambda reading: reading.recorded_at, default=None)


def no_improvement(context: AlertContext) -> Finding | None:
    """A treatment regimen active for the review period whose flare severity or POEM is no better than at its start.

    For each treatment-phase regimen active today with today >= start + `no_improvement_after_days`,
    and not judged before (one alert per regimen, ever): the baseline is the latest reading in the
    local days start - 7 .. start + 7, the current one the latest of the last 7 local days (stored
    after the last resolution of this kind). Flare severity and POEM are compared apart; either one
    with both readings and current >= baseline is a finding.
    """
    after = datetime.timedelta(days=context.thresholds.no_improvement_after_days)
    candidates = sorted(
        (
            regimen
            for regimen in context.active_on(context.today)
            if regimen.phase == Phase.TREATMENT and context.today >= regimen.start_date + after
        ),
        key=lambda regimen: regimen.start_date,
    )
    if not candidates:
        return None
    judged = set(
        Alert.objects.filter(
            patient=context.patient,
            kind=AlertKind.NO_IMPROVEMENT,
            episode_key__in=[_regimen_episode(regimen) for regimen in candidates],
        ).values_list("episode_key", flat=True)
    )
    for regimen in candidates:
        if _regimen_episode(regimen) not in judged:
            finding = _no_improvement_on(context, regimen)
            if finding is not None:
                return finding
    return None


def _regimen_episode(regimen: Regimen) -> str:
    return f"regimen:{regimen.pk}"


def _no_improvement_on(context: AlertContext, regimen: Regimen) -> Finding | None:
    baseline_days = datetime.timedelta(days=NO_IMPROVEMENT_BASELINE_DAYS)
    baseline_first, baseline_last = regimen.start_date - baseline_days, regimen.start_date + baseline_days
    current_first = context.today - datetime.timedelta(days=NO_IMPROVEMENT_CURRENT_DAYS - 1)

    baseline_start, baseline_end = context.clock.day_bounds(baseline_first, baseline_last)
    current_start, current_end = context.clock.day_bounds(current_first, context.today)

    def readings(model: type[PatientLog], field_name: str) -> list[_Reading]:
        # One read per measure, of the two windows only (not the weeks between them).
        in_windows = Q(recorded_at__gte=baseline_start, recorded_at__lt=baseline_end) | Q(
            recorded_at__gte=current_start, recorded_at__lt=current_end
        )
        rows = logs_for(model, context.patient).filter(in_windows, **{f"{field_name}__isnull": False})
        return [
            _Reading(recorded_at, created_at, value)
            for recorded_at, created_at, value in rows.values_list("recorded_at", "created_at", field_name)
        ]

    compared: dict[str, dict[str, Any]] = {}
    for measure, model, field_name in (("flare_severity", Symptom, "flare_severity"), ("poem", PoemEntry, "score")):
        all_readings = readings(model, field_name)
        baseline = _latest_in(all_readings, context.clock, baseline_first, baseline_last)
        fresh = [r for r in all_readings if context.is_fresh(AlertKind.NO_IMPROVEMENT, r.created_at)]
        current = _latest_in(fresh, context.clock, current_first, context.today)
        if baseline is not None and current is not None and current.recorded_at > baseline.recorded_at:
            compared[measure] = {
                "baseline": baseline.value,
                "baseline_date": _iso(context.clock.local_date(baseline.recorded_at)),
                "current": current.value,
                "current_date": _iso(context.clock.local_date(current.recorded_at)),
                "no_better": current.value >= baseline.value,
            }
    if not any(comparison["no_better"] for comparison in compared.values()):
        return None

    words = []
    if "flare_severity" in compared:
        flare = compared["flare_severity"]
        words.append(
            f"flare severity {_flare_words(flare['current'])} now, {_flare_words(flare['baseline'])} at the start"
        )
    if "poem" in compared:
        poem = compared["poem"]
        words.append(f"POEM {poem['current']} now, {poem['baseline']} at the start")
    after_days = context.thresholds.no_improvement_after_days
    period = f"{after_days // 7} weeks" if after_days % 7 == 0 else f"{after_days} days"
    return Finding(
        kind=AlertKind.NO_IMPROVEMENT,
        severity=AlertSeverity.HIGH,
        summary=_short(
            f"No improvement {period} into {_regimen_name(regimen)} treatment started on "
            f"{_iso(regimen.start_date)}: {'; '.join(words)}. The label says to re-examine the patient."
        ),
        evidence={
            "regimen_start": _iso(regimen.start_date),
            "after_days": context.thresholds.no_improvement_after_days,
            **compared,
        },
        regimen=regimen,
        episode_key=_regimen_episode(regimen),
    )


def worsening_flare(context: AlertContext) -> Finding | None:
    """Flare severity up by the minimum rise within the window, or the POEM band up.

    - Flare severity: a reading of the last `worsening_window_days` local days, stored after the last
      resolution of this kind, at least `worsening_min_rise` above the lowest reading of the
      `worsening_window_days` (as 24-hour days) before it. Readings stored before the last alert of
      this kind opened are not a reference: the rise from them was raised already.
    - POEM: the latest scored POEM, in the window and stored after the last resolution, in a higher
      band than the POEM before it.
    """
    thresholds = context.thresholds
    window = datetime.timedelta(days=thresholds.worsening_window_days)
    first = context.today - datetime.timedelta(days=thresholds.worsening_window_days - 1)
    evidence: dict[str, Any] = {}
    words: list[str] = []

    rise = _flare_rise(context, first, window)
    if rise is not None:
        lowest, risen = rise
        lowest_date, risen_date = (context.clock.local_date(r.recorded_at) for r in (lowest, risen))
        evidence["flare_severity"] = {
            "from": lowest.value,
            "from_date": _iso(lowest_date),
            "to": risen.value,
            "to_date": _iso(risen_date),
        }
        words.append(
            f"Flare severity rose from {_flare_words(lowest.value)} on {_iso(lowest_date)} "
            f"to {_flare_words(risen.value)} on {_iso(risen_date)}"
        )

    latest_two = list(
        logs_for(PoemEntry, context.patient)
        .filter(score__isnull=False)
        .exclude(band="")
        .order_by("-recorded_at")
        .values_list("recorded_at", "created_at", "score", "band")[:2]
    )
    if len(latest_two) == 2:
        (latest_at, latest_created, latest_score, latest_band), (previous_at, _, previous_score, previous_band) = (
            latest_two
        )
        latest_date = context.clock.local_date(latest_at)
        if (
            first <= latest_date <= context.today
            and context.is_fresh(AlertKind.WORSENING_FLARE, latest_created)
            and rules.poem_band_rank(latest_band) > rules.poem_band_rank(previous_band)
        ):
            evidence["poem"] = {
                "from": previous_score,
                "from_band": previous_band,
                "from_date": _iso(context.clock.local_date(previous_at)),
                "to": latest_score,
                "to_band": latest_band,
                "to_date": _iso(latest_date),
            }
            words.append(
                f"POEM went from {previous_score} ({_poem_words(previous_band)}) to {latest_score} "
                f"({_poem_words(latest_band)}) on {_iso(latest_date)}"
            )

    if not evidence:
        return None
    return Finding(
        kind=AlertKind.WORSENING_FLARE,
        severity=AlertSeverity.HIGH,
        summary=_short("; ".join(words) + "."),
        evidence=evidence,
    )


def _flare_rise(
    context: AlertContext, first: datetime.date, window: datetime.timedelta
) -> tuple[_Reading, _Reading] | None:
    """The newest qualifying (lowest reference, risen reading) pair, or None."""
    past = context.past(AlertKind.WORSENING_FLARE)
    start, end = context.clock.day_bounds(first, context.today)
    rows = (
        logs_for(Symptom, context.patient)
        .filter(flare_severity__isnull=False, recorded_at__gte=start - window, recorded_at__lt=end)
        .order_by("recorded_at")
        .values_list("recorded_at", "created_at", "flare_severity")
    )
    readings = [_Reading(recorded_at, created_at, value) for recorded_at, created_at, value in rows]
    references = [
        reading for reading in readings if past.last_opened_at is None or reading.created_at > past.last_opened_at
    ]
    for risen in reversed(readings):
        if not first <= context.clock.local_date(risen.recorded_at) <= context.today:
            continue
        if not context.is_fresh(AlertKind.WORSENING_FLARE, risen.created_at):
            continue
        before = [r for r in references if risen.recorded_at - window <= r.recorded_at < risen.recorded_at]
        lowest = min(before, key=lambda reading: reading.value, default=None)
        if lowest is not None and risen.value - lowest.value >= context.thresholds.worsening_min_rise:
            return lowest, risen
    return None


def low_adherence(context: AlertContext) -> Finding | None:
    """Logged doses below the percentage of scheduled ones over the complete local days ending yesterday.

    Judged only when regimens covered every day of the window (a regimen that started, or stopped,
    inside it would make the figure misleading), some dose was due, and the window began after the
    local day the last alert of this kind was resolved (a new episode is a new full window).
    """
    thresholds = context.thresholds
    last = context.today - ONE_DAY
    first = context.today - datetime.timedelta(days=thresholds.low_adherence_window_days)
    day = first
    while day <= last:
        if not context.active_on(day):
            return None
        day += ONE_DAY
    resolved = context.past(AlertKind.LOW_ADHERENCE).last_resolved_at
    if resolved is not None and first <= context.clock.local_date(resolved):
        return None

    report = adherence_for(context.patient, first=first, last=last, now=context.now)
    if report.expected_doses == 0 or report.adherence_pct is None:
        return None
    if report.adherence_pct >= thresholds.low_adherence_pct:
        return None
    regimen = max(context.active_on(last), key=lambda candidate: candidate.start_date)
    return Finding(
        kind=AlertKind.LOW_ADHERENCE,
        severity=AlertSeverity.LOW,
        summary=_short(
            f"Logged {report.logged_doses} of {report.expected_doses} scheduled doses "
            f"({report.adherence_pct:g}%) over the {thresholds.low_adherence_window_days} days "
            f"{_iso(first)} to {_iso(last)}, below {thresholds.low_adherence_pct}%."
        ),
        evidence={
            "first": _iso(first),
            "last": _iso(last),
            "expected_doses": report.expected_doses,
            "logged_doses": report.logged_doses,
            "adherence_pct": report.adherence_pct,
            "threshold_pct": thresholds.low_adherence_pct,
        },
        regimen=regimen,
    )


def concerning_skin_check(context: AlertContext) -> Finding | None:
    """The newest skin check marked concerning that no skin-check alert has shown the care team yet.

    Other such checks are listed in its evidence; they open no alerts of their own. A check counts
    as shown once an alert is about it or lists it: a check stored after the last resolution is
    new by definition, and so is one stored while an alert was open but resolved before an
    evaluation could list it (the clinician never saw it).
    """
    checks = unshown_concerning_checks(context, limit=MAX_LISTED_SKIN_CHECKS + 1)
    if not checks:
        return None
    (check_id, performed_at, performed_by), others = checks[0], checks[1:]
    performed_on = context.clock.local_date(performed_at)
    who = "A clinician" if performed_by == PerformedBy.CLINICIAN else "The patient or a caregiver"
    more = f" ({len(others)} earlier concerning check(s) not reviewed yet.)" if others else ""
    return Finding(
        kind=AlertKind.CONCERNING_SKIN_CHECK,
        severity=AlertSeverity.HIGH,
        summary=_short(f"{who} marked the skin check of {_iso(performed_on)} as concerning.{more}"),
        evidence={
            "skin_check_id": str(check_id),
            "performed_on": _iso(performed_on),
            "performed_by": performed_by,
            "other_skin_check_ids": [str(other_id) for other_id, _, _ in others],
        },
        episode_key=f"{SKIN_CHECK_EPISODE}{check_id}",
    )


def unshown_concerning_checks(context: AlertContext, *, limit: int) -> list[tuple[uuid.UUID, datetime.datetime, str]]:
    """(id, performed_at, performed_by) of concerning checks no skin-check alert names, newest first.

    One query, and one more to read what the patient's skin-check alerts name when there are any.
    """
    named: list[tuple[str, Any]] = []
    if context.past(AlertKind.CONCERNING_SKIN_CHECK).last_opened_at is not None:  # none yet: nothing named
        named = list(
            Alert.objects.filter(patient=context.patient, kind=AlertKind.CONCERNING_SKIN_CHECK).values_list(
                "episode_key", "evidence"
            )
        )
    shown: set[uuid.UUID] = set()
    for episode_key, evidence in named:
        for check_id in [
            episode_key.removeprefix(SKIN_CHECK_EPISODE),
            *(evidence or {}).get("other_skin_check_ids", []),
        ]:
            with contextlib.suppress(ValueError):
                shown.add(uuid.UUID(check_id))
    return list(
        logs_for(SkinCheck, context.patient)
        .filter(concerning=True)
        .exclude(pk__in=shown)
        .order_by("-performed_at")
        .values_list("pk", "performed_at", "performed_by")[:limit]
    )


Rule = Callable[[AlertContext], Finding | None]
RULES: tuple[tuple[AlertKind, Rule], ...] = (
    (AlertKind.CONCERNING_SKIN_CHECK, concerning_skin_check),
    (AlertKind.WORSENING_FLARE, worsening_flare),
    (AlertKind.NO_IMPROVEMENT, no_improvement),
    (AlertKind.PERSISTENT_BURNING, persistent_burning),
    (AlertKind.LOW_ADHERENCE, low_adherence),
)
