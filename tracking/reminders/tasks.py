"""Celery tasks of the reminder sweep: thin; the sweep itself is tracking/reminders/sweep.py.

Beat starts `sweep_reminders` every minute (settings.CELERY_BEAT_SCHEDULE). Reminders themselves are
rows, never beat entries. Names are pinned to those the tasks had in tracking/tasks.py, so a message
queued before the move is still consumed after it (tests/test_task_names.py).
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from tracking.notifications.tasks import enqueue_occurrences
from tracking.reminders.sweep import sweep


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
