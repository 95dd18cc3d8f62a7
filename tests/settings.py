"""Test settings: the project's settings, on PostgreSQL and Redis whenever they are reachable.

`DATABASE_URL` / `TEST_REDIS_URL` win when set. Otherwise the local services are probed and
used if they answer; if not, the suite falls back to SQLite and skips Redis tests, unless
`REQUIRE_SERVICES=1`, under which a missing service fails the tests that need it.
"""

import os
import socket


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"

# The suite runs in local mode whatever the shell says (production would redirect every request to HTTPS
# and want keys of its own); processes the tests start inherit it.
os.environ["DJANGO_ENV"] = "local"

if "DATABASE_URL" not in os.environ and _reachable("127.0.0.1", 5432):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/tacro_topical"

TEST_REDIS_URL: str | None = os.environ.get("TEST_REDIS_URL")
if TEST_REDIS_URL is None and _reachable("127.0.0.1", 6379):
    # Database 15, so tests never touch what a developer's `make run` keeps in database 0.
    TEST_REDIS_URL = "redis://127.0.0.1:6379/15"

from tacro_topical.settings import *  # noqa: E402, F403

# Unit tests never reach a broker; the tests that run a real worker set their own broker.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}

# Argon2 is the real hasher (tested in tests/accounts/test_passwords.py); MD5 keeps the suite fast.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
