"""Reads for care-team alerts: what every rule shares, what each rule judges, who is due, what a digest lists.

Each rule's readings come from one function here (`<rule>_readings`), which returns None when the
rule has nothing to judge; the rules themselves (course_findings.py, symptom_findings.py) are pure.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

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

from accounts.clock import PatientClock
from accounts.models import Patient, Role, User
from accounts.selectors import patients_visible_to
from tracking.alerts.course_findings import (
    BurningReadings,
    ImprovementReadings,
    ImprovementWindows,
    adherence_window,
    burning_window,
    improvement_windows,
    no_improvement_candidates,
    regimen_episode,
)
from tracking.alerts.findings import MAX_LISTED_SKIN_CHECKS, ONE_DAY, AlertContext, KindHistory, Reading, Thresholds
from tracking.alerts.symptom_findings import (
    ConcerningCheck,
    UrgentCheck,
    WorseningReadings,
    named_check_ids,
    worsening_first,
    worsening_window,
)
from tracking.models import Alert, AlertDigest, AlertKind, Application, PoemEntry, Regimen, SkinCheck, Symptom
from tracking.models.logs import PatientLog
from tracking.selectors import AdherenceReport, adherence_for, logs_for

# A patient is evaluated by the periodic sweep while a regimen is active or they logged this recently:
# the longest look-back of any rule (worsening flare: 7 days before a reading of the last 7; adherence: 14).
RECENTLY_ACTIVE = datetime.timedelta(days=14)


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


# --- Each rule's readings ----------------------------------------------------------------------------


def _fresh(logs: QuerySet, context: AlertContext, kind: AlertKind) -> QuerySet:
    """Only the logs stored after the last resolution of `kind`: what the clinician has not seen."""
    resolved = context.past(kind).last_resolved_at
    return logs if resolved is None else logs.filter(created_at__gt=resolved)


def _within_days(logs: QuerySet, context: AlertContext, model: type[PatientLog], first: datetime.date) -> QuerySet:
    """Logs from local date `first` to today, widened by a day each side (callers keep local dates)."""
    start, end = context.clock.day_bounds(first, context.today)
    return logs.filter(**{f"{model.EVENT_TIME}__gte": start, f"{model.EVENT_TIME}__lt": end})


def persistent_burning_readings(context: AlertContext) -> BurningReadings | None:
    """The fresh burning logs at or above the minimum score on the days that count (one query)."""
    window = burning_window(context)
    if window is None:
        return None
    logs = logs_for(Symptom, context.patient).filter(burning__gte=context.thresholds.burning_min_score)
    logs = _within_days(_fresh(logs, context, AlertKind.PERSISTENT_BURNING), context, Symptom, window.first)
    return BurningReadings(window=window, burning=list(logs.values_list("recorded_at", "burning")))


def no_improvement_readings(context: AlertContext) -> Iterator[ImprovementReadings] | None:
    """Each candidate regimen not judged before, with its readings, read only as the rule asks for it.

    One query for the regimens judged before, then two per regimen the rule reaches: it stops at
    the first finding.
    """
    candidates = no_improvement_candidates(context)
    if not candidates:
        return None
    judged = set(
        Alert.objects.filter(
            patient=context.patient,
            kind=AlertKind.NO_IMPROVEMENT,
            episode_key__in=[regimen_episode(regimen) for regimen in candidates],
        ).values_list("episode_key", flat=True)
    )
    return (_improvement_readings(context, regimen) for regimen in candidates if regimen_episode(regimen) not in judged)


def _improvement_readings(context: AlertContext, regimen: Regimen) -> ImprovementReadings:
    windows = improvement_windows(context, regimen)
    return ImprovementReadings(
        regimen=regimen,
        windows=windows,
        flare_severity=_readings_in(context, windows, Symptom, "flare_severity"),
        poem=_readings_in(context, windows, PoemEntry, "score"),
    )


def _readings_in(
    context: AlertContext, windows: ImprovementWindows, model: type[PatientLog], field_name: str
) -> list[Reading]:
    """One measure's readings in the baseline and current windows only (not the weeks between them)."""
    baseline_start, baseline_end = context.clock.day_bounds(windows.baseline_first, windows.baseline_last)
    current_start, current_end = context.clock.day_bounds(windows.current_first, context.today)
    in_windows = Q(recorded_at__gte=baseline_start, recorded_at__lt=baseline_end) | Q(
        recorded_at__gte=current_start, recorded_at__lt=current_end
    )
    rows = logs_for(model, context.patient).filter(in_windows, **{f"{field_name}__isnull": False})
    return [
        Reading(recorded_at, created_at, value)
        for recorded_at, created_at, value in rows.values_list("recorded_at", "created_at", field_name)
    ]


def worsening_flare_readings(context: AlertContext) -> WorseningReadings:
    """Flare severity over the window and the reference span before it, and the two latest POEMs (two queries)."""
    start, end = context.clock.day_bounds(worsening_first(context), context.today)
    rows = (
        logs_for(Symptom, context.patient)
        .filter(flare_severity__isnull=False, recorded_at__gte=start - worsening_window(context), recorded_at__lt=end)
        .order_by("recorded_at")
        .values_list("recorded_at", "created_at", "flare_severity")
    )
    flare_severity = [Reading(recorded_at, created_at, value) for recorded_at, created_at, value in rows]
    latest_poems = list(
        logs_for(PoemEntry, context.patient)
        .filter(score__isnull=False)
        .exclude(band="")
        .order_by("-recorded_at")
        .values_list("recorded_at", "created_at", "score", "band")[:2]
    )
    return WorseningReadings(flare_severity=flare_severity, latest_poems=latest_poems)


def low_adherence_readings(context: AlertContext) -> AdherenceReport | None:
    """The adherence over the window, when it can be judged (three queries)."""
    window = adherence_window(context)
    if window is None:
        return None
    first, last = window
    return adherence_for(context.patient, first=first, last=last, now=context.now)


def concerning_skin_check_readings(context: AlertContext) -> list[ConcerningCheck]:
    """The newest unshown concerning checks, as many as an alert lists and the one it is about."""
    return unshown_concerning_checks(context, limit=MAX_LISTED_SKIN_CHECKS + 1)


def urgent_skin_check_readings(context: AlertContext) -> list[UrgentCheck]:
    """The newest unshown checks reporting an urgent sign, as many as an alert lists and the one it is about."""
    return list(
        _unshown_checks(context, AlertKind.URGENT_SKIN_SIGNS)
        .exclude(urgent_signs=[])
        .values_list("pk", "performed_at", "performed_by", "urgent_signs")[: MAX_LISTED_SKIN_CHECKS + 1]
    )


def unshown_concerning_checks(
    context: AlertContext, *, limit: int, kind: AlertKind = AlertKind.CONCERNING_SKIN_CHECK
) -> list[ConcerningCheck]:
    """(id, performed_at, performed_by) of the checks an alert of `kind` is about that no such alert names,
    newest first: concerning ones without an urgent sign (those have their own alert, URGENT_SKIN_SIGNS),
    or, for URGENT_SKIN_SIGNS, those with one.

    One query, and one more to read what the patient's alerts of the kind name when there are any.
    """
    checks = _unshown_checks(context, kind)
    if kind == AlertKind.URGENT_SKIN_SIGNS:
        checks = checks.exclude(urgent_signs=[])
    else:
        checks = checks.filter(concerning=True, urgent_signs=[])
    return list(checks.values_list("pk", "performed_at", "performed_by")[:limit])


def _unshown_checks(context: AlertContext, kind: AlertKind) -> QuerySet[SkinCheck]:
    """The patient's skin checks no alert of `kind` is about or lists, newest first."""
    named: list[tuple[str, object]] = []
    if context.past(kind).last_opened_at is not None:  # none yet: nothing named
        named = list(Alert.objects.filter(patient=context.patient, kind=kind).values_list("episode_key", "evidence"))
    return logs_for(SkinCheck, context.patient).exclude(pk__in=named_check_ids(named)).order_by("-performed_at")


def care_team_dermatologists(patient: Patient) -> QuerySet[User]:
    """Who is told at once about the patient's urgent alerts: the active dermatologists on their care team."""
    return User.objects.filter(
        role=Role.DERMATOLOGIST, is_active=True, care_team_memberships__patient=patient
    ).distinct()


# --- Who is due, what a digest lists -----------------------------------------------------------------


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


def digest_recipients() -> QuerySet[User]:
    """Who gets the daily alert digest: active dermatologists."""
    return User.objects.filter(role=Role.DERMATOLOGIST, is_active=True)


def clinicians_with_new_alerts(
    *, now: datetime.datetime, first_lookback: datetime.timedelta, settle: datetime.timedelta
) -> list[int]:
    """Ids of the digest's recipients with an alert opened since their last digest (or `first_lookback`).

    A cheap first pass (one query): only these are locked and read again when their digest is claimed.
    """
    last_digest = AlertDigest.objects.filter(clinician=OuterRef("pk")).order_by("-sent_at").values("sent_at")[:1]
    since = Coalesce(Subquery(last_digest), Value(now - first_lookback), output_field=DateTimeField())
    with_news = Alert.objects.filter(
        patient__care_team_memberships__clinician=OuterRef("pk"),
        opened_at__gt=OuterRef("since") - Value(settle),
        opened_at__lte=now - settle,
    )
    return list(
        digest_recipients().annotate(since=since).filter(Exists(with_news)).order_by("pk").values_list("pk", flat=True)
    )


def new_alerts_for(clinician: User, *, since: datetime.datetime, until: datetime.datetime) -> QuerySet[Alert]:
    """Alerts opened in (since, until] for patients on this clinician's own care teams."""
    # Through the one access selector, narrowed to care-team membership: a dermatologist's digest
    # is about the patients they treat, not (say) a child of theirs who is a patient too.
    patients = patients_visible_to(clinician).filter(care_team_memberships__clinician=clinician)
    return (
        Alert.objects.filter(patient__in=patients, opened_at__gt=since, opened_at__lte=until)
        .select_related("patient")
        .order_by("-severity", "opened_at")
    )


def alerts_by_status(alerts: QuerySet[Alert], *, is_open: bool) -> QuerySet[Alert]:
    """The open alerts among `alerts`, or the resolved ones."""
    return alerts.filter(resolved_at__isnull=is_open)
