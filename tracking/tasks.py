"""Celery tasks: thin. They take ids, load rows and call a service; the work is in the services.

Beat runs only the fixed entries in settings.CELERY_BEAT_SCHEDULE (the sweep, requeueing stale
work, alert evaluation, the digest). Reminders themselves are rows, never beat entries.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from celery import Celery, Task, shared_task
from django.conf import settings
from kombu.connection import ConnectionPool
from kombu.exceptions import LimitExceeded
from kombu.exceptions import OperationalError as BrokerUnavailable

from accounts.models import Patient
from tracking import alerts, notifications, reminders, review

logger = logging.getLogger(__name__)


# This process's connections for sending from requests, reused from one request to the next: a
# connection made per send cost about 7 ms of CPU per log (redis-py's handshake and client set-up,
# kombu's queue declaration; bench/api_load/cpu_per_request.py). Keyed by process id, so a forked
# process never writes to its parent's socket, and by broker URL and options, as tests change them.
_request_connections: dict[tuple[int, str, str], ConnectionPool] = {}
_request_connections_lock = threading.Lock()
REQUEST_CONNECTIONS = 10  # when broker_pool_limit is 0 or None: as many requests at once in one process
# A request never waits on the broker for long: it tries once (max_retries 0: retry=False below stops
# only Celery's publish retries, and kombu would still spend ~6 s reconnecting, RELIABILITY.md fault
# 2), and a socket that stops answering (a hung Redis, a dropped idle connection) times out.
REQUEST_BROKER_OPTIONS = {
    "max_retries": 0,
    "socket_timeout": 1.0,
    "socket_connect_timeout": 1.0,
    "socket_keepalive": True,
}


def _connections_for_requests(app: Celery) -> ConnectionPool:
    key = (os.getpid(), str(app.conf.broker_url), repr(sorted(app.conf.broker_transport_options.items())))
    with _request_connections_lock:
        if key not in _request_connections:
            # Workers and beat keep their own connections, with their retries.
            connection = app.connection_for_write(transport_options=REQUEST_BROKER_OPTIONS)
            # kombu keeps connections only in a pool with a limit; a request waits for a free one.
            _request_connections[key] = connection.Pool(limit=app.conf.broker_pool_limit or REQUEST_CONNECTIONS)
        return _request_connections[key]


def enqueue(task: Task, *args: Any) -> bool:
    """Send a task from a request without holding it up; False when the broker is down.

    The request's own work is committed by then, and what the task derives (schedules, alerts, the
    list summary) is redone by the periodic jobs: a patient's log must never fail for want of Redis.
    """
    pool = _connections_for_requests(task.app)
    for fresh_try in (False, True):
        reused = False
        try:
            # On an error the pool closes the connection before taking it back (kombu's PooledConnection),
            # so the next request that gets it connects anew.
            with pool.acquire(block=True, timeout=1) as connection:
                reused = connection.connected
                task.apply_async(args, retry=False, connection=connection)
            return True
        except LimitExceeded:
            logger.warning("no broker connection free, %s not sent; the periodic jobs catch up", task.name)
            return False
        except BrokerUnavailable as error:
            if reused and not fresh_try:
                continue  # its socket may have died with a Redis restart: once more, on a new connection
            logger.warning("broker unavailable, %s not sent (%s); the periodic jobs catch up", task.name, error)
            return False
    return False  # not reached: the second try returns


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


@shared_task(ignore_result=True)
def sweep_reminders() -> int:
    """Beat's entry: start REMINDER_SWEEPERS sweeps at once, this one and its helpers.

    They share the due rows safely (each batch is claimed with SKIP LOCKED, or compare-and-set), so
    a minute with 100,000 due reminders is swept on every worker process instead of one.
    """
    for _ in range(settings.REMINDER_SWEEPERS - 1):
        sweep_reminders_helper.delay()
    return sweep_due()


@shared_task(ignore_result=True)
def sweep_reminders_helper() -> int:
    return sweep_due()


def sweep_due() -> int:
    """Write the occurrences of every due schedule and hand them to delivery; returns how many."""
    return reminders.sweep(on_pending=enqueue_occurrences).written


@shared_task(ignore_result=True, acks_late=True)
def deliver_occurrences(occurrence_ids: list[str]) -> int:
    fan_out = notifications.occurrences_deliver([uuid.UUID(value) for value in occurrence_ids])
    enqueue_sends(fan_out.send_ids)
    return fan_out.delivered


@shared_task(ignore_result=True, acks_late=True)
def send_delivery(delivery_id: int) -> str | None:
    """One attempt; a transient error comes back here after the backoff the service chose."""
    outcome = notifications.delivery_send(delivery_id)
    if outcome is None:
        return None
    if outcome.retry_in is not None:
        send_delivery.apply_async((delivery_id,), countdown=outcome.retry_in.total_seconds())
    return outcome.status


@shared_task(ignore_result=True)
def requeue_stale() -> int:
    """Re-enqueue pending work nobody finished (a lost message, a dead worker)."""
    stale = notifications.stale_work()
    enqueue_occurrences(stale.occurrence_ids)
    enqueue_sends(stale.delivery_ids)
    return len(stale.occurrence_ids) + len(stale.delivery_ids)


@shared_task(ignore_result=True)
def patient_logs_changed(patient_id: str) -> int:
    """After new logs or a regimen change: the refill estimate, skin-check anchor, alerts and list summary move."""
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return 0
    reminders.schedules_refresh(patient=patient)
    opened = alerts.evaluate_patient_alerts(patient)
    review.summary_refresh(patient)  # last: it counts the alerts just opened
    return len(opened)


@shared_task(ignore_result=True)
def evaluate_all_alerts() -> int:
    opened = alerts.evaluate_all_alerts()
    review.summaries_refresh_stale()
    return opened


@shared_task(ignore_result=True)
def send_alert_digests() -> int:
    return alerts.send_alert_digests()
