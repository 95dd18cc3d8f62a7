"""Web Push (RFC 8030, encrypted per RFC 8291, signed with VAPID per RFC 8292) to a browser subscription.

A Web Push endpoint comes from the client, so it goes through the outbound guard
(tacro_topical/outbound.py) at registration and again at every send. httpx follows no redirect
unless told to. The transport reads its settings on every send, so a test's override or a changed
deployment takes effect without a restart.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from py_vapid import Vapid, VapidException  # type: ignore[import-untyped]
from pywebpush import WebPusher, WebPushException  # type: ignore[import-untyped]

from tacro_topical import outbound
from tracking.notifications.transports.base import (
    DeactivationReason,
    DeliveryError,
    Message,
    clip,
    is_permanent_status,
    require_device,
    ttl_seconds,
)

if TYPE_CHECKING:
    from tracking.models import Device

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebPushSubscription:
    """The parts of a browser's PushSubscription JSON a send needs."""

    endpoint: str
    p256dh: str
    auth: str

    def as_info(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def parse_subscription(token: str) -> WebPushSubscription:
    """Read a Device.token holding PushSubscription JSON, or raise ValueError saying what is wrong.

    Checked here rather than left to pywebpush, which lets some malformed keys through to a
    cryptography error with no word about the subscription.
    """
    try:
        data = json.loads(token)
    except json.JSONDecodeError as error:
        raise ValueError("it is not JSON") from error
    if not isinstance(data, dict):
        raise ValueError("it is not a JSON object")
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
        raise ValueError("its endpoint is not an http(s) URL")
    if not urlsplit(endpoint).hostname:
        raise ValueError("its endpoint has no host")
    if not isinstance(keys, dict) or not isinstance(keys.get("p256dh"), str) or not isinstance(keys.get("auth"), str):
        raise ValueError("it lacks the p256dh and auth keys")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64url_decode(keys["p256dh"]))
    except (ValueError, binascii.Error) as error:
        raise ValueError("its p256dh key is not a P-256 public key in base64url") from error
    try:
        auth_secret = _b64url_decode(keys["auth"])
    except (ValueError, binascii.Error) as error:
        raise ValueError("its auth secret is not base64url") from error
    if len(auth_secret) != 16:
        # RFC 8291: the authentication secret is 16 octets.
        raise ValueError("its auth secret is not 16 bytes")
    return WebPushSubscription(endpoint=endpoint, p256dh=keys["p256dh"], auth=keys["auth"])


def _load_vapid_key(configured: str) -> Vapid:
    """The VAPID signing key from WEBPUSH_VAPID_PRIVATE_KEY: a PEM/DER file path, or base64url raw/DER.

    Loaded here, not by pywebpush, so that a bad key is reported as configuration, and so that a
    path that does not exist is not handed to py_vapid, which would generate and save a new key there.
    """
    try:
        if os.path.isfile(configured):
            return Vapid.from_file(private_key_file=configured)
        return Vapid.from_string(private_key=configured)
    except (VapidException, ValueError, TypeError) as error:
        raise DeliveryError(
            "WEBPUSH_VAPID_PRIVATE_KEY is neither a readable key file nor a base64url key.", permanent=True
        ) from error


def subscription_json(subscription: object) -> str:
    """A subscription as stored: its JSON in one form (no spaces, keys sorted), so one subscription,
    however the browser spaced or ordered it, is one device."""
    return json.dumps(subscription, separators=(",", ":"), sort_keys=True)


def registrable_subscription(token: str) -> str:
    """A Web Push token as registered (`subscription_json`), or ValueError in words for a 400 on `token`.

    The endpoint must pass the outbound guard's URL check (no DNS lookup here: every send resolves
    the name and checks the addresses again).
    """
    try:
        subscription = parse_subscription(token)
    except ValueError as error:
        raise ValueError(
            f"A Web Push token is the browser's PushSubscription as JSON, and this one cannot be used: {error}."
        ) from error
    try:
        outbound.check_url(subscription.endpoint, allowed_hosts=settings.WEBPUSH_ALLOWED_HOSTS)
    except outbound.DestinationRefusedError as refused:
        accepted = ", ".join(settings.WEBPUSH_ALLOWED_HOSTS)
        raise ValueError(
            f"The subscription's endpoint {refused}. Accepted: an https:// URL on port 443 of a browser"
            f" push service: {accepted}, or a subdomain of one."
        ) from refused
    return subscription_json(json.loads(token))


# RFC 8292 section 2: a push service refuses a VAPID token that expires more than 24 hours ahead.
_VAPID_LIFETIME = datetime.timedelta(hours=12)
# RFC 8030 section 7.3: 404 and 410 say the subscription is gone for good.
_WEBPUSH_GONE = {404: DeactivationReason.WEBPUSH_NOT_FOUND, 410: DeactivationReason.WEBPUSH_EXPIRED}


def _webpush_request(
    subscription: WebPushSubscription, message: Message, vapid_key: Vapid, audience: str
) -> tuple[bytes, dict[str, str]]:
    """One push's body, encrypted for the subscription (RFC 8291, aes128gcm), and its headers:
    VAPID (RFC 8292) for `audience`, TTL, and the collapse key as Topic."""
    payload = json.dumps(message.push_payload()).encode()
    body = WebPusher(subscription.as_info()).encode(payload, "aes128gcm")["body"]
    claims = {
        "sub": settings.WEBPUSH_VAPID_SUBJECT,
        "aud": audience,
        "exp": int(time.time() + _VAPID_LIFETIME.total_seconds()),
    }
    headers = {
        **vapid_key.sign(claims),
        "Content-Encoding": "aes128gcm",
        "TTL": str(ttl_seconds()),
        "Topic": message.collapse_key,
    }
    return body, headers


def _webpush_status_error(status: int) -> DeliveryError:
    """What a push service's answer other than 2xx means. Its body is never read, let alone kept."""
    if status in _WEBPUSH_GONE:
        return DeliveryError.gone(_WEBPUSH_GONE[status])
    if 300 <= status < 400:
        return DeliveryError(f"The push service answered {status}, a redirect, which is not followed.", permanent=True)
    return DeliveryError(f"The push service answered {status}.", permanent=is_permanent_status(status))


class WebPushTransport:
    """Web Push (RFC 8030) to a browser subscription, encrypted (RFC 8291) and signed with VAPID (RFC 8292).

    The payload is `message.push_payload()` as JSON; the Topic header is the collapse key, so a
    re-sent duplicate replaces the one still waiting at the push service. The request goes through
    the outbound guard: allowed push services only, public addresses only, no redirect, and at most
    WEBPUSH_SEND_DEADLINE_SECONDS.
    """

    channel = "webpush"
    needs_device = True
    delivered_when_written = False

    def unavailable_reason(self) -> str | None:
        if not settings.WEBPUSH_VAPID_PRIVATE_KEY:
            return "Web Push is not configured: WEBPUSH_VAPID_PRIVATE_KEY is not set."
        return None

    def send(self, message: Message, device: Device | None) -> None:
        device = require_device(device, self.channel)
        try:
            subscription = parse_subscription(device.token)
        except ValueError as error:
            # Nothing the server can do fixes a broken subscription; the browser must subscribe again.
            raise DeliveryError.gone(DeactivationReason.WEBPUSH_UNREADABLE) from error
        vapid_key = _load_vapid_key(settings.WEBPUSH_VAPID_PRIVATE_KEY)
        allowed_hosts = settings.WEBPUSH_ALLOWED_HOSTS
        try:
            # The origin is VAPID's audience; post() checks the URL again itself before resolving it.
            target = outbound.check_url(subscription.endpoint, allowed_hosts=allowed_hosts)
            body, headers = _webpush_request(subscription, message, vapid_key, audience=target.origin)
            status = outbound.post(
                subscription.endpoint,
                body=body,
                headers=headers,
                allowed_hosts=allowed_hosts,
                deadline_seconds=settings.WEBPUSH_SEND_DEADLINE_SECONDS,
            )
        except outbound.DestinationRefusedError as refused:
            # Registered before the guard, the allow-list narrowed since, or the name now resolves to
            # an address that is not public: it will not be sent to again.
            logger.warning("web push to device %s refused: the endpoint %s", device.pk, refused)
            raise DeliveryError.gone(DeactivationReason.WEBPUSH_REFUSED) from refused
        except outbound.NoAnswerError as failed:
            raise DeliveryError(f"The push service {failed}.", permanent=False) from failed
        except VapidException as error:
            raise DeliveryError(
                f"The VAPID claims were refused: {clip(str(error))} Check WEBPUSH_VAPID_SUBJECT.", permanent=True
            ) from error
        except WebPushException as error:
            # pywebpush could not encrypt for these keys although they parsed.
            raise DeliveryError.gone(DeactivationReason.WEBPUSH_UNREADABLE) from error
        if not 200 <= status < 300:
            raise _webpush_status_error(status)
