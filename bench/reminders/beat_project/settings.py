"""Settings of the django-celery-beat baseline: django_celery_beat alone, on a PostgreSQL database of its own.

Runs in bench/reminders/.venv-beat (Django 6.0; django-celery-beat 2.9.0 does not take 6.1). The same
PostgreSQL server and Redis database as the rest of issue #4's benchmark, through BEAT_DATABASE_URL
(default postgres://postgres@127.0.0.1:5432/tacro_bench_beat) and CELERY_BROKER_URL (default Redis 14).
"""

import os
from urllib.parse import unquote, urlsplit

_database = urlsplit(os.environ.get("BEAT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tacro_bench_beat"))

SECRET_KEY = "tacro-bench-beat-only-key-not-used-anywhere-else-0123456789abcdefghijklmnop"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS: list[str] = []
INSTALLED_APPS = ["django_celery_beat"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": _database.path.lstrip("/"),
        "HOST": _database.hostname or "",
        "PORT": str(_database.port or ""),
        "USER": unquote(_database.username or ""),
        "PASSWORD": unquote(_database.password or ""),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
CELERY_TIMEZONE = "UTC"
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
