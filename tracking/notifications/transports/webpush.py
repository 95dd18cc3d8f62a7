"""Push transports (Web Push, FCM HTTP v1, APNs) and the registry delivery picks a transport from.

Each transport sends one `Message` to one `Device` and returns, or raises `DeliveryError` saying
whether a retry can help (timeouts, 429, 5xx) and whether the device is gone for good (so delivery
deactivates it). Transports record nothing. They read their settings on every send, and what they
cache (the FCM OAuth token, the APNs provider JWT) is keyed by those settings, so a test's override
or a changed deployment takes effect without a restart.

Where each one connects: a Web Push endpoint comes from the client, so it goes through the outbound
guard (tacro_topical/outbound.py) at registration and again at every send. FCM's and APNs' URLs come
from settings (FCM_ENDPOINT, APNS_ENDPOINT, and the token_uri of the operator's service-account
file), never from a client: the device token only fills a path segment (APNs, hex-checked) or the
JSON body (FCM). httpx follows no redirect unless told to.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import google.auth.exceptions
import google.auth.transport.requests
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from google.oauth2 import service_account
from py_vapid import Vapid, VapidException  # type: ignore[import-untyped]
from pywebpush import WebPusher, WebPushException  # type: ignore[import-untyped]

from tacro_topical import outbound
from tracking.channels import DeactivationReason, DeliveryError, EmailTransport, Message, Transport

if TYPE_CHECKING:
    from tracking.models import Device

# A reminder more than half a day late is noise; the inbox still holds it. Every push service
# drops the message after this long instead of waking the device with a stale dose prompt.
PUSH_TTL = datetime.timedelta(hours=12)
# Seconds: a Celery worker must not hang on a push service that stopped answering. (Web Push has a
# total deadline instead: WEBPUSH_SEND_DEADLINE_SECONDS.)
REQUEST_TIMEOUT = 10.0
# FCM's and APNs' error texts (services named in settings, not by a client) end up in Delivery.detail.
_DETAIL_LIMIT = 160

logger = logging.getLogger(__name__)


def _ttl_seconds() -> int:
    return int(PUSH_TTL.total_seconds())


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_LIMIT else text[: _DETAIL_LIMIT - 1] + "…"


def _is_retryable_status(status: int) -> bool:
    """429 and 5xx say "later"; any other 4xx will be answered the same way next time."""
    return status == 429 or status >= 500


def _require_device(device: Device | None, channel: str) -> Device:
    if device is None:
        raise DeliveryError(f"A {channel} send needs a device.", retryable=False)
    return device


class _ProcessClient:
    """One httpx client per process, made on first use.

    Connections are reused between sends (APNs treats repeated connects as abuse) but never shared
    across a fork: a Celery prefork child makes its own.
    """

    def __init__(self, *, http2: bool) -> None:
        self._http2 = http2
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._pid = 0

    def get(self) -> httpx.Client:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client = httpx.Client(http2=self._http2, timeout=REQUEST_TIMEOUT)
                self._pid = os.getpid()
            return self._client


# --- Web Push ---------------------------------------------------------------------------------


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
            "WEBPUSH_VAPID_PRIVATE_KEY is neither a readable key file nor a base64url key.", retryable=False
        ) from error


def webpush_registration_problem(token: str) -> str | None:
    """Why a Web Push token cannot be registered, in words for a 400 on `token`; None when it can.

    The endpoint must pass the outbound guard's URL check (no DNS lookup here: every send resolves
    the name and checks the addresses again).
    """
    try:
        subscription = parse_subscription(token)
    except ValueError as error:
        return f"A Web Push token is the browser's PushSubscription as JSON, and this one cannot be used: {error}."
    try:
        outbound.check_url(subscription.endpoint, allowed_hosts=settings.WEBPUSH_ALLOWED_HOSTS)
    except outbound.DestinationRefusedError as refused:
        accepted = ", ".join(settings.WEBPUSH_ALLOWED_HOSTS)
        return (
            f"The subscription's endpoint {refused}. Accepted: an https:// URL on port 443 of a browser"
            f" push service: {accepted}, or a subdomain of one."
        )
    return None


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
        "TTL": str(_ttl_seconds()),
        "Topic": message.collapse_key,
    }
    return body, headers


def _webpush_status_error(status: int) -> DeliveryError:
    """What a push service's answer other than 2xx means. Its body is never read, let alone kept."""
    if status in _WEBPUSH_GONE:
        return DeliveryError.gone(_WEBPUSH_GONE[status])
    if 300 <= status < 400:
        return DeliveryError(f"The push service answered {status}, a redirect, which is not followed.", retryable=False)
    return DeliveryError(f"The push service answered {status}.", retryable=_is_retryable_status(status))


class WebPushTransport:
    """Web Push (RFC 8030) to a browser subscription, encrypted (RFC 8291) and signed with VAPID (RFC 8292).

    The payload is `message.push_payload()` as JSON; the Topic header is the collapse key, so a
    re-sent duplicate replaces the one still waiting at the push service. The request goes through
    the outbound guard: allowed push services only, public addresses only, no redirect, and at most
    WEBPUSH_SEND_DEADLINE_SECONDS.
    """

    channel = "webpush"
    needs_device = True

    def unavailable_reason(self) -> str | None:
        if not settings.WEBPUSH_VAPID_PRIVATE_KEY:
            return "Web Push is not configured: WEBPUSH_VAPID_PRIVATE_KEY is not set."
        return None

    def send(self, message: Message, device: Device | None) -> None:
        device = _require_device(device, self.channel)
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
            raise DeliveryError(f"The push service {failed}.", retryable=True) from failed
        except VapidException as error:
            raise DeliveryError(
                f"The VAPID claims were refused: {_clip(str(error))} Check WEBPUSH_VAPID_SUBJECT.", retryable=False
            ) from error
        except WebPushException as error:
            # pywebpush could not encrypt for these keys although they parsed.
            raise DeliveryError.gone(DeactivationReason.WEBPUSH_UNREADABLE) from error
        if not 200 <= status < 300:
            raise _webpush_status_error(status)


# --- FCM HTTP v1 ------------------------------------------------------------------------------

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
# The file path to an access token. Replaceable (FcmTransport(access_token=...), or this module's
# `fcm_access_token`) so tests need not reach Google's token endpoint.
AccessTokenSource = Callable[[str], str]


class _TokenRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport with our timeout instead of its 120 seconds."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return super().__call__(*args, **kwargs)


_fcm_credentials: dict[str, service_account.Credentials] = {}
_fcm_credentials_lock = threading.Lock()


def fcm_access_token(service_account_file: str) -> str:
    """An OAuth2 access token for FCM from the service account's token endpoint.

    Credentials are kept per file and refreshed only when their token is missing or about to expire
    (google-auth's `valid`), so a busy worker asks for a token about once an hour, not once a send.
    """
    with _fcm_credentials_lock:
        credentials = _fcm_credentials.get(service_account_file)
        if credentials is None:
            credentials = service_account.Credentials.from_service_account_file(
                service_account_file, scopes=[FCM_SCOPE]
            )
            _fcm_credentials[service_account_file] = credentials
        if not credentials.valid:
            credentials.refresh(_TokenRequest())
        return str(credentials.token)


def _fcm_project_id(service_account_file: str) -> str:
    try:
        with open(service_account_file, encoding="utf-8") as file:
            project_id = json.load(file).get("project_id")
    except (OSError, ValueError, AttributeError) as error:
        raise DeliveryError(
            f"FCM_SERVICE_ACCOUNT_FILE cannot be read as a service-account JSON file: {type(error).__name__}",
            retryable=False,
        ) from error
    if not isinstance(project_id, str) or not project_id:
        raise DeliveryError("FCM_SERVICE_ACCOUNT_FILE has no project_id.", retryable=False)
    return project_id


def _fcm_error_codes(response: httpx.Response) -> tuple[set[str], str]:
    """The error's status and FcmError codes, and its message, from an FCM error body."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return set(), _clip(response.text)
    if not isinstance(error, dict):
        return set(), _clip(response.text)
    codes = {error["status"]} if isinstance(error.get("status"), str) else set()
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and isinstance(detail.get("errorCode"), str):
            codes.add(detail["errorCode"])
    return codes, _clip(str(error.get("message", "")))


def _fcm_message(message: Message, token: str) -> dict[str, Any]:
    collapse_key = message.collapse_key
    return {
        "message": {
            "token": token,
            "notification": {"title": message.title, "body": message.body},
            "data": message.push_payload(),
            "android": {"collapse_key": collapse_key, "ttl": f"{_ttl_seconds()}s"},
            "apns": {
                "headers": {
                    "apns-collapse-id": collapse_key,
                    "apns-expiration": str(int(time.time()) + _ttl_seconds()),
                }
            },
        }
    }


class FcmTransport:
    """Firebase Cloud Messaging (HTTP v1) to an Android or iOS app's registration token.

    Authenticated with an OAuth2 token for the service account in FCM_SERVICE_ACCOUNT_FILE; the
    project id comes from that file. Android's collapse_key and APNs' apns-collapse-id are the
    message's collapse key, so a re-sent duplicate replaces the earlier one.
    """

    channel = "fcm"
    needs_device = True

    def __init__(self, access_token: AccessTokenSource | None = None) -> None:
        self._access_token = access_token
        self._client = _ProcessClient(http2=False)

    def unavailable_reason(self) -> str | None:
        if not settings.FCM_SERVICE_ACCOUNT_FILE:
            return "FCM is not configured: FCM_SERVICE_ACCOUNT_FILE is not set."
        return None

    def send(self, message: Message, device: Device | None) -> None:
        device = _require_device(device, self.channel)
        token = device.token.strip()
        if not token:
            raise DeliveryError.gone(DeactivationReason.FCM_EMPTY_REGISTRATION)
        service_account_file = settings.FCM_SERVICE_ACCOUNT_FILE
        project_id = _fcm_project_id(service_account_file)
        access_token = self._fetch_access_token(service_account_file)
        url = f"{settings.FCM_ENDPOINT.rstrip('/')}/v1/projects/{quote(project_id, safe='')}/messages:send"
        try:
            response = self._client.get().post(
                url, json=_fcm_message(message, token), headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.TimeoutException as error:
            raise DeliveryError("FCM did not answer in time.", retryable=True) from error
        except httpx.TransportError as error:
            raise DeliveryError(f"FCM could not be reached: {type(error).__name__}", retryable=True) from error
        if response.is_success:
            return
        codes, reason = _fcm_error_codes(response)
        detail = f"FCM answered {response.status_code} {'/'.join(sorted(codes))}: {reason}".rstrip(": ")
        if response.status_code == 404 or "UNREGISTERED" in codes:
            # The app was uninstalled or the token expired; only the app can register a new one.
            raise DeliveryError.gone(DeactivationReason.FCM_UNREGISTERED)
        raise DeliveryError(detail, retryable=_is_retryable_status(response.status_code))

    def _fetch_access_token(self, service_account_file: str) -> str:
        # Looked up at call time, so replacing the module's function also reaches the registry's instance.
        source = self._access_token or fcm_access_token
        try:
            return source(service_account_file)
        except google.auth.exceptions.TransportError as error:
            raise DeliveryError("Google's token endpoint could not be reached.", retryable=True) from error
        except google.auth.exceptions.RefreshError as error:
            raise DeliveryError(
                f"Google refused an FCM access token: {_clip(str(error))}", retryable=error.retryable
            ) from error
        except (google.auth.exceptions.GoogleAuthError, OSError, ValueError) as error:
            raise DeliveryError(
                f"FCM_SERVICE_ACCOUNT_FILE cannot be used: {type(error).__name__}", retryable=False
            ) from error


# --- APNs -------------------------------------------------------------------------------------

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
            f"APNS_KEY_FILE cannot be read as a .p8 key: {type(error).__name__}", retryable=False
        ) from error
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise DeliveryError("APNS_KEY_FILE does not hold an EC (ES256) key.", retryable=False)
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

    def __init__(self) -> None:
        self._client = _ProcessClient(http2=True)
        self._token_lock = threading.Lock()
        self._provider_token: _ProviderToken | None = None

    def unavailable_reason(self) -> str | None:
        missing = [name for name in _APNS_REQUIRED_SETTINGS if not getattr(settings, name)]
        if missing:
            return f"APNs is not configured: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set."
        return None

    def send(self, message: Message, device: Device | None) -> None:
        device = _require_device(device, self.channel)
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
            "apns-expiration": str(int(time.time()) + _ttl_seconds()),
        }
        body = {"aps": {"alert": {"title": message.title, "body": message.body}}, **message.push_payload()}
        try:
            response = self._client.get().post(url, json=body, headers=headers)
        except httpx.TimeoutException as error:
            raise DeliveryError("APNs did not answer in time.", retryable=True) from error
        except httpx.TransportError as error:
            raise DeliveryError(f"APNs could not be reached: {type(error).__name__}", retryable=True) from error
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
            return DeliveryError(detail, retryable=True)
        return DeliveryError(detail, retryable=_is_retryable_status(response.status_code))

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


# --- Registry ---------------------------------------------------------------------------------

# Keyed by Delivery.channel for email and by Device.platform for push; one instance per process,
# so the HTTP clients, OAuth token and provider JWT are reused between sends.
TRANSPORTS: dict[str, Transport] = {
    "email": EmailTransport(),
    "webpush": WebPushTransport(),
    "fcm": FcmTransport(),
    "apns": ApnsTransport(),
}


def transport_for(channel_or_platform: str) -> Transport:
    """The transport for "email" or a device platform ("webpush", "fcm", "apns").

    "push" is not one: push goes out once per device, through the transport of each device's platform.
    """
    try:
        return TRANSPORTS[channel_or_platform]
    except KeyError:
        raise LookupError(
            f"No transport for {channel_or_platform!r}; expected one of {', '.join(sorted(TRANSPORTS))}."
        ) from None
