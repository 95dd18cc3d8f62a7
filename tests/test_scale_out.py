"""Scaling out (README, "Running beyond one machine"): two worker processes and two sweeps, one database
and one broker. Two beats each start a sweep at the same minute; nothing is written or sent twice.

The workers are real `celery worker` processes on Redis, reading the test database, as on two hosts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from tacro_topical.celery import app
from tests.factories import PatientFactory
from tests.tracking.test_reminders_e2e import prescribe_due_a_minute_ago
from tests.workers import wait_for
from tracking.models import Delivery, DeliveryStatus, Notification, Occurrence
from tracking.reminders import tasks

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[1]
PATIENTS = 120


def database_url() -> str:
    """The test database, as a worker on another host would reach it."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("worker processes need a database server; SQLite is one process's file")
    host, port, user = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432, db.get("USER") or "postgres"
    return f"postgres://{user}@{host}:{port}/{db['NAME']}"


@pytest.fixture
def two_workers(redis_url: str, tmp_path: Path) -> Iterator[list[Path]]:
    """Two worker processes, each with one process of its own, on the test database and Redis."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tacro_topical.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": redis_url,
        "EMAIL_URL": "consolemail://",
        "REMINDER_SWEEPERS": "1",
        "LOG_FORMAT": "plain",
    }
    previous = app.conf.broker_url
    app.conf.broker_url = redis_url
    app._pool = None
    app.amqp._producer_pool = None
    with app.connection_for_write() as broker:
        broker.default_channel.queue_purge("celery")
    logs = [tmp_path / f"worker{n}.log" for n in (1, 2)]
    workers = [
        subprocess.Popen(  # noqa: S603 - our own command line, no outside input
            [sys.executable, "-m", "celery", "-A", "tacro_topical", "worker", "--pool", "solo", "--hostname",
             f"scale{n}@%h", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        )
        for n, log in enumerate(logs, start=1)
    ]  # fmt: skip
    try:
        wait_for(lambda: all("ready." in log.read_text() for log in logs), seconds=60, what="both workers to start")
        yield logs
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        app.conf.broker_url = previous
        app._pool = None
        app.amqp._producer_pool = None


def test_two_workers_and_two_sweeps_write_and_send_each_reminder_once(two_workers: list[Path]) -> None:
    patients = [PatientFactory(timezone=zone) for zone in ("Asia/Qatar", "Europe/Berlin") for _ in range(PATIENTS // 2)]
    for patient in patients:
        prescribe_due_a_minute_ago(patient)

    # Two beats, one minute: each sends the sweep, and the two workers run them at the same time.
    tasks.sweep_reminders.delay()
    tasks.sweep_reminders.delay()

    def all_sent() -> bool:
        # Inbox and e-mail per reminder; push is recorded skipped (no device registered).
        return (
            Occurrence.objects.filter(follows__isnull=True).count() == PATIENTS
            and Delivery.objects.filter(channel="email", status=DeliveryStatus.SENT).count() == PATIENTS
            and not Delivery.objects.filter(status=DeliveryStatus.PENDING).exists()
        )

    wait_for(all_sent, seconds=90, what=f"{PATIENTS} reminders swept and sent")
    logs = [log.read_text() for log in two_workers]
    sweeps_run = sum(text.count("tracking.tasks.sweep_reminders[") for text in logs) // 2  # received + succeeded

    assert Occurrence.objects.filter(follows__isnull=True).count() == PATIENTS
    # Each dose reminder sent schedules its one missed-dose follow-up, once.
    assert Occurrence.objects.filter(follows__isnull=False).count() == PATIENTS
    assert Notification.objects.count() == PATIENTS
    assert not Notification.objects.values("occurrence").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert not Delivery.objects.filter(attempts__gt=1).exists()
    assert Delivery.objects.filter(channel="inbox", status=DeliveryStatus.SENT).count() == PATIENTS
    assert sweeps_run == 2
    assert all("succeeded" in text for text in logs)  # both workers did work
    assert settings.DATABASES["default"]["NAME"] in database_url()
