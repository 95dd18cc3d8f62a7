"""What setup_data.py and run.py share: the database, Redis, the bench settings and the patients file.

Nothing here imports a model at import time, so it can run before `django.setup()`.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SETTINGS_MODULE = "bench.api_load.settings"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tacro_bench_api"
# Throttle counts live in the Django cache: Redis, as in production, in a database of the bench's own.
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/13"
# Each created log enqueues `patient_logs_changed` on commit: Redis, as in production, but no worker
# takes the tasks here, so run.py empties this database before every run.
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/12"
FORBIDDEN_REDIS_DATABASES = frozenset({0, 14, 15})  # the default one, the reminder bench's, the test suite's
EMAIL_DOMAIN = "tacro-bench-api.invalid"
# JWT access tokens for every patient (setup_data.py writes it, the locustfile reads it). Outside the
# repository, so the work tree stays clean; readable by its owner only.
DEFAULT_PATIENTS_FILE = Path(tempfile.gettempdir()) / "tacro-bench-api-load" / "patients.json"
# Production runs behind a TLS-terminating proxy: the bench sends the header such a proxy adds, so
# SECURE_SSL_REDIRECT and the rest of the HTTPS hardening stay on and no request needs HTTPS.
PROXY_HEADER = ("X-Forwarded-Proto", "https")


FTU_CHOICES = (0.5, 1, 1.5, 2, 2.5, 3)


def application_path(patient: dict[str, Any], target: str) -> str:
    """The route a benchmark request posts to: the API's, or the floor's (bench/api_load/urls.py)."""
    if target == "app":
        return f"/api/v1/patients/{patient['patient']}/applications/"
    return f"/bench/floor/patients/{patient['patient']}/applications/"


def application_body(
    patient: dict[str, Any], *, target: str, applied: datetime.datetime, amount_ftu: float | None
) -> dict[str, Any]:
    """One application of the patient's regimen under a fresh id, with no `regimen`: the API finds the
    active one. The floor, which looks nothing up, also gets the regimen and the creating user."""
    item: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "applied_at": applied.replace(microsecond=0).isoformat(),
        "body_areas": patient["body_areas"],
    }
    if amount_ftu is not None:
        item["amount_ftu"] = amount_ftu
    if target == "floor":
        item["regimen"] = patient["regimen"]
        item["created_by"] = patient["user"]
    return item


def check_redis_urls() -> None:
    from bench import shared

    cache, broker = os.environ["CACHE_URL"], os.environ["CELERY_BROKER_URL"]
    for name, url in (("CACHE_URL", cache), ("CELERY_BROKER_URL", broker)):
        shared.check_redis_url(url, name=name, forbidden=FORBIDDEN_REDIS_DATABASES)
    if cache == broker:
        raise SystemExit("CACHE_URL and CELERY_BROKER_URL must be different Redis databases (run.py empties both).")


def patients_file() -> Path:
    return Path(os.environ.get("BENCH_API_PATIENTS_FILE", str(DEFAULT_PATIENTS_FILE)))


def configure_environment() -> None:
    """The bench's settings module on production settings, its database and Redis databases, host 127.0.0.1.

    Anything already set in the environment wins, except the settings module, which is always the bench's.
    """
    from bench import shared

    shared.project_root_first(HERE)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("CACHE_URL", DEFAULT_CACHE_URL)
    os.environ.setdefault("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("SECURE_PROXY_SSL_HEADER", "HTTP_" + PROXY_HEADER[0].upper().replace("-", "_"))
    check_redis_urls()
    from bench import environment

    environment.configure_environment()


def configure(*, recreate: bool = False) -> str:
    """Production settings on the bench database (created if missing, migrated); the database's name."""
    configure_environment()
    from bench import environment

    return environment.prepare(recreate=recreate)
