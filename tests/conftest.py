from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from rest_framework.test import APIClient

from tacro_topical.celery import app as celery_app

# The shared personas (tests/personas.py), as fixtures for every test: each is built only when asked for.
from tests.personas import (  # noqa: F401
    ad_patient,
    caregiver,
    child,
    cle_patient,
    clinic,
    clinic_staff,
    dermatologist,
    persona_clinic,
    stranger,
    world,
)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    # Throttle counters live in the cache; one test's requests must not throttle the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def service_unavailable(name: str) -> None:
    """Skip a test whose service is down, or fail it when CI requires the services."""
    message = f"{name} is not reachable"
    if getattr(settings, "REQUIRE_SERVICES", False):
        pytest.fail(f"{message}, and REQUIRE_SERVICES=1 forbids skipping.")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    test_redis_url = getattr(settings, "TEST_REDIS_URL", None)
    if not test_redis_url:
        service_unavailable("Redis")
    return str(test_redis_url)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Celery tasks run in place, so the work a request hands to a worker happens inside the test."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
