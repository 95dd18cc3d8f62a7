"""django-celery-beat holding one PeriodicTask per patient: the baseline of issue #4's benchmark.

Runs in bench/reminders/.venv-beat, from the project root:

    bench/reminders/.venv-beat/bin/python -m bench.reminders.beat_project.seed setup
    bench/reminders/.venv-beat/bin/python -m bench.reminders.beat_project.seed reset --variant twice

`setup` creates the database if it is missing and migrates django_celery_beat. `reset --variant V`
makes sure the database holds exactly variant V's 10,000 per-patient dose reminders, each task with a
CrontabSchedule of its own in the patient's zone (the 30 zones of setup_data.ZONES) at a five-minute
wall time (it replaces the other variant's rows: django-celery-beat 2.9.0 builds its start-up query
from every CrontabSchedule row, enabled or not, so the two sets must not share a table):
- `twice`: twice daily, hour "H,H+12" (a treatment regimen's two doses in one task);
- `once`: once daily, one numeric hour. django-celery-beat 2.9 loads only the crontabs whose hour,
  shifted to the server's zone, lies within 2 hours of now; this set shows what that filter saves.
It then marks every task as run now and makes the first task due at once (its crontab an hour ago,
its last run a day ago), and prints one JSON line: tasks created and enabled, crontab rows, and how
many tasks the DatabaseScheduler's start-up query will load.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import random
import sys
import uuid
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.reminders.beat_project.settings")

TASKS_PER_VARIANT = 10_000
PREFIX = {"twice": "twice-daily-dose-", "once": "once-daily-dose-"}
TASK_NAME = "tracking.tasks.patient_dose_reminder"  # only sent, never run: no worker listens here
SEED = 4


def beat_module(name: str) -> Any:
    """A module of django_celery_beat, which is installed in .venv-beat only (so mypy does not look for it)."""
    return importlib.import_module(f"django_celery_beat.{name}")


def ensure_database() -> str:
    import psycopg
    from django.conf import settings
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    database = settings.DATABASES["default"]
    name = str(database["NAME"])
    parts = {"host": database["HOST"], "port": database["PORT"], "user": database["USER"]}
    conninfo = make_conninfo(dbname="postgres", password=database["PASSWORD"] or None, **parts)
    with psycopg.connect(conninfo, autocommit=True) as maintenance:
        if not maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def setup() -> dict[str, int]:
    """The database, created if missing, and django_celery_beat's tables."""
    import django

    ensure_database()
    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    return {"tasks": beat_module("models").PeriodicTask.objects.count()}


def create_variant(variant: str) -> int:
    """Replace every task and crontab with the variant's 10,000 (its crontabs alone are in the table)."""
    from django.db import connection, transaction

    from bench.reminders.setup_data import ZONES

    models = beat_module("models")
    rng = random.Random(f"{SEED}-{variant}")  # noqa: S311 - reproducible data, not secrets
    crontabs = []
    tasks = []
    for number in range(TASKS_PER_VARIANT):
        hour = rng.randrange(12 if variant == "twice" else 24)
        crontab = models.CrontabSchedule(
            minute=str(5 * rng.randrange(12)),
            hour=f"{hour},{hour + 12}" if variant == "twice" else str(hour),
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=ZONES[number % len(ZONES)],
        )
        crontabs.append(crontab)
        patient = uuid.UUID(int=rng.getrandbits(128), version=4)
        tasks.append(
            models.PeriodicTask(
                name=f"{PREFIX[variant]}{number:05d}",
                task=TASK_NAME,
                args=json.dumps([str(patient)]),
                kwargs="{}",
                crontab=crontab,
            )
        )
    tables = ", ".join(model._meta.db_table for model in (models.PeriodicTask, models.CrontabSchedule))
    with transaction.atomic():
        # TRUNCATE: a queryset delete() runs django-celery-beat's change signal once per row.
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables}")
        models.CrontabSchedule.objects.bulk_create(crontabs, batch_size=2000)
        for task in tasks:
            task.crontab_id = task.crontab.pk
        models.PeriodicTask.objects.bulk_create(tasks, batch_size=2000)
        models.PeriodicTasks.update_changed()
    return len(tasks)


def reset(variant: str) -> dict[str, int]:
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    models = beat_module("models")
    scheduler_class = beat_module("schedulers").DatabaseScheduler
    prefix = PREFIX[variant]
    mine = models.PeriodicTask.objects.filter(name__startswith=prefix)
    others = models.PeriodicTask.objects.exclude(name__startswith=prefix).exclude(name="celery.backend_cleanup")
    created = 0
    if mine.count() != TASKS_PER_VARIANT or others.exists():
        created = create_variant(variant)
    now = timezone.now()
    with transaction.atomic():
        enabled = mine.update(enabled=True, last_run_at=now, total_run_count=0)
        due = mine.get(name=f"{prefix}00000")
        hour = (now - datetime.timedelta(hours=1)).hour
        models.CrontabSchedule.objects.filter(pk=due.crontab_id).update(
            minute="0", hour=f"{hour},{(hour + 12) % 24}" if variant == "twice" else str(hour), timezone="UTC"
        )
        mine.filter(pk=due.pk).update(last_run_at=now - datetime.timedelta(days=1))
        models.PeriodicTasks.update_changed()
    # What the scheduler's start-up query returns (an instance is not needed for the query itself).
    scheduler = scheduler_class.__new__(scheduler_class)
    loaded = scheduler.enabled_models_qs().count()
    return {
        "created": created,
        "enabled": enabled,
        "loaded": loaded,
        "crontabs": models.CrontabSchedule.objects.count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("setup", "reset"))
    parser.add_argument("--variant", choices=tuple(PREFIX), default="twice")
    args = parser.parse_args(argv)
    answer = setup() if args.command == "setup" else reset(args.variant)
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
