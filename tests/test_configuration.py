"""Settings come from the environment: a local mode that needs nothing else, a production mode that refuses to
guess, and no mode at all refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
STRONG_SECRET = "Zx8#kP2$vQ9!mW4&nR7*tY1^bU6(eI3)oA5-sD0_fG8+hJ2=lK9~cV4"
STRONG_JWT_KEY = "q7Vd2Lk9Rw4Tz8Xn3Bm6Hc1Pf5Gs0Jy-another-key-entirely"
PRODUCTION = {"DJANGO_ENV": "production", "ALLOWED_HOSTS": "api.example.org", "SITE_URL": "https://api.example.org"}


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
    result = run_manage("check", DJANGO_ENV="production", SECRET_KEY=STRONG_SECRET, JWT_SIGNING_KEY=STRONG_JWT_KEY)

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
        JWT_SIGNING_KEY=STRONG_JWT_KEY,
        ALLOWED_HOSTS="api.example.org",
        SITE_URL="https://api.example.org",
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_is_off_unless_asked_for() -> None:
    result = run_manage(
        "shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG)", DJANGO_ENV="local"
    )

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
    result = run_manage("shell", "--no-imports", "-c", code, DJANGO_ENV="local", **env)

    assert result.stdout.strip() == expected, result.stderr


# --- Startup: a mode, and keys of the deployment's own outside local mode ---------------------------------


def test_without_a_mode_the_server_refuses_to_start_and_says_what_to_set() -> None:
    result = run_manage("check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_ENV is not set" in result.stderr
    assert "DJANGO_ENV=production" in result.stderr
    assert "DJANGO_ENV=local" in result.stderr


def test_an_unknown_mode_is_refused_by_name() -> None:
    result = run_manage("check", DJANGO_ENV="development", SECRET_KEY=STRONG_SECRET, JWT_SIGNING_KEY=STRONG_JWT_KEY)

    assert result.returncode != 0
    assert "DJANGO_ENV='development' is not a mode" in result.stderr


def test_local_mode_starts_with_nothing_else_set() -> None:
    result = run_manage("check", DJANGO_ENV="local")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_local_mode_signs_tokens_with_a_key_of_their_own() -> None:
    code = "from django.conf import settings; print(settings.SIMPLE_JWT['SIGNING_KEY'] != settings.SECRET_KEY)"

    result = run_manage("shell", "--no-imports", "-c", code, DJANGO_ENV="local")

    assert result.stdout.strip() == "True", result.stderr


def test_production_refuses_to_start_without_a_jwt_signing_key() -> None:
    result = run_manage("check", SECRET_KEY=STRONG_SECRET, **PRODUCTION)

    assert result.returncode != 0
    assert "JWT_SIGNING_KEY" in result.stderr


def test_production_refuses_a_jwt_signing_key_equal_to_the_secret_key() -> None:
    result = run_manage("check", SECRET_KEY=STRONG_SECRET, JWT_SIGNING_KEY=STRONG_SECRET, **PRODUCTION)

    assert result.returncode != 0
    assert "JWT_SIGNING_KEY must differ from SECRET_KEY" in result.stderr


def test_production_refuses_a_short_secret_key() -> None:
    # Review of #22: SECRET_KEY signs the e-mailed reset links, so a short one could be guessed from one link.
    result = run_manage("check", SECRET_KEY="x" * 31, JWT_SIGNING_KEY=STRONG_JWT_KEY, **PRODUCTION)

    assert result.returncode != 0
    assert "SECRET_KEY must be at least 32 characters" in result.stderr


@pytest.mark.parametrize("site_url", [None, "http://api.example.org", "http://127.0.0.1:8000"])
def test_production_refuses_to_start_without_an_https_site_url(site_url: str | None) -> None:
    environment = {**PRODUCTION, "SECRET_KEY": STRONG_SECRET, "JWT_SIGNING_KEY": STRONG_JWT_KEY}
    environment.pop("SITE_URL")
    if site_url is not None:
        environment["SITE_URL"] = site_url

    result = run_manage("check", **environment)

    assert result.returncode != 0
    assert "SITE_URL" in result.stderr


@pytest.mark.parametrize("variable", ["SECRET_KEY", "JWT_SIGNING_KEY"])
@pytest.mark.parametrize("local_key", ["LOCAL_SECRET_KEY", "LOCAL_JWT_SIGNING_KEY"])
def test_production_refuses_the_repositorys_local_keys(variable: str, local_key: str) -> None:
    from tacro_topical import settings as project_settings

    keys = {
        "SECRET_KEY": STRONG_SECRET,
        "JWT_SIGNING_KEY": STRONG_JWT_KEY,
        variable: getattr(project_settings, local_key),
    }

    result = run_manage("check", **keys, **PRODUCTION)

    assert result.returncode != 0
    assert f"{variable} is the repository's local key" in result.stderr


def test_production_refuses_a_jwt_signing_key_too_short_for_hs256() -> None:
    result = run_manage(
        "check", SECRET_KEY=STRONG_SECRET, JWT_SIGNING_KEY="short-key-31-characters-long-xx", **PRODUCTION
    )

    assert result.returncode != 0
    assert "JWT_SIGNING_KEY must be at least 32 characters" in result.stderr


def test_production_signs_tokens_with_the_jwt_signing_key() -> None:
    code = "from django.conf import settings; print(settings.SIMPLE_JWT['SIGNING_KEY'])"

    result = run_manage(
        "shell", "--no-imports", "-c", code, SECRET_KEY=STRONG_SECRET, JWT_SIGNING_KEY=STRONG_JWT_KEY, **PRODUCTION
    )

    assert result.stdout.strip() == STRONG_JWT_KEY, result.stderr


@pytest.mark.parametrize(
    "environment",
    [
        {"ALLOWED_HOSTS": "api.example.org"},
        {"SECRET_KEY": STRONG_SECRET, "JWT_SIGNING_KEY": STRONG_JWT_KEY, **PRODUCTION},
    ],
    ids=["DJANGO_ENV-forgotten", "production"],
)
@pytest.mark.parametrize("signed_with", ["SECRET_KEY", "JWT_SIGNING_KEY"])
def test_a_token_forged_with_a_key_from_the_repository_is_never_accepted_on_a_server(
    environment: dict[str, str], signed_with: str
) -> None:
    """The finding: a deployment without DJANGO_ENV took tokens forged with the repository's key (one for user 3
    read every patient as clinic staff). Now such a deployment does not start, and production knows no such key."""
    import jwt
    from django.conf import settings

    local_keys = {"SECRET_KEY": settings.SECRET_KEY, "JWT_SIGNING_KEY": settings.SIMPLE_JWT["SIGNING_KEY"]}
    forged = jwt.encode(
        {"token_type": "access", "user_id": 3, "jti": "forged", "exp": 4_102_444_800},
        local_keys[signed_with],
        algorithm="HS256",
    )
    code = (
        "from rest_framework_simplejwt.tokens import AccessToken\n"
        "try:\n"
        f"    AccessToken({forged!r})\n"
        "    print('accepted')\n"
        "except Exception as error:\n"
        "    print('refused', type(error).__name__)"
    )

    result = run_manage("shell", "--no-imports", "-c", code, **environment)

    assert "accepted" not in result.stdout
    if environment.get("DJANGO_ENV") == "production":
        assert result.stdout.strip() == "refused TokenError", result.stderr
    else:
        assert "DJANGO_ENV is not set" in result.stderr


def test_a_service_error_about_the_whole_object_reaches_clients_under_drfs_key() -> None:
    from django.core.exceptions import ValidationError

    from tacro_topical.errors import api_exception_handler

    response = api_exception_handler(ValidationError("Send at least one score."), {})

    assert response is not None
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["Send at least one score."]}
