"""Notification channels behind one small interface.

Each transport sends one message to one recipient (and, for push, one device) and either
returns or raises `DeliveryError`, which says whether a retry can help and whether the device
is gone for good. Delivery (tracking.delivery) records the outcome; transports record nothing.
"""

from __future__ import annotations

import smtplib
import uuid
from dataclasses import dataclass
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


class DeliveryError(Exception):
    """A send that did not go through.

    `retryable`: a later attempt may succeed (timeouts, 429, 5xx). `device_gone`: the device or
    subscription no longer exists (Web Push 404/410, FCM UNREGISTERED, APNs 410); deactivate it.
    """

    def __init__(self, detail: str, *, retryable: bool, device_gone: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.device_gone = device_gone


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
