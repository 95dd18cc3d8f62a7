"""Production's defaults for mail and the API docs, read from the settings a real process loads.

Settings are read once, at import, so each case starts `manage.py` in a production environment of its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "Zx8#kP2$vQ9!mW4&nR7*tY1^bU6(eI3)oA5-sD0_fG8+hJ2=lK9~cV4",
    "JWT_SIGNING_KEY": "a-production-jwt-key-of-its-own-Qm7Lp2Xv9Rt4Wz8Nc3Hb6Jd1",
    "ALLOWED_HOSTS": "api.example.org",
    "SITE_URL": "https://api.example.org",
}
MAIL_CONNECTION = (
    "from django.core.mail import get_connection; c = get_connection(); "
    "print(type(c).__module__, c.host, c.port, bool(c.use_tls), bool(c.use_ssl))"
)


def production_shell(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in `manage.py shell` with only the production environment given (and PATH)."""
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=PROJECT_DIR,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "tacro_topical.settings", **PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_mail_defaults_to_starttls_on_this_host() -> None:
    result = production_shell(MAIL_CONNECTION)

    assert result.stdout.split() == ["django.core.mail.backends.smtp", "localhost", "587", "True", "False"], (
        result.stderr
    )


@pytest.mark.parametrize(
    "url", ["smtp://mail.example.org:25", "smtp://user:secret@203.0.113.5:587"], ids=["by-name", "by-address"]
)
def test_production_refuses_to_start_with_plain_smtp_to_another_host(url: str) -> None:
    result = production_shell("from django.conf import settings; print(settings.DEBUG)", EMAIL_URL=url)

    assert result.returncode != 0
    assert "EMAIL_URL sends mail to" in result.stderr
    assert "without TLS" in result.stderr
    assert "secret" not in result.stderr  # the password in the URL is not repeated


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp+tls://user:pw@mail.example.org:587", ["mail.example.org", "587", "True", "False"]),
        ("smtp+ssl://user:pw@mail.example.org:465", ["mail.example.org", "465", "False", "True"]),
        ("smtp://localhost:25", ["localhost", "25", "False", "False"]),
    ],
    ids=["starttls", "implicit-tls", "plain-to-a-relay-on-this-host"],
)
def test_production_takes_encrypted_smtp_or_plain_smtp_to_this_host(url: str, expected: list[str]) -> None:
    result = production_shell(MAIL_CONNECTION, EMAIL_URL=url)

    assert result.stdout.split()[1:] == expected, result.stderr


def test_production_keeps_the_api_docs_for_signed_in_clinicians_unless_told_otherwise() -> None:
    code = "from django.conf import settings; print(settings.API_DOCS_PUBLIC)"

    assert production_shell(code).stdout.strip() == "False"
    assert production_shell(code, API_DOCS_PUBLIC="true").stdout.strip() == "True"
