"""Apple Push Notification service, HTTP/2, with a token-based (ES256 JWT) provider connection.

APNs' URL comes from settings (APNS_ENDPOINT), never from a client: the device token only fills a
path segment, hex-checked. The provider JWT it caches is keyed by the settings, so a test's
override or a changed deployment takes effect without a restart.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from tracking.notifications.transports.base import (
    DeactivationReason,
    DeliveryError,
    Message,
    ProcessClient,
    is_permanent_status,
    require_device,
    ttl_seconds,
)

if TYPE_CHECKING:
    from tracking.models import Device


# APNs device tokens are hex; checking keeps anything else out of the request path.
_APNS_DEVICE_TOKEN = re.compile(r"[0-9a-fA-F]{16,200}")
# Apple rejects provider tokens older than an hour and throttles ones renewed more often than every
# 20 minutes; 50 minutes sits between.
_APNS_TOKEN_LIFETIME = 50 * 60
_APNS_GONE_REASONS = frozenset({"BadDeviceToken", "Unregistered"})
_APNS_REQUIRED_SETTINGS = ("APNS_KEY_FILE", "APNS_KEY_ID", "APNS_TEAM_ID", "APNS_TOPIC")


@dataclass(frozen=True)
class _ApnsConfig:
    key_file: str
    key_id: str
    team_id: str
    topic: str


@dataclass(frozen=True)
class _ProviderToken:
    config: _ApnsConfig
    token: str
    issued_at: float


def _apns_config() -> _ApnsConfig:
    return _ApnsConfig(
        key_file=settings.APNS_KEY_FILE,
        key_id=settings.APNS_KEY_ID,
        team_id=settings.APNS_TEAM_ID,
        topic=settings.APNS_TOPIC,
    )


def _apns_signing_key(key_file: str) -> ec.EllipticCurvePrivateKey:
    try:
        with open(key_file, "rb") as file:
            key = serialization.load_pem_private_key(file.read(), password=None)
    except (OSError, ValueError, TypeError) as error:
        raise DeliveryError(
            f"APNS_KEY_FILE cannot be read as a .p8 key: {type(error).__name__}", permanent=True
        ) from error
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise DeliveryError("APNS_KEY_FILE does not hold an EC (ES256) key.", permanent=True)
    return key


def _apns_reason(response: httpx.Response) -> str:
    try:
        reason = response.json().get("reason", "")
    except (ValueError, AttributeError):
        return ""
    return reason if isinstance(reason, str) else ""


class ApnsTransport:
    """Apple Push Notification service, HTTP/2, with a token-based (ES256 JWT) provider connection.

    Enabled when APNS_KEY_FILE, APNS_KEY_ID, APNS_TEAM_ID and APNS_TOPIC are all set. The
    apns-collapse-id is the message's collapse key, so a re-sent duplicate replaces the earlier one.
    """

    channel = "apns"
    needs_device = True
    delivered_when_written = False

    def __init__(self) -> None:
        self._client = ProcessClient(http2=True)
        self._token_lock = threading.Lock()
        self._provider_token: _ProviderToken | None = None

    def unavailable_reason(self) -> str | None:
        missing = [name for name in _APNS_REQUIRED_SETTINGS if not getattr(settings, name)]
        if missing:
            return f"APNs is not configured: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set."
        return None

    def send(self, message: Message, device: Device | None) -> None:
        device = require_device(device, self.channel)
        device_token = device.token.strip()
        if not _APNS_DEVICE_TOKEN.fullmatch(device_token):
            raise DeliveryError.gone(DeactivationReason.APNS_MALFORMED_DEVICE)
        config = _apns_config()
        url = f"{settings.APNS_ENDPOINT.rstrip('/')}/3/device/{device_token}"
        headers = {
            "authorization": f"bearer {self._token_for(config)}",
            "apns-topic": config.topic,
            "apns-push-type": "alert",
            "apns-priority": "10",
            "apns-collapse-id": message.collapse_key,
            "apns-expiration": str(int(time.time()) + ttl_seconds()),
        }
        body = {"aps": {"alert": {"title": message.title, "body": message.body}}, **message.push_payload()}
        response = self._client.post_json(url, service="APNs", json=body, headers=headers)
        if response.is_success:
            return
        raise self._error(response)

    def _error(self, response: httpx.Response) -> DeliveryError:
        reason = _apns_reason(response)
        detail = f"APNs answered {response.status_code} {reason}".rstrip() + "."
        if response.status_code == 410 or reason in _APNS_GONE_REASONS:
            return DeliveryError.gone(DeactivationReason.APNS_UNREGISTERED)
        if reason == "ExpiredProviderToken":
            # Our cached JWT aged out (a clock jump, a suspended worker): a fresh one will do.
            with self._token_lock:
                self._provider_token = None
            return DeliveryError(detail, permanent=False)
        return DeliveryError(detail, permanent=is_permanent_status(response.status_code))

    def _token_for(self, config: _ApnsConfig) -> str:
        """The provider JWT, reused until it nears Apple's one-hour limit or the settings change."""
        with self._token_lock:
            cached = self._provider_token
            if cached is not None and cached.config == config and time.time() - cached.issued_at < _APNS_TOKEN_LIFETIME:
                return cached.token
            issued_at = time.time()
            token = jwt.encode(
                {"iss": config.team_id, "iat": int(issued_at)},
                _apns_signing_key(config.key_file),
                algorithm="ES256",
                headers={"kid": config.key_id},
            )
            self._provider_token = _ProviderToken(config=config, token=token, issued_at=issued_at)
            return token
