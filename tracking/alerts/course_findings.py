"""The rules about a treatment course: persistent burning, no improvement at the review, low adherence.

Pure: each rule takes the context and the readings tracking/alerts/selectors.py gathered for it,
and returns a `Finding` or None. The windows the selectors read are decided here too
(`burning_window`, `no_improvement_candidates`, `improvement_windows`, `adherence_window`).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tracking import rules
from tracking.alerts.findings import (
    ONE_DAY,
    AlertContext,
    Finding,
    Reading,
    flare_words,
    iso,
    latest_in,
    regimen_name,
    short,
)
from tracking.models import AlertKind, AlertSeverity, Phase, Regimen
from tracking.selectors import AdherenceReport

# --- Persistent burning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BurningWindow:
    """The local days persistent burning is judged on, and the course they belong to."""

    regimen: Regimen
    course_start: datetime.date
    window_first: datetime.date
    # The first local day that counts: inside the window and late enough in the course.
    first: datetime.date


@dataclass(frozen=True)
class BurningReadings:
    window: BurningWindow
    # (recorded_at, burning) of the fresh logs at or above the minimum score, from `first` on.
    burning: list[tuple[datetime.datetime, int]]


def burning_window(context: AlertContext) -> BurningWindow | None:
    """The days to judge, or None when no regimen is active today or none of the window counts yet.

    A day counts only when it is more than `burning_after_start_days` after the start of the
    course active today (burning is expected early and usually settles). With several courses
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
    return BurningWindow(regimen=regimen, course_start=course_start, window_first=window_first, first=first)


def persistent_burning(context: AlertContext, readings: BurningReadings) -> Finding | None:
    """Burning at or above the score on enough of the last local days, well after the course began.

    Days are the patient's local days in the window ending today, each counted once at its worst
    burning (see `burning_window` for which days count).
    """
    thresholds = context.thresholds
    window = readings.window
    worst: dict[datetime.date, int] = {}
    for recorded_at, burning in readings.burning:
        day = context.clock.local_date(recorded_at)
        if window.first <= day <= context.today:
            worst[day] = max(worst.get(day, 0), burning)
    if len(worst) < thresholds.burning_min_days:
        return None

    days = sorted(worst)
    return Finding(
        kind=AlertKind.PERSISTENT_BURNING,
        severity=AlertSeverity.MEDIUM,
        summary=short(
            f"Burning of {thresholds.burning_min_score}/10 or more on {len(days)} of the last "
            f"{thresholds.burning_window_days} days ({', '.join(iso(day) for day in days)}), more than "
            f"{thresholds.burning_after_start_days} days after starting {regimen_name(window.regimen)} "
            f"on {iso(window.course_start)}."
        ),
        evidence={
            "burning_by_day": {iso(day): worst[day] for day in days},
            "window": [iso(window.window_first), iso(context.today)],
            "course_start": iso(window.course_start),
            "min_score": thresholds.burning_min_score,
            "min_days": thresholds.burning_min_days,
        },
        regimen=window.regimen,
    )


# --- No improvement ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImprovementWindows:
    """The local days of a regimen's baseline reading and of its current one (which ends today)."""

    baseline_first: datetime.date
    baseline_last: datetime.date
    current_first: datetime.date


@dataclass(frozen=True)
class ImprovementReadings:
    """One candidate regimen's flare severity and POEM readings in its two windows."""

    regimen: Regimen
    windows: ImprovementWindows
    flare_severity: list[Reading]
    poem: list[Reading]


def regimen_episode(regimen: Regimen) -> str:
    return f"regimen:{regimen.pk}"


def no_improvement_candidates(context: AlertContext) -> list[Regimen]:
    """Treatment-phase regimens active today for at least the review period, oldest start first."""
    after = datetime.timedelta(days=context.thresholds.no_improvement_after_days)
    return sorted(
        (
            regimen
            for regimen in context.active_on(context.today)
            if regimen.phase == Phase.TREATMENT and context.today >= regimen.start_date + after
        ),
        key=lambda regimen: regimen.start_date,
    )


def improvement_windows(context: AlertContext, regimen: Regimen) -> ImprovementWindows:
    """Baseline: start - 7 .. start + 7 local days; current: the last 7 local days (rules.py)."""
    baseline_days = datetime.timedelta(days=rules.NO_IMPROVEMENT_BASELINE_DAYS)
    return ImprovementWindows(
        baseline_first=regimen.start_date - baseline_days,
        baseline_last=regimen.start_date + baseline_days,
        current_first=context.today - datetime.timedelta(days=rules.NO_IMPROVEMENT_CURRENT_DAYS - 1),
    )


def no_improvement(context: AlertContext, candidates: Iterable[ImprovementReadings]) -> Finding | None:
    """A treatment regimen active for the review period whose flare severity or POEM is no better than at its start.

    `candidates` are the regimens of `no_improvement_candidates` not judged before (one alert per
    regimen, ever), in that order; the first with a finding is the finding. The baseline is the
    latest reading of the baseline window, the current one the latest of the current window
    (stored after the last resolution of this kind). Flare severity and POEM are compared apart;
    either one with both readings and current >= baseline is a finding.
    """
    for readings in candidates:
        finding = _no_improvement_on(context, readings)
        if finding is not None:
            return finding
    return None


def _no_improvement_on(context: AlertContext, readings: ImprovementReadings) -> Finding | None:
    regimen, windows = readings.regimen, readings.windows
    compared: dict[str, dict[str, Any]] = {}
    for measure, all_readings in (("flare_severity", readings.flare_severity), ("poem", readings.poem)):
        baseline = latest_in(all_readings, context.clock, windows.baseline_first, windows.baseline_last)
        fresh = [r for r in all_readings if context.is_fresh(AlertKind.NO_IMPROVEMENT, r.created_at)]
        current = latest_in(fresh, context.clock, windows.current_first, context.today)
        if baseline is not None and current is not None and current.recorded_at > baseline.recorded_at:
            compared[measure] = {
                "baseline": baseline.value,
                "baseline_date": iso(context.clock.local_date(baseline.recorded_at)),
                "current": current.value,
                "current_date": iso(context.clock.local_date(current.recorded_at)),
                "no_better": current.value >= baseline.value,
            }
    if not any(comparison["no_better"] for comparison in compared.values()):
        return None

    words = []
    if "flare_severity" in compared:
        flare = compared["flare_severity"]
        words.append(
            f"flare severity {flare_words(flare['current'])} now, {flare_words(flare['baseline'])} at the start"
        )
    if "poem" in compared:
        poem = compared["poem"]
        words.append(f"POEM {poem['current']} now, {poem['baseline']} at the start")
    after_days = context.thresholds.no_improvement_after_days
    period = f"{after_days // 7} weeks" if after_days % 7 == 0 else f"{after_days} days"
    return Finding(
        kind=AlertKind.NO_IMPROVEMENT,
        severity=AlertSeverity.HIGH,
        summary=short(
            f"No improvement {period} into {regimen_name(regimen)} treatment started on "
            f"{iso(regimen.start_date)}: {'; '.join(words)}. The label says to re-examine the patient."
        ),
        evidence={
            "regimen_start": iso(regimen.start_date),
            "after_days": context.thresholds.no_improvement_after_days,
            **compared,
        },
        regimen=regimen,
        episode_key=regimen_episode(regimen),
    )


# --- Low adherence -----------------------------------------------------------------------------------


def adherence_window(context: AlertContext) -> tuple[datetime.date, datetime.date] | None:
    """The complete local days ending yesterday to judge, or None when they cannot be judged fairly.

    Judged only when regimens covered every day of the window (a regimen that started, or stopped,
    inside it would make the figure misleading) and the window began after the local day the last
    alert of this kind was resolved (a new episode is a new full window).
    """
    last = context.today - ONE_DAY
    first = context.today - datetime.timedelta(days=context.thresholds.low_adherence_window_days)
    day = first
    while day <= last:
        if not context.active_on(day):
            return None
        day += ONE_DAY
    resolved = context.past(AlertKind.LOW_ADHERENCE).last_resolved_at
    if resolved is not None and first <= context.clock.local_date(resolved):
        return None
    return first, last


def low_adherence(context: AlertContext, report: AdherenceReport) -> Finding | None:
    """Logged doses below the percentage of scheduled ones over the report's window, when some dose was due."""
    thresholds = context.thresholds
    first, last = report.first, report.last
    if report.expected_doses == 0 or report.adherence_pct is None:
        return None
    if report.adherence_pct >= thresholds.low_adherence_pct:
        return None
    regimen = max(context.active_on(last), key=lambda candidate: candidate.start_date)
    return Finding(
        kind=AlertKind.LOW_ADHERENCE,
        severity=AlertSeverity.LOW,
        summary=short(
            f"Logged {report.logged_doses} of {report.expected_doses} scheduled doses "
            f"({report.adherence_pct:g}%) over the {thresholds.low_adherence_window_days} days "
            f"{iso(first)} to {iso(last)}, below {thresholds.low_adherence_pct}%."
        ),
        evidence={
            "first": iso(first),
            "last": iso(last),
            "expected_doses": report.expected_doses,
            "logged_doses": report.logged_doses,
            "adherence_pct": report.adherence_pct,
            "threshold_pct": thresholds.low_adherence_pct,
        },
        regimen=regimen,
    )
