"""Care-team alerts: the rules that read a patient's logs, and the services that open, resolve and digest alerts.

Each rule is a small function from one patient's `AlertContext` to a `Finding` (or None);
`evaluate_patient_alerts` runs them all and opens the findings that are due. Thresholds come from
`settings.ALERT_THRESHOLDS`, whose defaults and sources are in `tracking.rules`.

Episodes, so a concern is raised once and not again on the evidence a clinician has already seen:
- never two open alerts of a kind for a patient (a database constraint; a race loses quietly);
- after an alert of a kind is resolved, a new one needs evidence recorded (stored on the server)
  after that resolution: the logs seen before it are not counted again;
- no improvement at 6 weeks is judged once per regimen, and a concerning skin check raises one
  alert per check (`episode_key`, also a database constraint); a concerning check logged while a
  skin-check alert is open is listed in that alert instead, and one no alert has named (not even
  in such a list) is still new after a resolution.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    prefetch_related_objects,
)
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.clock import PatientClock
from accounts.models import Patient, Role, User
from accounts.selectors import patients_visible_to
from tracking import rules
from tracking.models import (
    Alert,
    AlertDigest,
    AlertKind,
    AlertSeverity,
    Application,
    PerformedBy,
    Phase,
    PoemEntry,
    Regimen,
    SkinCheck,
    Symptom,
)
from tracking.models.logs import PatientLog
from tracking.review import summary_count_open_alerts, summary_refresh
from tracking.selectors import adherence_for, logs_for

logger = logging.getLogger(__name__)

ONE_DAY = datetime.timedelta(days=1)
# Issue #4 defines these windows of the no-improvement rule; they are not settings. The baseline is
# the latest reading within a week either side of the start (patients log in the days around a visit);
# the current reading is the latest of the past week, the recall period of POEM (CLINICAL.md).
NO_IMPROVEMENT_BASELINE_DAYS = 7
NO_IMPROVEMENT_CURRENT_DAYS = 7
# A patient is evaluated by the periodic sweep while a regimen is active or they logged this recently:
# the longest look-back of any rule (worsening flare: 7 days before a reading of the last 7; adherence: 14).
RECENTLY_ACTIVE = datetime.timedelta(days=14)
# A skin-check alert lists at most this many other concerning checks by id.
MAX_LISTED_SKIN_CHECKS = 20
SKIN_CHECK_EPISODE = "skin_check:"
SUMMARY_MAX_LENGTH = Alert._meta.get_field("summary").max_length or 300
DIGEST_FIRST_LOOKBACK = datetime.timedelta(hours=24)
# A digest covers alerts opened up to this long before it runs: an alert's opened_at is set just
# before its row commits, so one opened a moment before the digest may not be visible to it yet.
# The next digest picks it up (its window starts this long before the previous digest, too).
DIGEST_SETTLE = datetime.timedelta(minutes=1)


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
    checks = _unshown_concerning_checks(context, limit=MAX_LISTED_SKIN_CHECKS + 1)
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


def _unshown_concerning_checks(context: AlertContext, *, limit: int) -> list[tuple[uuid.UUID, datetime.datetime, str]]:
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


# --- Evaluation ---------------------------------------------------------------------------------


def _kind_history(patient: Patient) -> dict[str, KindHistory]:
    """Per kind: whether one is open, when the last opened and when the last was resolved (one query)."""
    rows = (
        Alert.objects.filter(patient=patient)
        .order_by()
        .values("kind")
        .annotate(
            open_count=Count("pk", filter=Q(resolved_at__isnull=True)),
            last_opened_at=Max("opened_at"),
            last_resolved_at=Max("resolved_at"),
        )
    )
    return {
        row["kind"]: KindHistory(
            is_open=row["open_count"] > 0,
            last_opened_at=row["last_opened_at"],
            last_resolved_at=row["last_resolved_at"],
        )
        for row in rows
    }


def alert_context(patient: Patient, *, now: datetime.datetime) -> AlertContext:
    """Read what every rule shares: the clock, the regimens and the alert history (at most three queries)."""
    # Prefetched (unless the caller did), so adherence_for's own clock reads no second time.
    prefetch_related_objects([patient], "timezone_changes")
    return AlertContext(
        patient=patient,
        now=now,
        clock=PatientClock.for_patient(patient),
        regimens=list(Regimen.objects.filter(patient=patient)),
        history=_kind_history(patient),
        thresholds=Thresholds.from_settings(),
    )


def evaluate_patient_alerts(patient: Patient, *, now: datetime.datetime | None = None) -> list[Alert]:
    """Run every rule for one patient and open the alerts that are due; return the newly opened ones.

    Safe to run at any time and concurrently (after each new log and from the periodic sweep): a
    kind already open is not evaluated, and a race to open the same episode leaves one alert.
    `now` is also the new alerts' opened_at: leave it None outside tests, so the daily digest
    covers alerts in the order they were written.
    Queries: about a dozen, whatever the number of logs (three to set up, one to three per rule that
    runs, three for adherence, three per alert opened).
    """
    now = now or timezone.now()
    context = alert_context(patient, now=now)
    opened: list[Alert] = []
    for kind, rule in RULES:
        if context.past(kind).is_open:
            if kind == AlertKind.CONCERNING_SKIN_CHECK:
                _list_later_skin_checks(context)
            continue
        finding = rule(context)
        if finding is not None:
            alert = _open(context, finding)
            if alert is not None:
                opened.append(alert)
    return opened


def _open(context: AlertContext, finding: Finding) -> Alert | None:
    """Insert the alert; None when this episode is already open or was raised, or the kind was just resolved."""
    alert = Alert(
        patient=context.patient,
        kind=finding.kind,
        severity=finding.severity,
        regimen=finding.regimen,
        episode_key=finding.episode_key,
        summary=finding.summary,
        evidence=finding.evidence,
        opened_at=context.now,
    )
    # The constraints are the database's to check: checking them here would race anyway.
    alert.full_clean(exclude=["patient", "regimen"], validate_unique=False, validate_constraints=False)
    last_resolved = context.past(finding.kind).last_resolved_at
    try:
        # A savepoint, so a lost race leaves a caller's surrounding transaction usable.
        with transaction.atomic():
            # Race: a clinician may have resolved this kind since the history was read; the evidence
            # was then judged against the older resolution, so leave it to the next evaluation.
            resolved_since = Alert.objects.filter(patient=context.patient, kind=finding.kind, resolved_at__isnull=False)
            if last_resolved is not None:
                resolved_since = resolved_since.filter(resolved_at__gt=last_resolved)
            if resolved_since.exists():
                return None
            alert.save(force_insert=True)
    except IntegrityError:
        # Race: another evaluation (a log's task and the hourly sweep) opened this episode first.
        logger.info("alert %s for patient %s already open or raised", finding.kind, context.patient.pk)
        return None
    logger.info("opened alert %s (%s) for patient %s", alert.pk, finding.kind, context.patient.pk)
    return alert


def _list_later_skin_checks(context: AlertContext) -> None:
    """Add concerning checks that no alert names yet to the open skin-check alert's evidence.

    They open no alert of their own while it is open (one open per kind); listed here, the
    clinician sees them before resolving it.
    """
    alert = (
        Alert.objects.filter(patient=context.patient, kind=AlertKind.CONCERNING_SKIN_CHECK, resolved_at__isnull=True)
        .only("pk", "evidence")
        .first()
    )
    if alert is None:
        return
    listed: list[str] = list(alert.evidence.get("other_skin_check_ids", []))
    room = MAX_LISTED_SKIN_CHECKS - len(listed)
    if room <= 0:
        return  # the rest wait for the next alert, after this one is resolved
    new = [str(check_id) for check_id, _, _ in _unshown_concerning_checks(context, limit=room)]
    if not new:
        return
    evidence = {**alert.evidence, "other_skin_check_ids": [*listed, *new]}
    # Only while still open. Race: if it was resolved a moment ago the checks stay unnamed, and
    # the next evaluation opens an alert for them.
    Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(evidence=evidence)


def patients_due_for_evaluation(*, now: datetime.datetime) -> QuerySet[Patient]:
    """Patients with a regimen active around today or a log stored in the last RECENTLY_ACTIVE.

    "Today" is widened by a day each side of the UTC date, which covers every zone's local today.
    """
    utc_today = now.date()
    active_regimen = Regimen.objects.filter(patient=OuterRef("pk"), start_date__lte=utc_today + ONE_DAY).filter(
        Q(end_date__isnull=True) | Q(end_date__gte=utc_today - ONE_DAY)
    )
    since = now - RECENTLY_ACTIVE
    recent_logs = Q(Exists(active_regimen))
    for model in (Symptom, PoemEntry, SkinCheck, Application):
        recent_logs |= Q(Exists(model.objects.filter(patient=OuterRef("pk"), created_at__gte=since)))
    return Patient.objects.filter(recent_logs).order_by("pk")


def evaluate_all_alerts(*, now: datetime.datetime | None = None, chunk_size: int = 200) -> int:
    """Evaluate every patient due for it (the periodic sweep); return the number of alerts opened.

    Patients are read in chunks with their zone history. One patient's failure is logged (by id)
    and the sweep goes on: it must not leave everyone else unevaluated.
    """
    opened = 0
    patients = patients_due_for_evaluation(now=now or timezone.now()).prefetch_related("timezone_changes")
    for patient in patients.iterator(chunk_size=chunk_size):
        try:
            # Without an explicit `now`, each patient is judged at its own moment: a sweep takes
            # minutes, and an alert's opened_at must be when it was written for the digest to see it.
            opened += len(evaluate_patient_alerts(patient, now=now))
        except Exception:
            logger.exception("alert evaluation failed for patient %s", patient.pk)
        try:
            # Adherence falls as doses come due unlogged: the patient list's figure follows hourly.
            summary_refresh(patient, now=now)
        except Exception:
            logger.exception("summary refresh failed for patient %s", patient.pk)
    return opened


# --- Resolving --------------------------------------------------------------------------------------


RESOLUTION_FIELDS = ("resolved_at", "resolved_by", "resolution_note")
RESOLUTION_UNCHANGED = [field.name for field in Alert._meta.fields if field.name not in RESOLUTION_FIELDS]


@transaction.atomic
def alert_resolve(*, alert: Alert, resolved_by: User, note: str) -> Alert:
    """Resolve an open alert with a note saying what was done; returns the resolved alert.

    Raises ValidationError when the note is blank ("resolution_note") or the alert is already
    resolved. The row is locked, so two clinicians resolving at once cannot both succeed.
    """
    note = (note or "").strip()
    if not note:
        raise ValidationError(
            {"resolution_note": "Write a short note on what was done or decided (for example, 'reviewed in clinic')."}
        )
    locked = Alert.objects.select_for_update().get(pk=alert.pk)
    if locked.resolved_at is not None:
        raise ValidationError(
            f"This alert was already resolved on {locked.resolved_at:%Y-%m-%d %H:%M} UTC; it cannot be resolved again."
        )
    locked.resolved_at = timezone.now()
    locked.resolved_by = resolved_by
    locked.resolution_note = note
    # Validate what this sets; the rest was validated when the alert was opened.
    locked.full_clean(exclude=RESOLUTION_UNCHANGED, validate_unique=False, validate_constraints=False)
    locked.save(update_fields=RESOLUTION_FIELDS)
    summary_count_open_alerts(locked.patient_id)
    return locked


# --- Daily digest ------------------------------------------------------------------------------------


def _new_alerts_for(clinician: User, *, since: datetime.datetime, until: datetime.datetime) -> QuerySet[Alert]:
    """Alerts opened in (since, until] for patients on this clinician's own care teams."""
    # Through the one access selector, narrowed to care-team membership: a dermatologist's digest
    # is about the patients they treat, not (say) a child of theirs who is a patient too.
    patients = patients_visible_to(clinician).filter(care_team_memberships__clinician=clinician)
    return (
        Alert.objects.filter(patient__in=patients, opened_at__gt=since, opened_at__lte=until)
        .select_related("patient")
        .order_by("-severity", "opened_at")
    )


def send_alert_digests(*, now: datetime.datetime | None = None) -> int:
    """Email each active dermatologist the alerts opened for their care-team patients since their last digest.

    The first digest covers the last 24 hours; each window ends DIGEST_SETTLE before the run, and the
    next starts there. Nothing is sent, and no digest recorded, when nothing is new. Returns the
    number of emails sent. A digest is recorded before its email goes out (under a lock on the
    clinician, so two runs at once cannot both send) and removed again if sending fails, so the
    next run covers those alerts.
    """
    now = now or timezone.now()
    last_digest = AlertDigest.objects.filter(clinician=OuterRef("pk")).order_by("-sent_at").values("sent_at")[:1]
    since = Coalesce(Subquery(last_digest), Value(now - DIGEST_FIRST_LOOKBACK), output_field=DateTimeField())
    # A cheap first pass: only clinicians with something new are locked and read again.
    with_news = Alert.objects.filter(
        patient__care_team_memberships__clinician=OuterRef("pk"),
        opened_at__gt=OuterRef("since") - Value(DIGEST_SETTLE),
        opened_at__lte=now - DIGEST_SETTLE,
    )
    dermatologists = (
        User.objects.filter(role=Role.DERMATOLOGIST, is_active=True)
        .annotate(since=since)
        .filter(Exists(with_news))
        .order_by("pk")
    )
    sent = 0
    for dermatologist in dermatologists:
        claimed = _claim_digest(dermatologist, now=now)
        if claimed is None:
            continue
        digest, alerts = claimed
        try:
            _send_digest(dermatologist, alerts)
        except Exception:
            # Undo the claim, so the next run covers these alerts; the clinician id only, never names.
            AlertDigest.objects.filter(pk=digest.pk).delete()
            logger.exception("alert digest to clinician %s failed", dermatologist.pk)
            continue
        sent += 1
    return sent


@transaction.atomic
def _claim_digest(dermatologist: User, *, now: datetime.datetime) -> tuple[AlertDigest, list[Alert]] | None:
    """Record the digest of what is new for this clinician, or None when another run already covered it."""
    # Race: two digest runs (a redelivered beat task) serialise here; the second sees the first's digest.
    User.objects.select_for_update().filter(pk=dermatologist.pk).values_list("pk", flat=True).first()
    previous = AlertDigest.objects.filter(clinician=dermatologist).aggregate(latest=Max("sent_at"))["latest"]
    since = previous or now - DIGEST_FIRST_LOOKBACK
    alerts = list(_new_alerts_for(dermatologist, since=since - DIGEST_SETTLE, until=now - DIGEST_SETTLE))
    if not alerts:
        return None
    digest = AlertDigest.objects.create(clinician=dermatologist, sent_at=now, alert_count=len(alerts))
    return digest, alerts


def _send_digest(dermatologist: User, alerts: list[Alert]) -> None:
    site = settings.SITE_URL.rstrip("/")
    count = len(alerts)
    context = {
        "clinician": dermatologist,
        "count": count,
        "admin_url": f"{site}/admin/",
        "alerts_url": site + reverse("admin:tracking_alert_changelist"),
        "alerts": [
            {
                "patient": str(alert.patient),
                "kind": alert.get_kind_display(),
                "severity": alert.get_severity_display(),
                "summary": alert.summary,
                "opened_at": alert.opened_at,
                "resolved": not alert.is_open,
                "url": site + reverse("admin:tracking_alert_change", args=[alert.pk]),
            }
            for alert in alerts
        ],
    }
    email = EmailMultiAlternatives(
        # The subject travels in the clear and shows on lock screens: no patient detail in it.
        subject=f"{count} new alert{'' if count == 1 else 's'} for your patients",
        body=render_to_string("tracking/email/alert_digest.txt", context),
        to=[dermatologist.email],
    )
    email.attach_alternative(render_to_string("tracking/email/alert_digest.html", context), "text/html")
    email.send()
