"""Celery tasks of delivery: thin. They take ids, load rows and call the notifications services.

Names are pinned to those the tasks had in tracking/tasks.py, so a message queued before the move is
still consumed after it (tests/test_task_names.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from celery import shared_task
from django.conf import settings

from tracking.models import Device
from tracking.notifications import services as notifications


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


@shared_task(name="tracking.notifications.tasks.send_test_push", ignore_result=True)
def send_test_push(device_id: str) -> bool:
    """The test push a user asked for (POST /api/v1/devices/{id}/test/): one attempt, no retry."""
    device = Device.objects.select_related("user").filter(pk=uuid.UUID(device_id)).first()
    return device is not None and notifications.device_test_send(device)


@shared_task(name="tracking.tasks.requeue_stale", ignore_result=True)
def requeue_stale() -> int:
    """Re-enqueue pending work nobody finished (a lost message, a dead worker)."""
    stale = notifications.stale_work()
    enqueue_occurrences(stale.occurrence_ids)
    enqueue_sends(stale.delivery_ids)
    return len(stale.occurrence_ids) + len(stale.delivery_ids)
