"""Celery tasks that span the record's concerns: thin, they take ids and call tracking/follow_up.py.

Each concern's own tasks live beside its services: tracking/reminders/tasks.py (the sweep),
tracking/notifications/tasks.py (delivery), tracking/alerts/tasks.py (the digest); the Celery app
finds them all (tacro_topical/celery.py). Every task's `name=` is pinned to the name it has always
had, so a task queued before a deploy that moves its code is still consumed after it
(tests/test_task_names.py).
"""

from __future__ import annotations

from celery import shared_task

from accounts.models import Patient
from tracking.follow_up import all_records_follow_up, patient_record_follow_up


@shared_task(name="tracking.tasks.patient_logs_changed", ignore_result=True)
def patient_logs_changed(patient_id: str, refresh_schedules: bool = True) -> int:
    """After new logs or a regimen change: the refill estimate, skin-check anchor, alerts and list summary move.

    `refresh_schedules` is False after a regimen change, whose service re-derived them already; a message
    queued before the argument existed carries only the id, and refreshes them.
    """
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return 0
    return len(patient_record_follow_up(patient, refresh_schedules=refresh_schedules))


@shared_task(name="tracking.tasks.evaluate_all_alerts", ignore_result=True)
def evaluate_all_alerts() -> int:
    return all_records_follow_up()
