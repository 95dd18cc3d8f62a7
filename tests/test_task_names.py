"""Task names are a contract with the broker: a task queued before a deploy must still run after it."""

from __future__ import annotations

import pytest

from tacro_topical.celery import app
from tests.factories import PatientFactory
from tests.tracking.test_reminders_e2e import prescribe_due_a_minute_ago
from tests.workers import real_worker, wait_for
from tracking.models import Occurrence

# Every task the project has ever queued under a name, and so may find waiting in Redis after a deploy.
QUEUED_NAMES = [
    "tracking.tasks.sweep_reminders",
    "tracking.tasks.sweep_reminders_helper",
    "tracking.tasks.deliver_occurrences",
    "tracking.tasks.send_delivery",
    "tracking.tasks.requeue_stale",
    "tracking.notifications.tasks.send_test_push",
    "tracking.tasks.patient_logs_changed",
    "tracking.tasks.evaluate_all_alerts",
    "tracking.tasks.send_alert_digests",
    "tracking.alerts.tasks.send_alert_digest",
    "accounts.tasks.send_account_email",
    "accounts.tasks.prune_sessions",
]


@pytest.mark.parametrize("name", QUEUED_NAMES)
def test_a_task_queued_under_its_name_finds_its_code(name: str) -> None:
    # A worker imports the apps' task modules at start, then runs a message by looking its name up here.
    app.loader.import_default_modules()

    assert name in app.tasks


def test_every_project_task_pins_its_name_and_is_listed() -> None:
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if name.split(".")[0] in {"tracking", "accounts", "tacro_topical"}}

    assert ours == set(QUEUED_NAMES)


def test_every_beat_entry_names_a_task_a_worker_has(settings: object) -> None:
    app.loader.import_default_modules()
    beat: dict[str, dict[str, object]] = settings.CELERY_BEAT_SCHEDULE  # type: ignore[attr-defined]

    assert {entry["task"] for entry in beat.values()} <= set(app.tasks)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_message_queued_under_a_moved_tasks_old_name_is_consumed(redis_url: str) -> None:
    """The sweep moved from tracking/tasks.py to tracking/reminders/tasks.py; a message sent by its old
    name, as one queued before the deploy would be, is run by a real worker on Redis."""
    patient = PatientFactory(timezone="Asia/Qatar")
    prescribe_due_a_minute_ago(patient)

    with real_worker(redis_url, {}):
        app.send_task("tracking.tasks.sweep_reminders")  # by name only, as the broker holds it

        wait_for(lambda: Occurrence.objects.filter(schedule__patient=patient).exists(), what="the sweep to run")
