"""What a dermatologist reviews: the per-patient summary row, the review page, the CSV export.

Callers have decided, through accounts.selectors.patients_visible_to, that the viewer may see the
patient. Everything here reads live, except `PatientSummary`, which `summary_refresh` keeps for
the patient list (it sorts and filters 10,000 patients in SQL).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
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

logger = logging.getLogger(__name__)
# The patient list's adherence and burning trend (rules.LOW_ADHERENCE_WINDOW_DAYS is the same span).
SUMMARY_DAYS = 14
SUMMARY_MAX_AGE = datetime.timedelta(days=1)
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


# --- The patient list's summary ------------------------------------------------------------------


def summary_refresh(patient: Patient, *, now: datetime.datetime | None = None) -> PatientSummary:
    """Recompute a patient's list summary from their logs and alerts (eleven queries, ~6 ms on PostgreSQL).

    Called after new logs, when alerts open or are resolved, and hourly for every patient with an
    active regimen, since adherence falls as doses come due without a log.
    """
    now = now or timezone.now()
    clock = PatientClock.for_patient(patient)
    today = clock.local_date(now)
    first = today - datetime.timedelta(days=SUMMARY_DAYS - 1)
    regimens = list(Regimen.objects.filter(patient=patient))
    days = adherence_days(patient, clock, [adherence_schedule(regimen) for regimen in regimens], first, today, now)
    kept = {"patient": patient, "deleted_at__isnull": True}
    last_application = Application.objects.filter(**kept).order_by("-applied_at").values("applied_at").first()
    flare = (
        Symptom.objects.filter(**kept, flare_severity__isnull=False)
        .order_by("-recorded_at")
        .values("flare_severity", "recorded_at")
        .first()
    )
    since, _ = clock.day_bounds(first, today)
    burning = list(
        Symptom.objects.filter(**kept, burning__isnull=False, recorded_at__gte=since).values_list(
            "recorded_at", "burning"
        )
    )
    poem = (
        PoemEntry.objects.filter(**kept, score__isnull=False)
        .order_by("-recorded_at")
        .values("score", "band", "recorded_at")
        .first()
    )
    fields = {
        "current_regimen": current_regimen(regimens, today),
        "adherence_pct": adherence.adherence_pct(days),
        "last_application_at": last_application["applied_at"] if last_application else None,
        "latest_flare_severity": flare["flare_severity"] if flare else None,
        "latest_flare_at": flare["recorded_at"] if flare else None,
        "burning_by_day": highest_per_day(burning, clock, first, today),
        "latest_poem_score": poem["score"] if poem else None,
        "latest_poem_band": poem["band"] if poem else "",
        "latest_poem_at": poem["recorded_at"] if poem else None,
        "open_alerts": Alert.objects.filter(patient=patient, resolved_at__isnull=True).count(),
        "refreshed_at": now,
    }
    summary, _ = PatientSummary.objects.update_or_create(patient=patient, defaults=fields)
    return summary


def summary_count_open_alerts(patient_id: uuid.UUID) -> None:
    """After an alert is resolved: the list's count follows at once, without a full refresh."""
    PatientSummary.objects.filter(patient_id=patient_id).update(
        open_alerts=Alert.objects.filter(patient_id=patient_id, resolved_at__isnull=True).count()
    )


def summaries_refresh_stale(*, now: datetime.datetime | None = None) -> int:
    """Summarise the patients the hourly alert sweep passed over; return how many.

    That is patients without a summary yet (registered since), and those not refreshed for a
    day: the sweep skips a patient whose regimen ended and who logs nothing, but the 14-day
    window still moves past their last doses.
    """
    now = now or timezone.now()
    stale = Q(summary__isnull=True) | Q(summary__refreshed_at__lt=now - SUMMARY_MAX_AGE)
    refreshed = 0
    for patient in Patient.objects.filter(stale).prefetch_related("timezone_changes").iterator(chunk_size=200):
        try:
            summary_refresh(patient, now=now)
        except Exception:
            # One patient's failure (logged by id) must not leave everyone after them stale.
            logger.exception("summary refresh failed for patient %s", patient.pk)
            continue
        refreshed += 1
    return refreshed


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
        outcome = "concerning" if check.concerning else "nothing of concern"
        add(
            check.performed_at, "skin check", f"{outcome}, by {check.get_performed_by_display()}", flag=check.concerning
        )
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


def is_concerning_burning(symptom: Symptom) -> bool:
    return symptom.burning is not None and symptom.burning >= rules.PERSISTENT_BURNING_MIN_SCORE


# --- CSV export ----------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "kind",
    "id",
    "time_utc",
    "local_time",
    "time_zone",
    "regimen",
    "body_areas",
    "amount_ftu",
    "burning",
    "itch",
    "flare_severity",
    "poem_score",
    "poem_band",
    "concerning",
    "note",
)
EXPORT_MAX_DAYS = 366


def export_rows(patient: Patient, *, first: datetime.date, last: datetime.date) -> Iterator[list[str]]:
    """The patient's logs on local dates `first`..`last`, oldest first, one CSV row each.

    Each row has its UTC time and, in its own column, the local time with the zone the patient
    lived by then named beside it. Four queries.
    """
    clock = PatientClock.for_patient(patient)
    start, end = clock.day_bounds(first, last)
    kept = Q(patient=patient, deleted_at__isnull=True)
    rows: list[tuple[datetime.datetime, list[str]]] = []

    def add(moment: datetime.datetime, kind: str, entry_id: object, **values: object) -> None:
        local = clock.local(moment)
        if not first <= local.date() <= last:
            return
        cells = {
            "kind": kind,
            "id": str(entry_id),
            "time_utc": moment.astimezone(datetime.UTC).isoformat(),
            # With its offset: an hour repeated when clocks go back is told apart.
            "local_time": local.isoformat(),
            "time_zone": str(local.tzinfo),
        }
        cells |= {name: "" if value is None else str(value) for name, value in values.items()}
        rows.append((moment, [cells.get(column, "") for column in EXPORT_COLUMNS]))

    for application in Application.objects.filter(kept, applied_at__gte=start, applied_at__lt=end).select_related(
        "regimen"
    ):
        add(
            application.applied_at,
            "application",
            application.pk,
            regimen=str(application.regimen),
            body_areas=" ".join(application.body_areas),
            amount_ftu=application.amount_ftu,
            note=application.note,
        )
    for symptom in Symptom.objects.filter(kept, recorded_at__gte=start, recorded_at__lt=end):
        add(
            symptom.recorded_at,
            "symptoms",
            symptom.pk,
            body_areas=" ".join(symptom.body_areas),
            burning=symptom.burning,
            itch=symptom.itch,
            flare_severity=symptom.flare_severity,
            note=symptom.note,
        )
    for poem in PoemEntry.objects.filter(kept, recorded_at__gte=start, recorded_at__lt=end):
        add(poem.recorded_at, "poem", poem.pk, poem_score=poem.score, poem_band=poem.band, note=poem.note)
    for check in SkinCheck.objects.filter(kept, performed_at__gte=start, performed_at__lt=end):
        add(check.performed_at, "skin_check", check.pk, concerning="yes" if check.concerning else "no", note=check.note)
    for _moment, cells in sorted(rows, key=lambda row: row[0]):
        yield cells


# Full-width forms too: some spreadsheets read them as their ASCII twins.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_safe(cells: list[str]) -> list[str]:
    """Cells a spreadsheet would run as a formula get a leading ' (OWASP CSV injection); numbers stay numbers."""
    return [f"'{cell}" if cell.lstrip(" ")[:1] in FORMULA_STARTS and not is_number(cell) else cell for cell in cells]


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
