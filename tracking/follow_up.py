"""What follows a change to a patient's record, in the one order that gives right answers.

A log or a regimen change moves three derived things, each owned by its concern: the reminder
schedules (refill estimate, skin-check anchor), the care team's alerts, and the patient list's
summary. Alerts come first: an urgent one (issue #17) must not wait on anything else, nor fail with
it. The summary counts the open alerts, so it comes after them; the schedules depend on neither.
That order is kept here, once, and tested (tests/tracking/test_follow_up.py), not left to each caller.
"""

from __future__ import annotations

import datetime

from accounts.models import Patient
from tracking.alerts.services import evaluate_all_alerts, evaluate_patient_alerts
from tracking.models import Alert
from tracking.reminders.services import schedules_refresh
from tracking.review.services import summaries_refresh_stale, summary_refresh


def patient_record_follow_up(
    patient: Patient, *, refresh_schedules: bool = True, now: datetime.datetime | None = None
) -> list[Alert]:
    """After new logs or a regimen change: alerts, then the summary that counts them, then the schedules.

    `refresh_schedules=False` when the caller re-derived the schedules already (a regimen change).
    Returns the alerts opened.
    """
    opened = evaluate_patient_alerts(patient, now=now)
    summary_refresh(patient, now=now)
    if refresh_schedules:
        schedules_refresh(patient=patient, now=now)
    return opened


def all_records_follow_up(*, now: datetime.datetime | None = None) -> int:
    """The hourly pass: alerts for every patient due (each summary refreshed after its alerts), then
    the summaries of patients that pass skipped. Returns the number of alerts opened."""
    opened = evaluate_all_alerts(now=now)
    summaries_refresh_stale(now=now)
    return opened
