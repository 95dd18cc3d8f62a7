"""Celery tasks of the care team's alerts: thin. Evaluation after a change is tracking/tasks.py's.

Names are pinned to those the tasks had in tracking/tasks.py, so a message queued before the move is
still consumed after it (tests/test_task_names.py).
"""

from __future__ import annotations

from celery import shared_task

from tracking.alerts import services as alerts


@shared_task(name="tracking.tasks.send_alert_digests", ignore_result=True)
def send_alert_digests() -> int:
    return alerts.send_alert_digests()
