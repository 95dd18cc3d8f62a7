"""What every transport shares: the message, the error it raises, the interface, and push's common parts.

Each transport sends one message to one recipient (and, for push, one device) and either
returns or raises `DeliveryError`, which says whether a retry can help and whether the device
is gone for good. Delivery (tracking.notifications.services) records the outcome; transports record
nothing. The push transports (webpush, fcm, apns) share the TTL, the timeout and the per-process
HTTP client defined here.
"""

from __future__ import annotations

import datetime
import os
import threading
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import httpx

if TYPE_CHECKING:
    from tracking.models import Device


@dataclass(frozen=True)
class Message:
    """What every channel needs to say one notification, and nothing about the patient beyond it."""

    notification_id: uuid.UUID
    occurrence_id: uuid.UUID | None  # None for a clinician told at once about an alert (`alert_id`)
    kind: str
    title: str
    body: str
    recipient_email: str
    # Whose record, and for a dose (or its follow-up) which regimen: what a client needs to log the dose
    # from the notification itself (the web app's "Applied" action), without opening the app.
    patient_id: uuid.UUID | None = None
    regimen_id: uuid.UUID | None = None
    # The care-team alert a clinician is told about at once (tracking.models.IMMEDIATE_ALERT_KINDS).
    alert_id: uuid.UUID | None = None
    # Where the clinician opens the alert (the admin), for an e-mail about one.
    link: str = ""
    # The recipient's language (accounts.models.Language): an e-mail's fixed words and direction follow it.
    language: str = "en"

    @property
    def collapse_key(self) -> str:
        """The occurrence id (or the alert's): a device shows a re-sent duplicate of one occurrence once.

        32 hex characters, which also fits Web Push's Topic header (at most 32 URL-safe characters).
        """
        about = self.occurrence_id or self.alert_id
        return about.hex if about is not None else self.notification_id.hex

    def push_payload(self) -> dict[str, str]:
        return {
            "notification_id": str(self.notification_id),
            **({"occurrence_id": str(self.occurrence_id)} if self.occurrence_id else {}),
            **({"alert_id": str(self.alert_id)} if self.alert_id else {}),
            "collapse_key": self.collapse_key,
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
            **({"patient_id": str(self.patient_id)} if self.patient_id else {}),
            **({"regimen_id": str(self.regimen_id)} if self.regimen_id else {}),
        }


class DeactivationReason(StrEnum):
    """Every text `Device.deactivated_reason` holds, which the patient reads in GET /api/v1/devices/.

    Our own words only, keyed by what happened: never text a remote server sent (issue #22: an
    internal service's answer was once read back through this field).
    """

    WEBPUSH_NOT_FOUND = "The push service answered 404: it no longer knows this subscription. Subscribe again."
    WEBPUSH_EXPIRED = "The push service answered 410: this subscription has expired or was withdrawn. Subscribe again."
    WEBPUSH_UNREADABLE = "This Web Push subscription cannot be read. Subscribe again."
    WEBPUSH_REFUSED = "This subscription's push service is not one we send to. Subscribe again."
    FCM_UNREGISTERED = "FCM says this app registration is no longer valid. Open the app to register again."
    FCM_EMPTY_REGISTRATION = "The FCM registration token is empty. Open the app to register again."
    APNS_UNREGISTERED = "APNs says this device token is no longer valid. Open the app to register again."
    APNS_MALFORMED_DEVICE = "The APNs device token is not a hex string. Open the app to register again."
    REPLACED = "Replaced by a device registered more recently: push goes to a few devices per account."


class DeliveryError(Exception):
    """A send that did not go through.

    `permanent`: a later attempt will fail the same way (a refused address, most 4xx); otherwise one
    may succeed (timeouts, 429, 5xx) and delivery retries after its backoff. `device_gone`: the device or
    subscription no longer exists (Web Push 404/410, FCM UNREGISTERED, APNs 410); delivery
    deactivates it with `detail` as the reason, which is why only `gone()` makes one.
    """

    def __init__(self, detail: str, *, permanent: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.permanent = permanent
        self.device_gone = False

    @classmethod
    def gone(cls, reason: DeactivationReason) -> DeliveryError:
        """The device will never work again; `reason` becomes its deactivated_reason. Final."""
        error = cls(reason.value, permanent=True)
        error.device_gone = True
        return error


class Transport(Protocol):
    """One way of reaching a person. `needs_device`: push sends once per registered device.

    `delivered_when_written`: the notification reaches the person by being written (the inbox), so its
    delivery is sent at once; every other transport's delivery waits for a worker's `send`.
    """

    channel: str
    needs_device: bool
    delivered_when_written: bool

    def unavailable_reason(self) -> str | None:
        """Why this transport cannot send at all here (no credentials configured), or None."""

    def send(self, message: Message, device: Device | None) -> None:
        """Send, or raise DeliveryError."""


# A reminder more than half a day late is noise; the inbox still holds it. Every push service
# drops the message after this long instead of waking the device with a stale dose prompt.
PUSH_TTL = datetime.timedelta(hours=12)
# Seconds: a Celery worker must not hang on a push service that stopped answering. (Web Push has a
# total deadline instead: WEBPUSH_SEND_DEADLINE_SECONDS.)
REQUEST_TIMEOUT = 10.0
# FCM's and APNs' error texts (services named in settings, not by a client) end up in Delivery.detail.
DETAIL_LIMIT = 160


def ttl_seconds() -> int:
    return int(PUSH_TTL.total_seconds())


def clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def is_permanent_status(status: int) -> bool:
    """Any 4xx but 429 will be answered the same way next time; 429 and 5xx say "later"."""
    return status != 429 and status < 500


def require_device(device: Device | None, channel: str) -> Device:
    if device is None:
        raise DeliveryError(f"A {channel} send needs a device.", permanent=True)
    return device


class ProcessClient:
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

    def post_json(self, url: str, *, service: str, json: object, headers: dict[str, str]) -> httpx.Response:
        """POST `json` to a push service named in settings; no answer in time, or none at all, is worth a retry."""
        try:
            return self.get().post(url, json=json, headers=headers)
        except httpx.TimeoutException as error:
            raise DeliveryError(f"{service} did not answer in time.", permanent=False) from error
        except httpx.TransportError as error:
            raise DeliveryError(f"{service} could not be reached: {type(error).__name__}", permanent=False) from error
