"""Reads for care-team alerts: what every rule shares, who is due for evaluation, what a digest lists."""

from __future__ import annotations

import datetime

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, prefetch_related_objects

from accounts.clock import PatientClock
from accounts.models import Patient, User
from accounts.selectors import patients_visible_to
from tracking.alerts.findings import ONE_DAY, AlertContext, KindHistory, Thresholds
from tracking.models import Alert, Application, PoemEntry, Regimen, SkinCheck, Symptom

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
