"""The suite runs on the real services when it can, and CI (REQUIRE_SERVICES=1) never skips them.

The Celery tests run a real worker (celery.contrib.testing) through each broker the app supports:
Redis, and kombu's filesystem transport, the embedded default of `make run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping, used by the worker check)
import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection

from tacro_topical.celery import ensure_filesystem_broker_folders
from tests.conftest import service_unavailable


@pytest.mark.django_db
def test_the_suite_runs_on_postgresql_when_it_is_reachable() -> None:
    if connection.vendor != "postgresql":
        service_unavailable("PostgreSQL")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.fixture
def app_with(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Celery]]:
    """A Celery app configured from our Django settings, as `celery -A tacro_topical` is, plus overrides.

    A fresh app per test: Celery caches its result backend and connection pool per app.
    """
    # Celery reads these variables before its configuration; the test's own broker must win.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    made: list[Celery] = []

    def make(**overrides: Any) -> Celery:
        test_app = Celery("tacro_topical", set_as_current=False)
        test_app.config_from_object("django.conf:settings", namespace="CELERY")
        # The ping check reads the answer back, so this app keeps results.
        test_app.conf.update(task_always_eager=False, task_ignore_result=False, **overrides)
        made.append(test_app)
        return test_app

    yield make
    for test_app in made:
        test_app.close()


def round_trip_through_a_real_worker(celery_app: Celery) -> None:
    # start_worker's ping check sends celery.ping through the broker and waits for the worker's answer.
    with start_worker(celery_app, pool="solo", perform_ping_check=True, ping_task_timeout=20, shutdown_timeout=20):
        pass


def test_a_task_round_trips_through_redis(app_with: Callable[..., Celery], redis_url: str) -> None:
    round_trip_through_a_real_worker(
        app_with(broker_url=redis_url, result_backend=redis_url, broker_transport_options={})
    )


def test_a_task_round_trips_through_the_filesystem_transport(app_with: Callable[..., Celery], tmp_path: Path) -> None:
    queue = str(tmp_path / "queue")
    celery_app = app_with(
        broker_url="filesystem://",
        result_backend=f"file://{tmp_path / 'results'}",
        broker_transport_options={
            "data_folder_in": queue,
            "data_folder_out": queue,
            "control_folder": str(tmp_path / "control"),
            "processed_folder": str(tmp_path / "processed"),
        },
    )
    (tmp_path / "results").mkdir()
    ensure_filesystem_broker_folders(celery_app)

    round_trip_through_a_real_worker(celery_app)


def test_ci_requires_the_services() -> None:
    """Under REQUIRE_SERVICES=1 both services must have been found; elsewhere this only reports."""
    if not settings.REQUIRE_SERVICES:
        pytest.skip("REQUIRE_SERVICES is not set")
    assert settings.TEST_REDIS_URL, "Redis was not found"
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
