"""Settings come from the environment: the embedded default, and a production mode that refuses to guess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
STRONG_SECRET = "Zx8#kP2$vQ9!mW4&nR7*tY1^bU6(eI3)oA5-sD0_fG8+hJ2=lK9~cV4"


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run manage.py in a clean environment: only what the test passes, plus PATH."""
    clean_env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "tacro_topical.settings", **env}
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = run_manage("check", DJANGO_ENV="production", ALLOWED_HOSTS="api.example.org")

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts() -> None:
    result = run_manage("check", DJANGO_ENV="production", SECRET_KEY=STRONG_SECRET)

    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_check_deploy_is_clean_in_production_mode() -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        SECRET_KEY=STRONG_SECRET,
        ALLOWED_HOSTS="api.example.org",
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_is_off_unless_asked_for() -> None:
    result = run_manage("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG)")

    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "sqlite3 filesystem://"),
        (
            {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"},
            "postgresql redis://127.0.0.1:6379/0",
        ),
    ],
    ids=["embedded-default", "postgresql-and-redis"],
)
def test_database_and_broker_come_from_the_environment(env: dict[str, str], expected: str) -> None:
    code = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1], settings.CELERY_BROKER_URL)"
    )
    result = run_manage("shell", "--no-imports", "-c", code, **env)

    assert result.stdout.strip() == expected, result.stderr


def test_a_service_error_about_the_whole_object_reaches_clients_under_drfs_key() -> None:
    from django.core.exceptions import ValidationError

    from tacro_topical.errors import api_exception_handler

    response = api_exception_handler(ValidationError("Send at least one score."), {})

    assert response is not None
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["Send at least one score."]}
