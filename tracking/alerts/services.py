"""Care-team alerts: open the findings that are due, resolve an alert, send the daily digest.

`evaluate_patient_alerts` runs every rule (tracking/alerts/findings.py) for one patient and opens
the findings that are due.

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

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Patient, User
from tracking.alerts import course_findings, selectors, symptom_findings
from tracking.alerts.findings import MAX_LISTED_SKIN_CHECKS, AlertContext, Finding
from tracking.models import IMMEDIATE_ALERT_KINDS, Alert, AlertDigest, AlertKind, DeliveryStatus
from tracking.notifications.services import alert_notify_care_team, backoff
from tracking.notifications.tasks import enqueue_sends
from tracking.notifications.transports.base import DeliveryError
from tracking.notifications.transports.email import email_send
from tracking.review.services import summary_count_open_alerts, summary_refresh

logger = logging.getLogger(__name__)

DIGEST_FIRST_LOOKBACK = datetime.timedelta(hours=24)
# A digest covers alerts opened up to this long before it runs: an alert's opened_at is set just
# before its row commits, so one opened a moment before the digest may not be visible to it yet.
# The next digest picks it up (its window starts this long before the previous digest, too).
DIGEST_SETTLE = datetime.timedelta(minutes=1)

Readings = TypeVar("Readings")
# The kinds about one skin check each, whose later checks are listed in the open alert.
SKIN_CHECK_KINDS = frozenset({AlertKind.CONCERNING_SKIN_CHECK, AlertKind.URGENT_SKIN_SIGNS})
Rule = Callable[[AlertContext], Finding | None]


def _rule(
    read: Callable[[AlertContext], Readings | None], judge: Callable[[AlertContext, Readings], Finding | None]
) -> Rule:
    """A rule: read what it judges (None: nothing to judge), then judge it."""

    def rule(context: AlertContext) -> Finding | None:
        gathered = read(context)
        return None if gathered is None else judge(context, gathered)

    return rule


# Each kind with the rule that judges it, in the order an evaluation runs them.
RULES: tuple[tuple[AlertKind, Rule], ...] = (
    # First: the one the care team is told about at once.
    (AlertKind.URGENT_SKIN_SIGNS, _rule(selectors.urgent_skin_check_readings, symptom_findings.urgent_skin_signs)),
    (
        AlertKind.CONCERNING_SKIN_CHECK,
        _rule(selectors.concerning_skin_check_readings, symptom_findings.concerning_skin_check),
    ),
    (AlertKind.WORSENING_FLARE, _rule(selectors.worsening_flare_readings, symptom_findings.worsening_flare)),
    (AlertKind.NO_IMPROVEMENT, _rule(selectors.no_improvement_readings, course_findings.no_improvement)),
    (AlertKind.PERSISTENT_BURNING, _rule(selectors.persistent_burning_readings, course_findings.persistent_burning)),
    (AlertKind.LOW_ADHERENCE, _rule(selectors.low_adherence_readings, course_findings.low_adherence)),
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
    context = selectors.alert_context(patient, now=now)
    opened: list[Alert] = []
    for kind, rule in RULES:
        if context.past(kind).is_open:
            if kind in SKIN_CHECK_KINDS:
                _list_later_skin_checks(context, kind)
            if kind in IMMEDIATE_ALERT_KINDS:
                _tell_care_team_again(patient, kind)
            continue
        finding = rule(context)
        if finding is not None:
            alert = _open(context, finding)
            if alert is not None:
                opened.append(alert)
                if alert.kind in IMMEDIATE_ALERT_KINDS:
                    _tell_care_team_at_once(alert)
    return opened


def _tell_care_team_at_once(alert: Alert) -> None:
    """The patient's dermatologists hear of it now, by their fastest channel, not in tomorrow's digest.

    The notifications are written now and sent by workers once they commit. Race: a worker dying between
    opening the alert and this leaves it to the hourly evaluation (`_tell_care_team_again`).
    """
    send_ids = alert_notify_care_team(alert=alert)
    if send_ids:
        transaction.on_commit(lambda: enqueue_sends(send_ids))


def _tell_care_team_again(patient: Patient, kind: AlertKind) -> None:
    """While an immediate alert is open, tell whoever on the care team has not heard of it: the worker that
    opened it died before telling them, or a dermatologist joined the care team since. Nobody hears twice."""
    alert = Alert.objects.filter(patient=patient, kind=kind, resolved_at__isnull=True).select_related("patient").first()
    if alert is not None:
        _tell_care_team_at_once(alert)


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


def _list_later_skin_checks(context: AlertContext, kind: AlertKind) -> None:
    """Add checks that no alert of `kind` names yet to the open skin-check alert of that kind's evidence.

    They open no alert of their own while it is open (one open per kind); listed here, the
    clinician sees them before resolving it.
    """
    alert = (
        Alert.objects.filter(patient=context.patient, kind=kind, resolved_at__isnull=True)
        .only("pk", "evidence")
        .first()
    )
    if alert is None:
        return
    listed: list[str] = list(alert.evidence.get("other_skin_check_ids", []))
    room = MAX_LISTED_SKIN_CHECKS - len(listed)
    if room <= 0:
        return  # the rest wait for the next alert, after this one is resolved
    new = [str(check_id) for check_id, _, _ in selectors.unshown_concerning_checks(context, limit=room, kind=kind)]
    if not new:
        return
    evidence = {**alert.evidence, "other_skin_check_ids": [*listed, *new]}
    # Only while still open. Race: if it was resolved a moment ago the checks stay unnamed, and
    # the next evaluation opens an alert for them.
    Alert.objects.filter(pk=alert.pk, resolved_at__isnull=True).update(evidence=evidence)


def evaluate_all_alerts(*, now: datetime.datetime | None = None, chunk_size: int = 200) -> int:
    """Evaluate every patient due for it (the periodic sweep); return the number of alerts opened.

    Patients are read in chunks with their zone history. One patient's failure is logged (by id)
    and the sweep goes on: it must not leave everyone else unevaluated.
    """
    opened = 0
    patients = selectors.patients_due_for_evaluation(now=now or timezone.now()).prefetch_related("timezone_changes")
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

# Where a retry goes: (clinician id, the attempt it will be, how long to wait). The Celery wiring
# (tracking/alerts/tasks.py) schedules it, as delivery_send's retries are scheduled for reminders.
DigestRetry = Callable[[int, int, datetime.timedelta], None]


@dataclass(frozen=True)
class DigestOutcome:
    """What came of one attempt at a clinician's digest, in delivery's words.

    SENT; SKIPPED, nothing new (or another run sent it); PENDING, refused for now and to be retried
    after `retry_in` (None once the attempts are used up: the next daily run covers those alerts);
    FAILED, refused for good.
    """

    status: str
    retry_in: datetime.timedelta | None = None


def send_alert_digests(*, now: datetime.datetime | None = None, on_retry: DigestRetry | None = None) -> int:
    """Email each active dermatologist the alerts opened for their care-team patients since their last digest.

    The first digest covers the last 24 hours; each window ends DIGEST_SETTLE before the run, and the
    next starts there. Nothing is sent, and no digest recorded, when nothing is new. Returns the
    number of emails sent. A digest refused for now is handed to `on_retry` (without one, the next
    run covers it); see `alert_digest_send`.
    """
    now = now or timezone.now()
    sent = 0
    for clinician_id in selectors.clinicians_with_new_alerts(
        now=now, first_lookback=DIGEST_FIRST_LOOKBACK, settle=DIGEST_SETTLE
    ):
        outcome = alert_digest_send(clinician_id=clinician_id, now=now)
        if outcome.status == DeliveryStatus.SENT:
            sent += 1
        elif outcome.retry_in is not None and on_retry is not None:
            on_retry(clinician_id, 2, outcome.retry_in)
    return sent


def alert_digest_send(*, clinician_id: int, now: datetime.datetime | None = None, attempt: int = 1) -> DigestOutcome:
    """One attempt at one active dermatologist's digest of what is new since their last, through the email transport.

    The digest is recorded before its email goes out (under a lock on the clinician, so two runs at
    once cannot both send). A transient mail error (a 4xx answer, a server out of reach) removes it
    again, so the retry, after the delivery backoff and up to DELIVERY_MAX_ATTEMPTS, covers the same
    alerts; a permanent one (a 5xx answer, a refused address) keeps it, so those alerts are not sent
    again day after day, and says so in the log.
    """
    now = now or timezone.now()
    claimed = _claim_digest(clinician_id, now=now)
    if claimed is None:
        return DigestOutcome(DeliveryStatus.SKIPPED)
    clinician, digest, alerts = claimed
    try:
        email_send(_digest_email(clinician, alerts))
    except DeliveryError as error:
        # The clinician id and attempt only, never names or addresses.
        if error.permanent:
            logger.warning("alert digest to clinician %s failed for good; its alerts count as sent", clinician_id)
            return DigestOutcome(DeliveryStatus.FAILED)
        AlertDigest.objects.filter(pk=digest.pk).delete()
        logger.warning("alert digest to clinician %s failed on attempt %s; it will be retried", clinician_id, attempt)
        retry_in = backoff(attempt) if attempt < settings.DELIVERY_MAX_ATTEMPTS else None
        return DigestOutcome(DeliveryStatus.PENDING, retry_in=retry_in)
    except Exception:
        # Not the mail server (a template, say): undo the claim, so the next run covers these alerts.
        AlertDigest.objects.filter(pk=digest.pk).delete()
        logger.exception("alert digest to clinician %s failed", clinician_id)
        return DigestOutcome(DeliveryStatus.PENDING)
    return DigestOutcome(DeliveryStatus.SENT)


@transaction.atomic
def _claim_digest(clinician_id: int, *, now: datetime.datetime) -> tuple[User, AlertDigest, list[Alert]] | None:
    """Record the digest of what is new for this clinician, or None when there is none (or another run covered it)."""
    # Race: two digest runs (a redelivered beat task, a retry) serialise here; the second sees the first's digest.
    clinician = selectors.digest_recipients().select_for_update().filter(pk=clinician_id).first()
    if clinician is None:
        return None
    previous = AlertDigest.objects.filter(clinician=clinician).aggregate(latest=Max("sent_at"))["latest"]
    since = previous or now - DIGEST_FIRST_LOOKBACK
    alerts = list(selectors.new_alerts_for(clinician, since=since - DIGEST_SETTLE, until=now - DIGEST_SETTLE))
    if not alerts:
        return None
    digest = AlertDigest.objects.create(clinician=clinician, sent_at=now, alert_count=len(alerts))
    return clinician, digest, alerts


def _digest_email(dermatologist: User, alerts: list[Alert]) -> EmailMultiAlternatives:
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
    return email
