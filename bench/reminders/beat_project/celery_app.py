"""The baseline's Celery app, in the shape of tacro_topical/celery.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.reminders.beat_project.settings")

app = Celery("tacro_bench_beat")
app.config_from_object("django.conf:settings", namespace="CELERY")
