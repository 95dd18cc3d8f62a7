"""E-mail through Django's mail: a text and an HTML body, SMTP's answers read as temporary or permanent."""

from __future__ import annotations

import smtplib
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation

from tracking.notifications.transports.base import DeliveryError, Message

if TYPE_CHECKING:
    from tracking.models import Device


class EmailTransport:
    """Django's mail, with a text and an HTML body."""

    channel = "email"
    needs_device = False
    delivered_when_written = False

    def unavailable_reason(self) -> str | None:
        return None

    def send(self, message: Message, device: Device | None) -> None:
        if not message.recipient_email:
            raise DeliveryError("The recipient has no email address.", permanent=True)
        context = {"message": message, "site_url": settings.SITE_URL}
        # A clinician told about an alert opens it in the admin; a reminder's reader opens the app.
        template = "tracking/email/alert_notification" if message.alert_id else "tracking/email/notification"
        # The templates' fixed words, and the HTML's lang and dir, in the recipient's language.
        with translation.override(message.language):
            text, html = render_to_string(f"{template}.txt", context), render_to_string(f"{template}.html", context)
        email = EmailMultiAlternatives(
            subject=message.title,
            body=text,
            to=[message.recipient_email],
            headers={"X-Entity-Ref-ID": message.collapse_key},
        )
        email.attach_alternative(html, "text/html")
        email_send(email)


def email_send(email: EmailMessage) -> None:
    """Send one e-mail through Django's mail, or raise DeliveryError saying whether a retry can help.

    Every e-mail the app sends with a retry goes through here: reminders (EmailTransport) and the
    care team's alert digest (tracking/alerts/services.py).
    """
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as error:
        raise DeliveryError(f"The mail server refused the recipient: {error}", permanent=True) from error
    except smtplib.SMTPResponseException as error:
        # 4xx are temporary by SMTP's own definition; 5xx are final.
        raise DeliveryError(
            f"The mail server answered {error.smtp_code}.", permanent=not 400 <= error.smtp_code < 500
        ) from error
    except (TimeoutError, smtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"The mail server could not be reached: {type(error).__name__}", permanent=False) from error
