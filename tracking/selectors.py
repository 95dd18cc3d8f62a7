"""Reads over regimens and logs. Callers have already decided, through accounts.selectors, that
the caller may see the patient; everything here is scoped to that one patient."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Q, QuerySet, Sum, prefetch_related_objects
from django.utils import timezone

from accounts.clock import PatientClock
from accounts.models import Patient
from tracking import adherence, rules
from tracking.models import Application, Regimen
from tracking.models.logs import PatientLog

# How far back a streak is followed per step; a longer streak costs one more query per step.
STREAK_LOOKBACK = datetime.timedelta(days=90)
TWO_PLACES = Decimal("0.01")


def completed_months(birth_date: datetime.date, on: datetime.date) -> int:
    months = (on.year - birth_date.year) * 12 + on.month - birth_date.month
    return months - (1 if on.day < birth_date.day else 0)


def patient_age_band(patient: Patient, on: datetime.date) -> rules.AgeBand | None:
    return rules.age_band(age_years=patient.age_on(on), age_months=completed_months(patient.birth_date, on))


def suggested_ftu_for(patient: Patient, areas: list[str], on: datetime.date) -> Decimal | None:
    band = patient_age_band(patient, on)
    return rules.suggested_ftu(areas, band) if band else None


def ftu_guide_for(
    patient: Patient, areas: list[str], on: datetime.date
) -> list[tuple[tuple[str, ...], Decimal]] | None:
    """`rules.ftu_guide` at the patient's age on `on`; None at an age the tables do not cover."""
    band = patient_age_band(patient, on)
    return rules.ftu_guide(areas, band) if band else None


def zone_history_read(patient: Patient) -> Patient:
    """The patient with their zone history read now, once, so every PatientClock built for this request shares
    it (one query). Only for a request that never changes the patient's zone, which would leave it stale."""
    prefetch_related_objects([patient], "timezone_changes")
    return patient


def logs_for(
    model: type[PatientLog],
    patient: Patient,
    *,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> QuerySet:
    """A patient's logs of one kind that were not deleted, optionally within [since, until]."""
    logs = model._default_manager.filter(patient=patient, deleted_at__isnull=True)
    if since is not None:
        logs = logs.filter(**{f"{model.EVENT_TIME}__gte": since})
    if until is not None:
        logs = logs.filter(**{f"{model.EVENT_TIME}__lte": until})
    if model is Application:
        logs = logs.select_related("regimen")  # type: ignore[misc]  # narrowed at runtime, not by mypy
    return logs


def log_of(model: type[PatientLog], patient: Patient, log_id: uuid.UUID) -> PatientLog | None:
    """One of a patient's logs of one kind, or None if they have no such log (or it was deleted)."""
    return logs_for(model, patient).filter(pk=log_id).first()


@dataclass(frozen=True)
class RegimenUsage:
    """What a regimen shows beyond its fields: the FTU it calls for and, with a tube, the refill estimate."""

    today: datetime.date
    suggested_ftu: Decimal | None
    ftu_guide: rules.FtuGuide | None
    grams_used: Decimal | None
    empty_date: datetime.date | None


def regimens_for(patient: Patient) -> QuerySet[Regimen]:
    """A patient's regimens, history included, with what the usage estimate needs annotated (one query)."""
    kept = Q(applications__deleted_at__isnull=True)
    return Regimen.objects.filter(patient=patient).annotate(
        logged_ftu=Sum("applications__amount_ftu", filter=kept),
        logged_count=Count("applications", filter=kept),
        unmeasured_count=Count("applications", filter=kept & Q(applications__amount_ftu__isnull=True)),
        following_id=F("next__id"),
    )


def regimen_of(patient: Patient, regimen_id: uuid.UUID) -> Regimen | None:
    """One of a patient's regimens, history included, or None if they have no such regimen."""
    return Regimen.objects.filter(patient=patient, pk=regimen_id).select_related("patient").first()


def regimen_with_usage(patient: Patient, regimen_id: uuid.UUID) -> Regimen:
    """One of a patient's regimens as `regimens_for` annotates it, with its `.usage` set (one query)."""
    return attach_usage([regimens_for(patient).get(pk=regimen_id)], patient)[0]


def attach_usage(regimens: list[Regimen], patient: Patient) -> list[Regimen]:
    """Set `.usage` on each regimen of `regimens_for`: no query."""
    today = patient.local_today()
    for regimen in regimens:
        regimen.usage = regimen_usage(regimen, patient, today)  # type: ignore[attr-defined]
    return regimens


def regimen_usage(regimen: Regimen, patient: Patient, today: datetime.date) -> RegimenUsage:
    guide = ftu_guide_for(patient, regimen.body_areas, today)
    suggested = None if guide is None else rules.ftu_total(guide)
    if not regimen.tube_grams:
        return RegimenUsage(today=today, suggested_ftu=suggested, ftu_guide=guide, grams_used=None, empty_date=None)
    logged_count: int = getattr(regimen, "logged_count", 0)
    unmeasured: int = getattr(regimen, "unmeasured_count", 0)
    logged_ftu: Decimal = getattr(regimen, "logged_ftu", None) or Decimal("0")
    ftu_used = logged_ftu + unmeasured * (suggested or Decimal("0"))
    grams_used = (ftu_used * rules.GRAMS_PER_FTU).quantize(TWO_PLACES, ROUND_HALF_UP)
    return RegimenUsage(
        today=today,
        suggested_ftu=suggested,
        ftu_guide=guide,
        grams_used=grams_used,
        empty_date=_empty_date(regimen, today, grams_used, logged_count, suggested),
    )


def _empty_date(
    regimen: Regimen, today: datetime.date, grams_used: Decimal, logged_count: int, suggested: Decimal | None
) -> datetime.date | None:
    """At the amount per application logged so far (or suggested) and the prescribed doses per week."""
    if regimen.end_date is not None and regimen.end_date < today:
        return None
    remaining = Decimal(regimen.tube_grams or 0) - grams_used
    if remaining <= 0:
        return today
    grams_per_dose = grams_used / logged_count if logged_count else (suggested or Decimal("0")) * rules.GRAMS_PER_FTU
    doses_per_day = Decimal(len(regimen.times) * len(regimen.weekdays)) / 7
    if grams_per_dose <= 0 or doses_per_day <= 0:
        return None
    start = max(today, regimen.start_date)
    try:
        return start + datetime.timedelta(days=int(remaining / (grams_per_dose * doses_per_day)))
    except OverflowError:  # later than the calendar goes (a start date in year 9999): no date to show
        return None


def application_warnings(application: Application, clock: PatientClock) -> list[str]:
    """Reasons to look twice at an accepted application: areas outside its regimen, a date outside it."""
    regimen = application.regimen
    warnings = []
    outside = [area for area in application.body_areas if area not in regimen.body_areas]
    if outside:
        warnings.append(
            f"Applied to {', '.join(outside)}, which this regimen does not cover "
            f"({', '.join(regimen.body_areas)}). Logged as sent; ask your dermatologist before treating new areas."
        )
    local_date = clock.local_date(application.applied_at)
    if not regimen.is_active_on(local_date):
        ends = regimen.end_date.isoformat() if regimen.end_date else "ongoing"
        warnings.append(
            f"This regimen was not active on {local_date} (it runs from {regimen.start_date} to {ends}). "
            "Logged as sent."
        )
    return warnings


# --- Adherence --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdherenceReport:
    first: datetime.date
    last: datetime.date
    days: list[adherence.Day]
    adherence_pct: float | None
    current_streak_days: int

    @property
    def expected_doses(self) -> int:
        return sum(day.expected for day in self.days)

    @property
    def logged_doses(self) -> int:
        return sum(day.logged for day in self.days)


def adherence_for(
    patient: Patient,
    *,
    first: datetime.date,
    last: datetime.date,
    now: datetime.datetime | None = None,
) -> AdherenceReport:
    """Adherence over local dates `first`..`last`, and the streak of fully adherent days up to today.

    Three queries: the zone history, the regimens, the doses over the span (one more when the range
    lies apart from the last days a default request reads (rules.ADHERENCE_DEFAULT_DAYS), and one per
    further 90 days, only while a streak reaches back past the span).
    """
    now = now or timezone.now()
    clock = PatientClock.for_patient(patient)
    today = clock.local_date(now)
    schedules = [
        adherence_schedule(regimen)
        for regimen in Regimen.objects.filter(patient=patient).only("id", "start_date", "end_date", "times", "weekdays")
    ]
    # The streak starts from the default range, so that a request for it (the usual one) reads once.
    recent_first = today - datetime.timedelta(days=rules.ADHERENCE_DEFAULT_DAYS - 1)
    if first <= today + adherence.ONE_DAY and last >= recent_first - adherence.ONE_DAY:
        # The range asked for meets the recent days: one read covers both.
        spans = [(min(first, recent_first), max(last, today))]
    else:
        # A range far from today: read it and the recent days apart, never every day in between
        # (from=9000-01-01 would otherwise schedule millions of days).
        spans = [(first, last), (recent_first, today)]
    by_date = {day.date: day for span in spans for day in adherence_days(patient, clock, schedules, *span, now)}
    span_first = spans[-1][0]

    earliest_start = min((schedule.start_date for schedule in schedules), default=today)
    recent = [by_date[date] for date in adherence.dates_between(span_first, today)][::-1]
    streak, broken = adherence.streak_days(recent)
    window_first = span_first
    while not broken and window_first > earliest_start:
        window_last = window_first - adherence.ONE_DAY
        window_first = max(earliest_start, window_last - STREAK_LOOKBACK)
        earlier = adherence_days(patient, clock, schedules, window_first, window_last, now)
        more, broken = adherence.streak_days(earlier[::-1])
        streak += more

    chosen = [by_date[date] for date in adherence.dates_between(first, last)]
    return AdherenceReport(
        first=first,
        last=last,
        days=chosen,
        adherence_pct=adherence.adherence_pct(chosen),
        current_streak_days=streak,
    )


def adherence_schedule(regimen: Regimen) -> adherence.Schedule:
    """What adherence needs of a regimen."""
    return adherence.Schedule(
        regimen_id=regimen.pk,
        start_date=regimen.start_date,
        end_date=regimen.end_date,
        times=tuple(regimen.wall_times()),
        weekdays=frozenset(regimen.weekdays),
    )


def adherence_days(
    patient: Patient,
    clock: PatientClock,
    schedules: list[adherence.Schedule],
    first: datetime.date,
    last: datetime.date,
    now: datetime.datetime,
) -> list[adherence.Day]:
    """Expected and logged doses per local date from `first` to `last` (one query, for the doses)."""
    start, end = clock.day_bounds(first, last)
    doses = [
        adherence.Dose(regimen_id=regimen_id, applied_at=applied_at)
        for regimen_id, applied_at in Application.objects.filter(
            patient=patient, deleted_at__isnull=True, applied_at__gte=start, applied_at__lt=end
        ).values_list("regimen_id", "applied_at")
    ]
    return adherence.adherence_days(first=first, last=last, schedules=schedules, doses=doses, clock=clock, now=now)
