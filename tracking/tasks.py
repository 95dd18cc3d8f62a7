"""Celery tasks: thin. They take ids, load rows and call a service; the work is in the services.

Every task's `name=` is pinned to the name it has always had, so a task queued before a deploy that
moves its code is still consumed after it (tests/test_task_names.py).

Beat runs only the fixed entries in settings.CELERY_BEAT_SCHEDULE (the sweep, requeueing stale
work, alert evaluation, the digest). Reminders themselves are rows, never beat entries.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from celery import shared_task
from django.conf import settings

from accounts.models import Patient
from tracking.alerts import services as alerts
from tracking.notifications import services as notifications
from tracking.reminders.services import schedules_refresh
from tracking.reminders.sweep import sweep
from tracking.review import services as review


def _chunks(ids: Sequence[uuid.UUID], size: int) -> Iterable[Sequence[uuid.UUID]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def enqueue_occurrences(ids: Sequence[uuid.UUID]) -> None:
    """Hand pending occurrences to workers, a batch per task so 100,000 are a few hundred messages."""
    for chunk in _chunks(list(ids), settings.REMINDER_DELIVERY_BATCH):
        deliver_occurrences.delay([str(occurrence_id) for occurrence_id in chunk])


def enqueue_sends(delivery_ids: Iterable[int]) -> None:
    for delivery_id in delivery_ids:
        send_delivery.delay(delivery_id)


@shared_task(name="tracking.tasks.sweep_reminders", ignore_result=True)
def sweep_reminders() -> int:
    """Beat's entry: start REMINDER_SWEEPERS sweeps at once, this one and its helpers.

    They share the due rows safely (each batch is claimed with SKIP LOCKED, or compare-and-set), so
    a minute with 100,000 due reminders is swept on every worker process instead of one.
    """
    for _ in range(settings.REMINDER_SWEEPERS - 1):
        sweep_reminders_helper.delay()
    return sweep_due()


@shared_task(name="tracking.tasks.sweep_reminders_helper", ignore_result=True)
def sweep_reminders_helper() -> int:
    return sweep_due()


def sweep_due() -> int:
    """Write the occurrences of every due schedule and hand them to delivery; returns how many."""
    return sweep(on_pending=enqueue_occurrences).written


@shared_task(name="tracking.tasks.deliver_occurrences", ignore_result=True, acks_late=True)
def deliver_occurrences(occurrence_ids: list[str]) -> int:
    fan_out = notifications.occurrences_deliver([uuid.UUID(value) for value in occurrence_ids])
    enqueue_sends(fan_out.send_ids)
    return fan_out.delivered


@shared_task(name="tracking.tasks.send_delivery", ignore_result=True, acks_late=True)
def send_delivery(delivery_id: int) -> str | None:
    """One attempt; a transient error comes back here after the backoff the service chose."""
    outcome = notifications.delivery_send(delivery_id)
    if outcome is None:
        return None
    if outcome.retry_in is not None:
        send_delivery.apply_async((delivery_id,), countdown=outcome.retry_in.total_seconds())
    return outcome.status


@shared_task(name="tracking.tasks.requeue_stale", ignore_result=True)
def requeue_stale() -> int:
    """Re-enqueue pending work nobody finished (a lost message, a dead worker)."""
    stale = notifications.stale_work()
    enqueue_occurrences(stale.occurrence_ids)
    enqueue_sends(stale.delivery_ids)
    return len(stale.occurrence_ids) + len(stale.delivery_ids)


@shared_task(name="tracking.tasks.patient_logs_changed", ignore_result=True)
def patient_logs_changed(patient_id: str) -> int:
    """After new logs or a regimen change: the refill estimate, skin-check anchor, alerts and list summary move."""
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return 0
    schedules_refresh(patient=patient)
    opened = alerts.evaluate_patient_alerts(patient)
    review.summary_refresh(patient)  # last: it counts the alerts just opened
    return len(opened)


@shared_task(name="tracking.tasks.evaluate_all_alerts", ignore_result=True)
def evaluate_all_alerts() -> int:
    opened = alerts.evaluate_all_alerts()
    review.summaries_refresh_stale()
    return opened


@shared_task(name="tracking.tasks.send_alert_digests", ignore_result=True)
def send_alert_digests() -> int:
    return alerts.send_alert_digests()
