"""Celery tasks of the care team's alerts: thin. Evaluation after a change is tracking/tasks.py's.

`send_alert_digests` keeps the name it had in tracking/tasks.py, so a message queued before the move
is still consumed after it (tests/test_task_names.py).
"""

from __future__ import annotations

import datetime

from celery import shared_task

from tracking.alerts import services as alerts


def _retry_digest_later(clinician_id: int, attempt: int, wait: datetime.timedelta) -> None:
    send_alert_digest.apply_async((clinician_id, attempt), countdown=wait.total_seconds())


@shared_task(name="tracking.tasks.send_alert_digests", ignore_result=True)
def send_alert_digests() -> int:
    """Beat's daily entry: each dermatologist's digest; one the mail server refused for now is retried."""
    return alerts.send_alert_digests(on_retry=_retry_digest_later)


@shared_task(name="tracking.alerts.tasks.send_alert_digest", ignore_result=True, acks_late=True)
def send_alert_digest(clinician_id: int, attempt: int) -> str:
    """One more attempt at one clinician's digest, after the backoff the service chose."""
    outcome = alerts.alert_digest_send(clinician_id=clinician_id, attempt=attempt)
    if outcome.retry_in is not None:
        _retry_digest_later(clinician_id, attempt + 1, outcome.retry_in)
    return outcome.status
