"""gunicorn's access log keeps no query strings: the admin's searches carry patient names and e-mails.

A real gunicorn, started in the project folder as the Procfile starts it (so it reads gunicorn.conf.py),
on a loopback port; the requests need no database.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
SECRET = "Noah.Weber"  # what a clinician typed into the admin's search box


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                stderr = server.stderr.read().decode() if server.stderr else ""
                raise RuntimeError(f"gunicorn did not start: {stderr[-2000:]}") from None
            time.sleep(0.1)


def get(url: str, referrer: str | None = None) -> None:
    request = urllib.request.Request(url, headers={"Referer": referrer} if referrer else {})  # noqa: S310 - http on loopback
    # A 404 or a redirect to sign in: the answer does not matter here, the log line does.
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - http on loopback only


@pytest.fixture(scope="module")
def access_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The access log of a gunicorn on loopback that answered three requests, then stopped."""
    log = tmp_path_factory.mktemp("gunicorn") / "access.log"
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and gunicorn
        [
            *(sys.executable, "-m", "gunicorn", "tacro_topical.wsgi"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(log)),
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tacro_topical.settings"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_listening(server, port)
        base = f"http://127.0.0.1:{port}"
        get(f"{base}/api/v1/no-such-route/?q={SECRET}&email={SECRET}%40example.org")
        get(f"{base}/admin/accounts/patient/?q={SECRET}", referrer=f"{base}/admin/accounts/patient/?q={SECRET}")
        get(f"{base}/api/v1/forged%0A127.0.0.1%20-%20-%20fake-line/")
        time.sleep(0.5)  # gunicorn writes a line just after its answer
    finally:
        server.terminate()
        server.wait(timeout=30)
    return log


def test_the_access_log_names_each_path_but_keeps_no_query_string(access_log: Path) -> None:
    lines = access_log.read_text().splitlines()

    assert any('"GET /api/v1/no-such-route/ HTTP/1.1" 404' in line for line in lines), lines
    assert any('"GET /admin/accounts/patient/ HTTP/1.1" 302' in line for line in lines), lines
    assert not [line for line in lines if SECRET in line or "?" in line]


def test_the_referrer_is_logged_without_its_query_string(access_log: Path) -> None:
    lines = access_log.read_text().splitlines()

    assert any('/admin/accounts/patient/" "' in line for line in lines), lines


def test_a_line_break_in_a_path_cannot_forge_a_second_log_line(access_log: Path) -> None:
    lines = access_log.read_text().splitlines()

    assert any("/api/v1/forged%0A127.0.0.1" in line for line in lines), lines  # as sent, still encoded
    assert all(line.startswith("127.0.0.1 - - [") for line in lines), lines  # no "127.0.0.1 - - fake-line"
