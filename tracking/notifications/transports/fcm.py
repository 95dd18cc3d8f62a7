"""Firebase Cloud Messaging (HTTP v1) to an Android or iOS app's registration token.

FCM's URL comes from settings (FCM_ENDPOINT, and the token_uri of the operator's service-account
file), never from a client: the device token only fills the JSON body. The OAuth token it caches is
keyed by the service-account file, so a test's override or a changed deployment takes effect
without a restart.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import google.auth.exceptions
import google.auth.transport.requests
import httpx
from django.conf import settings
from google.oauth2 import service_account

from tracking.notifications.transports.base import (
    REQUEST_TIMEOUT,
    DeactivationReason,
    DeliveryError,
    Message,
    ProcessClient,
    clip,
    is_permanent_status,
    require_device,
    ttl_seconds,
)

if TYPE_CHECKING:
    from tracking.models import Device


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
            permanent=True,
        ) from error
    if not isinstance(project_id, str) or not project_id:
        raise DeliveryError("FCM_SERVICE_ACCOUNT_FILE has no project_id.", permanent=True)
    return project_id


def _fcm_error_codes(response: httpx.Response) -> tuple[set[str], str]:
    """The error's status and FcmError codes, and its message, from an FCM error body."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return set(), clip(response.text)
    if not isinstance(error, dict):
        return set(), clip(response.text)
    codes = {error["status"]} if isinstance(error.get("status"), str) else set()
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and isinstance(detail.get("errorCode"), str):
            codes.add(detail["errorCode"])
    return codes, clip(str(error.get("message", "")))


def _fcm_message(message: Message, token: str) -> dict[str, Any]:
    collapse_key = message.collapse_key
    return {
        "message": {
            "token": token,
            "notification": {"title": message.title, "body": message.body},
            "data": message.push_payload(),
            "android": {"collapse_key": collapse_key, "ttl": f"{ttl_seconds()}s"},
            "apns": {
                "headers": {
                    "apns-collapse-id": collapse_key,
                    "apns-expiration": str(int(time.time()) + ttl_seconds()),
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
    delivered_when_written = False

    def __init__(self, access_token: AccessTokenSource | None = None) -> None:
        self._access_token = access_token
        self._client = ProcessClient(http2=False)

    def unavailable_reason(self) -> str | None:
        if not settings.FCM_SERVICE_ACCOUNT_FILE:
            return "FCM is not configured: FCM_SERVICE_ACCOUNT_FILE is not set."
        return None

    def send(self, message: Message, device: Device | None) -> None:
        device = require_device(device, self.channel)
        token = device.token.strip()
        if not token:
            raise DeliveryError.gone(DeactivationReason.FCM_EMPTY_REGISTRATION)
        service_account_file = settings.FCM_SERVICE_ACCOUNT_FILE
        project_id = _fcm_project_id(service_account_file)
        access_token = self._fetch_access_token(service_account_file)
        url = f"{settings.FCM_ENDPOINT.rstrip('/')}/v1/projects/{quote(project_id, safe='')}/messages:send"
        response = self._client.post_json(
            url, service="FCM", json=_fcm_message(message, token), headers={"Authorization": f"Bearer {access_token}"}
        )
        if response.is_success:
            return
        codes, reason = _fcm_error_codes(response)
        detail = f"FCM answered {response.status_code} {'/'.join(sorted(codes))}: {reason}".rstrip(": ")
        if response.status_code == 404 or "UNREGISTERED" in codes:
            # The app was uninstalled or the token expired; only the app can register a new one.
            raise DeliveryError.gone(DeactivationReason.FCM_UNREGISTERED)
        raise DeliveryError(detail, permanent=is_permanent_status(response.status_code))

    def _fetch_access_token(self, service_account_file: str) -> str:
        # Looked up at call time, so replacing the module's function also reaches the registry's instance.
        source = self._access_token or fcm_access_token
        try:
            return source(service_account_file)
        except google.auth.exceptions.TransportError as error:
            raise DeliveryError("Google's token endpoint could not be reached.", permanent=False) from error
        except google.auth.exceptions.RefreshError as error:
            raise DeliveryError(
                f"Google refused an FCM access token: {clip(str(error))}", permanent=not error.retryable
            ) from error
        except (google.auth.exceptions.GoogleAuthError, OSError, ValueError) as error:
            raise DeliveryError(
                f"FCM_SERVICE_ACCOUNT_FILE cannot be used: {type(error).__name__}", permanent=True
            ) from error
