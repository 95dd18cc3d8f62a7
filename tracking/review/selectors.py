"""What a dermatologist reviews: the review page, and the figures the patient list shows.

Callers have decided, through accounts.selectors.patients_visible_to, that the viewer may see the
patient. Everything here reads live; the list's `PatientSummary` rows are kept by
tracking/review/services.py, and the CSV export is tracking/review/exports.py.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.clock import PatientClock
from accounts.models import Patient, User
from tracking import adherence, rules
from tracking.models import (
    Alert,
    Application,
    Occurrence,
    PatientSummary,
    PoemEntry,
    Regimen,
    SkinCheck,
    Symptom,
)
from tracking.selectors import adherence_days, adherence_schedule, attach_usage, regimens_for, suggested_ftu_for

SUMMARY_DAYS = 14
REVIEW_WEEKS = 12
TIMELINE_DAYS_DEFAULT = 28
TIMELINE_DAYS_MAX = REVIEW_WEEKS * 7


def current_regimen(regimens: Sequence[Regimen], today: datetime.date) -> Regimen | None:
    """The regimen active today; of two (a step-down's first day), the one that started last."""
    active = [regimen for regimen in regimens if regimen.is_active_on(today)]
    return max(active, key=lambda regimen: (regimen.start_date, regimen.created_at), default=None)


def highest_per_day(
    scores: Sequence[tuple[datetime.datetime, int | None]],
    clock: PatientClock,
    first: datetime.date,
    last: datetime.date,
) -> list[int | None]:
    """The highest score of each local date from `first` to `last`; None for a date without one."""
    highest: dict[datetime.date, int] = {}
    for moment, score in scores:
        if score is None:
            continue
        date = clock.local_date(moment)
        highest[date] = max(score, highest.get(date, score))
    return [highest.get(date) for date in adherence.dates_between(first, last)]


def burning_trend(burning_by_day: Sequence[int | None]) -> str:
    """ "rising", "falling" or "steady": the mean of the last 7 days' scores against the 7 before.

    An empty string when either week has no score. A change under one NRS point is steady.
    """
    half = len(burning_by_day) // 2
    earlier = [score for score in burning_by_day[:half] if score is not None]
    later = [score for score in burning_by_day[half:] if score is not None]
    if not earlier or not later:
        return ""
    change = sum(later) / len(later) - sum(earlier) / len(earlier)
    if change >= 1:
        return "rising"
    if change <= -1:
        return "falling"
    return "steady"


# --- The patient list ---------------------------------------------------------------------------
# The list reads each patient's `PatientSummary` (kept by tracking/review/services.py); these narrow
# a queryset of patients the viewer may see (accounts.selectors.patients_visible_to) by it.


def adherence_cuts() -> tuple[int, int]:
    """The list's two adherence bands: below the care team's alert threshold (settings.ALERT_THRESHOLDS,
    where a deployment may change it), and below the usual "adherent" cut-off (rules.ADHERENT_PCT)."""
    return settings.ALERT_THRESHOLDS["low_adherence_pct"], rules.ADHERENT_PCT


def adherence_level(pct: float) -> str:
    """ "low" below the alert threshold, "mid" below the adherent cut-off, else ""."""
    low, adherent = adherence_cuts()
    return "low" if pct < low else "mid" if pct < adherent else ""


def summary_of(patient: Patient) -> PatientSummary | None:
    """The patient's list summary, as selected with them; None until the first refresh."""
    try:
        return patient.summary
    except PatientSummary.DoesNotExist:
        return None  # registered since the last refresh: the hourly sweep summarises them


def with_adherence_below(patients: QuerySet[Patient], pct: int) -> QuerySet[Patient]:
    return patients.filter(summary__adherence_pct__lt=pct)


def with_no_dose_due(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    return patients.filter(summary__adherence_pct__isnull=True)


def with_open_alerts(patients: QuerySet[Patient], *, any_open: bool) -> QuerySet[Patient]:
    has_open = Q(summary__open_alerts__gt=0)
    return patients.filter(has_open) if any_open else patients.exclude(has_open)


def on_current_regimen(
    patients: QuerySet[Patient], *, drug: str | None = None, strength: str | None = None, phase: str | None = None
) -> QuerySet[Patient]:
    """Patients whose current regimen (as of the last summary) has the given drug, strength and phase."""
    current = {"drug": drug, "strength": strength, "phase": phase}
    asked = {f"summary__current_regimen__{name}": value for name, value in current.items() if value is not None}
    return patients.filter(**asked)


# --- The review page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One line of the timeline."""

    at: datetime.datetime
    local: datetime.datetime
    kind: str
    text: str
    flag: bool = False  # something to look at: burning >= 4, a concerning check, an open alert


@dataclass(frozen=True)
class AreaUse:
    area: str
    applications: int
    measured_ftu: Decimal
    measured_applications: int
    table_ftu: Decimal | None


@dataclass(frozen=True)
class Review:
    patient: Patient
    clock: PatientClock
    now: datetime.datetime
    today: datetime.date
    first: datetime.date
    age_years: int
    care_team: list[User]
    regimens: list[Regimen]
    current_regimen: Regimen | None
    days: list[adherence.Day]
    adherence_14d: float | None
    adherence_12w: float | None
    symptoms: list[Symptom]
    poems: list[PoemEntry]
    areas: list[AreaUse]
    open_alerts: list[Alert]
    timeline: list[Event]
    timeline_days: int

    @property
    def start(self) -> datetime.datetime:
        return self.clock.at(self.first, datetime.time())

    @property
    def poem_trend(self) -> list[tuple[datetime.date, int]]:
        return [(self.clock.local_date(poem.recorded_at), poem.score) for poem in self.poems if poem.score is not None]


def patient_review(
    patient: Patient, *, now: datetime.datetime | None = None, timeline_days: int = TIMELINE_DAYS_DEFAULT
) -> Review:
    """Everything the review page and the visit report show, over the last 12 weeks.

    A fixed number of queries, whatever the number of logs (about a dozen).
    """
    now = now or timezone.now()
    clock = PatientClock.for_patient(patient)
    today = clock.local_date(now)
    first = today - datetime.timedelta(days=REVIEW_WEEKS * 7 - 1)
    since = clock.at(first, datetime.time())  # the start of the first local day: charts and counts agree
    regimens = attach_usage(list(regimens_for(patient).order_by("-start_date", "-created_at")), patient)
    days = adherence_days(patient, clock, [adherence_schedule(regimen) for regimen in regimens], first, today, now)
    kept = Q(patient=patient, deleted_at__isnull=True)
    applications = list(Application.objects.filter(kept, applied_at__gte=since).order_by("applied_at"))
    symptoms = list(Symptom.objects.filter(kept, recorded_at__gte=since).order_by("recorded_at"))
    poems = list(PoemEntry.objects.filter(kept, recorded_at__gte=since).order_by("recorded_at"))
    checks = list(SkinCheck.objects.filter(kept, performed_at__gte=since).order_by("performed_at"))
    alerts = list(
        Alert.objects.filter(
            Q(opened_at__gte=since) | Q(resolved_at__isnull=True) | Q(resolved_at__gte=since), patient=patient
        ).select_related("resolved_by")
    )
    timeline_days = max(1, min(timeline_days, TIMELINE_DAYS_MAX))
    timeline_since = clock.at(today - datetime.timedelta(days=timeline_days - 1), datetime.time())
    occurrences = list(
        Occurrence.objects.filter(patient=patient, due_at__gte=timeline_since, due_at__lte=now)
        .exclude(state__in=("scheduled", "pending"))
        .order_by("due_at")
    )
    return Review(
        patient=patient,
        clock=clock,
        now=now,
        today=today,
        first=first,
        age_years=patient.age_on(today),
        care_team=list(patient.care_team.order_by("last_name", "first_name")),
        regimens=regimens,
        current_regimen=current_regimen(regimens, today),
        days=days,
        adherence_14d=adherence.adherence_pct(days[-SUMMARY_DAYS:]),
        adherence_12w=adherence.adherence_pct(days),
        symptoms=symptoms,
        poems=poems,
        areas=area_use(applications, patient, today),
        open_alerts=sorted(
            (alert for alert in alerts if alert.is_open),
            key=lambda alert: (-alert.severity, -alert.opened_at.timestamp()),
        ),
        timeline=list(
            timeline_events(
                clock,
                since=timeline_since,
                applications=applications,
                symptoms=symptoms,
                poems=poems,
                checks=checks,
                occurrences=occurrences,
                alerts=alerts,
            )
        ),
        timeline_days=timeline_days,
    )


def area_use(applications: Sequence[Application], patient: Patient, today: datetime.date) -> list[AreaUse]:
    """Per treated area: applications, the FTU logged with them, and the FTU table's amount for that area.

    An application to several areas logs one amount for all of them, so its FTU is not split: the
    measured figure of an area is the mean amount of the applications that included it.
    """
    counts: dict[str, int] = defaultdict(int)
    measured: dict[str, Decimal] = defaultdict(Decimal)
    measured_counts: dict[str, int] = defaultdict(int)
    for application in applications:
        for area in application.body_areas:
            counts[area] += 1
            if application.amount_ftu is not None:
                measured[area] += application.amount_ftu
                measured_counts[area] += 1
    return [
        AreaUse(
            area=area,
            applications=counts[area],
            measured_ftu=measured[area],
            measured_applications=measured_counts[area],
            table_ftu=None if area in rules.AREAS_WITHOUT_FTU_ROW else suggested_ftu_for(patient, [area], today),
        )
        for area in sorted(counts, key=lambda area: (-counts[area], area))
    ]


def timeline_events(
    clock: PatientClock,
    *,
    since: datetime.datetime,
    applications: Sequence[Application],
    symptoms: Sequence[Symptom],
    poems: Sequence[PoemEntry],
    checks: Sequence[SkinCheck],
    occurrences: Sequence[Occurrence],
    alerts: Sequence[Alert],
) -> Iterator[Event]:
    """Every event since `since`, newest first."""
    events: list[Event] = []

    def add(at: datetime.datetime, kind: str, text: str, flag: bool = False) -> None:
        if at >= since:
            events.append(Event(at=at, local=clock.local(at), kind=kind, text=text, flag=flag))

    for application in applications:
        amount = f", {application.amount_ftu} FTU" if application.amount_ftu is not None else ""
        add(application.applied_at, "application", f"{', '.join(application.body_areas)}{amount}")
    for symptom in symptoms:
        add(symptom.recorded_at, "symptoms", symptom_text(symptom), flag=is_concerning_burning(symptom))
    for poem in poems:
        scored = f"{poem.score} ({poem.band.replace('_', ' ')})" if poem.score is not None else "not scorable"
        add(poem.recorded_at, "POEM", scored)
    for check in checks:
        add(check.performed_at, "skin check", skin_check_text(check), flag=check.concerning)
    for occurrence in occurrences:
        reason = f": {occurrence.skip_reason}" if occurrence.skip_reason else ""
        add(occurrence.due_at, "reminder", f"{occurrence.kind.replace('_', ' ')} {occurrence.state}{reason}")
    for alert in alerts:
        add(alert.opened_at, "alert", f"{alert.get_kind_display()}: {alert.summary}", flag=alert.is_open)
        if alert.resolved_at is not None:
            by = f" by {alert.resolved_by}" if alert.resolved_by else ""
            add(alert.resolved_at, "alert resolved", f"{alert.get_kind_display()}{by}: {alert.resolution_note}")
    yield from sorted(events, key=lambda event: event.at, reverse=True)


def symptom_text(symptom: Symptom) -> str:
    parts = []
    if symptom.burning is not None:
        parts.append(f"burning {symptom.burning}/10")
    if symptom.itch is not None:
        parts.append(f"itch {symptom.itch}/10")
    if symptom.flare_severity is not None:
        parts.append(f"flare {rules.FLARE_SEVERITY_LABELS[symptom.flare_severity]}")
    if symptom.body_areas:
        parts.append(f"on {', '.join(symptom.body_areas)}")
    return ", ".join(parts)


def skin_check_text(check: SkinCheck) -> str:
    """A skin check on the timeline: urgent signs first, then the questions answered yes, then who checked."""
    outcome = "concerning" if check.concerning else "nothing of concern"
    if check.is_urgent:
        signs = " and ".join(rules.URGENT_SKIN_SIGN_WORDS.get(sign, sign) for sign in check.urgent_signs)
        outcome = f"URGENT: {signs}"
    yes = [rules.SKIN_CHECK_QUESTIONS[name].rstrip("?").lower() for name, answer in check.answers.items() if answer]
    answered = f" (yes: {'; '.join(yes)})" if yes else ""
    return f"{outcome}{answered}, by {check.get_performed_by_display()}"


def is_concerning_burning(symptom: Symptom) -> bool:
    return symptom.burning is not None and symptom.burning >= rules.PERSISTENT_BURNING_MIN_SCORE
