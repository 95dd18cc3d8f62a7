"""Notification channels behind one small interface.

Each transport sends one message to one recipient (and, for push, one device) and either
returns or raises `DeliveryError`, which says whether a retry can help and whether the device
is gone for good. Delivery (tracking.delivery) records the outcome; transports record nothing.
"""

from __future__ import annotations

import smtplib
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

if TYPE_CHECKING:
    from tracking.models import Device


@dataclass(frozen=True)
class Message:
    """What every channel needs to say one notification, and nothing about the patient beyond it."""

    notification_id: uuid.UUID
    occurrence_id: uuid.UUID
    kind: str
    title: str
    body: str
    recipient_email: str

    @property
    def collapse_key(self) -> str:
        """The occurrence id: a device shows a re-sent duplicate of one occurrence once.

        32 hex characters, which also fits Web Push's Topic header (at most 32 URL-safe characters).
        """
        return self.occurrence_id.hex

    def push_payload(self) -> dict[str, str]:
        return {
            "notification_id": str(self.notification_id),
            "occurrence_id": str(self.occurrence_id),
            "collapse_key": self.collapse_key,
            "kind": self.kind,
            "title": self.title,
            "body": self.body,
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

    `retryable`: a later attempt may succeed (timeouts, 429, 5xx). `device_gone`: the device or
    subscription no longer exists (Web Push 404/410, FCM UNREGISTERED, APNs 410); delivery
    deactivates it with `detail` as the reason, which is why only `gone()` makes one.
    """

    def __init__(self, detail: str, *, retryable: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.device_gone = False

    @classmethod
    def gone(cls, reason: DeactivationReason) -> DeliveryError:
        """The device will never work again; `reason` becomes its deactivated_reason. Final."""
        error = cls(reason.value, retryable=False)
        error.device_gone = True
        return error


class Transport(Protocol):
    """One way of reaching a person. `needs_device`: push sends once per registered device."""

    channel: str
    needs_device: bool

    def unavailable_reason(self) -> str | None:
        """Why this transport cannot send at all here (no credentials configured), or None."""

    def send(self, message: Message, device: Device | None) -> None:
        """Send, or raise DeliveryError."""


class EmailTransport:
    """Django's mail, with a text and an HTML body."""

    channel = "email"
    needs_device = False

    def unavailable_reason(self) -> str | None:
        return None

    def send(self, message: Message, device: Device | None) -> None:
        if not message.recipient_email:
            raise DeliveryError("The recipient has no email address.", retryable=False)
        context = {"message": message, "site_url": settings.SITE_URL}
        email = EmailMultiAlternatives(
            subject=message.title,
            body=render_to_string("tracking/email/notification.txt", context),
            to=[message.recipient_email],
            headers={"X-Entity-Ref-ID": message.collapse_key},
        )
        email.attach_alternative(render_to_string("tracking/email/notification.html", context), "text/html")
        try:
            email.send()
        except smtplib.SMTPRecipientsRefused as error:
            raise DeliveryError(f"The mail server refused the recipient: {error}", retryable=False) from error
        except smtplib.SMTPResponseException as error:
            # 4xx are temporary by SMTP's own definition; 5xx are final.
            raise DeliveryError(
                f"The mail server answered {error.smtp_code}.", retryable=400 <= error.smtp_code < 500
            ) from error
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"The mail server could not be reached: {type(error).__name__}", retryable=True
            ) from error
