"""scripts/vapid_key.py, which `make run` calls (issue #16): a VAPID key made on first start, kept after.

Run as `make run` runs it, in a process of its own, with an environment that sets no key.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tracking.notifications.vapid import load_private_key, uncompressed_point

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "vapid_key.py"


def run(path: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "WEBPUSH_VAPID_PRIVATE_KEY"}
    return subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [sys.executable, str(SCRIPT), str(path), "--env-file", str(tmp_path / "no.env")],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_first_start_makes_a_key_only_its_owner_reads_and_the_second_keeps_it(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "webpush" / "vapid-private.pem"

    first = run(key_file, tmp_path)

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == str(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public_key = uncompressed_point(load_private_key(str(key_file)).public_key())  # what the API will answer
    assert f"made a new VAPID key in {key_file}; public key {public_key}" in first.stderr
    made = key_file.read_bytes()

    second = run(key_file, tmp_path)

    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == str(key_file)
    assert key_file.read_bytes() == made
    assert f"VAPID key kept in {key_file}; public key {public_key}" in second.stderr


def test_a_key_set_in_the_environment_is_used_and_nothing_is_made(tmp_path: Path) -> None:
    key_file = tmp_path / "vapid-private.pem"

    result = run(key_file, tmp_path, WEBPUSH_VAPID_PRIVATE_KEY="/etc/tacro/vapid.pem")

    assert result.returncode == 0
    assert result.stdout.strip() == "/etc/tacro/vapid.pem"
    assert not key_file.exists()


def test_a_key_set_in_dot_env_is_used_too(tmp_path: Path) -> None:
    (tmp_path / "no.env").write_text("WEBPUSH_VAPID_PRIVATE_KEY=/etc/tacro/from-dot-env.pem\n")
    key_file = tmp_path / "vapid-private.pem"

    result = run(key_file, tmp_path)

    assert result.stdout.strip() == "/etc/tacro/from-dot-env.pem"
    assert not key_file.exists()


@pytest.mark.parametrize("content", [b"not a key\n", b""])
def test_a_file_that_is_not_a_key_is_an_error_and_is_not_replaced(tmp_path: Path, content: bytes) -> None:
    key_file = tmp_path / "vapid-private.pem"
    key_file.write_bytes(content)

    result = run(key_file, tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "is not an unencrypted PEM private key" in result.stderr
    assert key_file.read_bytes() == content
