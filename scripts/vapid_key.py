"""The VAPID key `make run` signs Web Push with: made on first start, kept after, never in git.

    python scripts/vapid_key.py var/webpush/vapid-private.pem

Prints what WEBPUSH_VAPID_PRIVATE_KEY should be for the processes `make run` starts:
- the configured value, unchanged, when WEBPUSH_VAPID_PRIVATE_KEY is set in the environment or in
  the project's .env (a key of one's own is never replaced; nothing is made);
- otherwise the given file's path, after making a new P-256 key there (PEM, PKCS#8, mode 0600) if
  it does not exist yet. An existing file is kept as it is: every browser subscription was made
  with its public half, and a new key would leave them all silent. A file that is not a P-256
  private key is an error, never overwritten.

The public key (what GET /api/v1/push/vapid-public-key/ answers) goes to standard error. Needs only
`cryptography` and `django-environ`, both in requirements.txt; no Django setup, no Node.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from pathlib import Path

import environ
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

SETTING = "WEBPUSH_VAPID_PRIVATE_KEY"
PROJECT = Path(__file__).resolve().parent.parent


class KeyFileError(Exception):
    """The key file exists but is not a P-256 private key in PEM."""


def public_key_of(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


def read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key") from error
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise KeyFileError(f"{path} is not a P-256 (prime256v1) key, which VAPID needs")
    return key


def ensure_key(path: Path) -> tuple[ec.EllipticCurvePrivateKey, bool]:
    """The key in `path`, made there first if the file does not exist. Answers (key, made)."""
    if path.exists():
        return read_key(path), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        # O_EXCL: two starts at once make one key; the later one reads the first's.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_key(path), False
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return key, True


def configured(env_file: Path) -> str:
    """WEBPUSH_VAPID_PRIVATE_KEY from the environment, else from the .env file the settings also read."""
    environ.Env.read_env(env_file, overwrite=False)
    return os.environ.get(SETTING, "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="where the key is kept, e.g. var/webpush/vapid-private.pem")
    parser.add_argument("--env-file", type=Path, default=PROJECT / ".env", help="the .env the settings read")
    arguments = parser.parse_args(argv)
    existing = configured(arguments.env_file)
    if existing:
        print(f"Web Push: {SETTING} is set; no key made.", file=sys.stderr)
        print(existing)
        return 0
    path = arguments.path.resolve()
    try:
        key, made = ensure_key(path)
    except KeyFileError as error:
        advice = "Move it away to make a new key (browsers must then subscribe again)."
        print(f"Web Push: {error}. {advice}", file=sys.stderr)
        return 1
    said = "made a new VAPID key in" if made else "VAPID key kept in"
    print(f"Web Push: {said} {path}; public key {public_key_of(key)}", file=sys.stderr)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
