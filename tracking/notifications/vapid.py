"""The server's VAPID public key (RFC 8292), which a browser needs to subscribe to Web Push.

A browser's `PushManager.subscribe({applicationServerKey})` takes the key as the uncompressed P-256
point (65 bytes, 0x04 || X || Y) in base64url without padding. It is derived from the signing key,
WEBPUSH_VAPID_PRIVATE_KEY, read the way the Web Push transport reads it (a PEM or DER file path, or
base64url raw or DER), so the key handed to browsers is always the one pushes are signed with.
WEBPUSH_VAPID_PUBLIC_KEY is used only where the private key is not set: a web process that never
signs a push need not hold the private key.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid, VapidException  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)


class VapidKeyUnavailableError(Exception):
    """No public key can be given: none is configured, or the configured one cannot be read. Says which."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def uncompressed_point(key: ec.EllipticCurvePublicKey) -> str:
    """The public key as browsers' applicationServerKey takes it: base64url, no padding."""
    return b64url(key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def load_private_key(configured: str) -> ec.EllipticCurvePrivateKey:
    """WEBPUSH_VAPID_PRIVATE_KEY's key: a PEM/DER file path, or base64url raw/DER; ValueError if unreadable.

    A path that does not exist is never handed to py_vapid, which would generate a key and save it there.
    """
    try:
        if os.path.isfile(configured):
            vapid = Vapid.from_file(private_key_file=configured)
        else:
            vapid = Vapid.from_string(private_key=configured)
    except (VapidException, ValueError, TypeError, binascii.Error) as error:
        raise ValueError("neither a readable key file nor a base64url key") from error
    key = vapid.private_key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 key")
    return key


def vapid_public_key() -> str:
    """The configured VAPID public key (see the module's docstring), or VapidKeyUnavailableError saying why."""
    private = settings.WEBPUSH_VAPID_PRIVATE_KEY
    if private:
        try:
            return uncompressed_point(load_private_key(private).public_key())
        except ValueError as error:
            # Configuration, not the caller: said in the log, and to the client only that push is off.
            logger.warning("WEBPUSH_VAPID_PRIVATE_KEY cannot be used: it is %s", error)
            raise VapidKeyUnavailableError(
                "Web Push is not available on this server: its VAPID key cannot be read."
            ) from error
    public = settings.WEBPUSH_VAPID_PUBLIC_KEY
    if public:
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url_decode(public.strip()))
        except (ValueError, binascii.Error) as error:
            logger.warning("WEBPUSH_VAPID_PUBLIC_KEY is not a base64url P-256 public key")
            raise VapidKeyUnavailableError(
                "Web Push is not available on this server: its VAPID key cannot be read."
            ) from error
        return uncompressed_point(key)
    raise VapidKeyUnavailableError("Web Push is not configured on this server: no VAPID key is set.")
