"""Sending: one attempt at one email or push delivery, its lease, retries with backoff, and the
requeue of work no worker finished.

Delivery is at-least-once: a worker that dies after sending and before recording sends again; push
carries the occurrence id as collapse key so the device shows it once.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from tracking import rules
from tracking.claiming import locked_for_claim
from tracking.models import Delivery, DeliveryStatus, Device, Notification, Occurrence, OccurrenceState
from tracking.notifications.transports.base import DeliveryError, Message, Transport
from tracking.notifications.transports.registry import transport_for

logger = logging.getLogger(__name__)

# Longest a claimed send may take before `requeue_stale` hands it to another worker.
SEND_LEASE = datetime.timedelta(minutes=5)
MAX_BACKOFF = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class SendOutcome:
    status: str
    retry_in: datetime.timedelta | None = None


def backoff(attempts: int) -> datetime.timedelta:
    """Exponential: the base, doubled per failed attempt, at most an hour."""
    return min(MAX_BACKOFF, datetime.timedelta(seconds=settings.DELIVERY_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)))


def _lease(delivery_id: int, now: datetime.datetime) -> Delivery | None:
    """Take a pending delivery for one attempt; None when another worker has it, it is done, or it is used up.

    Every attempt, whoever hands the delivery out (a retry, `requeue_stale`, a redelivered task),
    comes through here, so this is the one place that stops at DELIVERY_MAX_ATTEMPTS. A delivery
    whose attempts are used up without an outcome (each attempt killed its worker, say) is recorded
    failed here instead of being handed out again every few minutes, forever.
    """
    with transaction.atomic():
        rows = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).select_related(
            "notification__recipient", "notification__occurrence__schedule", "device"
        )
        # Locked where the database can; either way the attempts compare-and-set below decides.
        delivery = locked_for_claim(rows, of=("self",)).first()
        if delivery is None or (delivery.next_attempt_at and delivery.next_attempt_at > now):
            return None
        claimed = Delivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts, status=DeliveryStatus.PENDING)
        if delivery.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
            if claimed.update(
                status=DeliveryStatus.FAILED,
                next_attempt_at=None,
                detail=f"Gave up after {delivery.attempts} attempt(s) that ended without an outcome.",
            ):
                logger.warning("delivery %s failed on %s: attempts used up", delivery.pk, delivery.channel)
            return None
        if not claimed.update(attempts=delivery.attempts + 1, next_attempt_at=now + SEND_LEASE):
            return None
        delivery.attempts += 1
        return delivery


def delivery_send(delivery_id: int, *, now: datetime.datetime | None = None) -> SendOutcome | None:
    """One attempt at one email or push delivery; the result is recorded on the row."""
    now = now or timezone.now()
    delivery = _lease(delivery_id, now)
    if delivery is None:
        return None
    transport = transport_for(delivery.channel)
    unavailable = transport.unavailable_reason()
    if unavailable:
        _record(delivery, DeliveryStatus.SKIPPED, unavailable)
        return SendOutcome(DeliveryStatus.SKIPPED)
    notification = delivery.notification
    message = message_for(notification, by_push=transport.needs_device)
    error = _send_once(transport, message, delivery.device)
    if error is not None:
        if error.device_gone and delivery.device is not None:
            Device.objects.filter(pk=delivery.device.pk).update(
                active=False, deactivated_reason=error.detail[:300], updated_at=now
            )
        if not error.permanent and delivery.attempts < settings.DELIVERY_MAX_ATTEMPTS:
            wait = backoff(delivery.attempts)
            _record(delivery, DeliveryStatus.PENDING, error.detail, next_attempt_at=now + wait)
            return SendOutcome(DeliveryStatus.PENDING, retry_in=wait)
        _record(delivery, DeliveryStatus.FAILED, error.detail)
        # Ids only: never the message or the address, which are patient data.
        logger.warning("delivery %s failed on %s after %s attempt(s)", delivery.pk, delivery.channel, delivery.attempts)
        return SendOutcome(DeliveryStatus.FAILED)
    _record(delivery, DeliveryStatus.SENT, "", sent_at=timezone.now())
    return SendOutcome(DeliveryStatus.SENT)


def message_for(notification: Notification, *, by_push: bool = False) -> Message:
    """What the transports send for a notification: a reminder (its occurrence), or an alert a clinician is
    told about at once, which carries no patient id (nothing a clinician's phone needs to act on).

    An alert's push (`by_push`) names nobody, since a lock screen shows it: its body is
    URGENT_ALERT_PUSH_BODY in the clinician's language, not the e-mail's words the notification holds.
    """
    if notification.occurrence is None:
        body = notification.body
        if by_push:
            with translation.override(notification.recipient.language):
                body = gettext(rules.URGENT_ALERT_PUSH_BODY)
        return Message(
            notification_id=notification.pk,
            occurrence_id=None,
            kind=notification.kind,
            title=notification.title,
            body=body,
            recipient_email=notification.recipient.email,
            alert_id=notification.alert_id,
            link=alert_admin_url(notification.alert_id) if notification.alert_id else "",
            language=notification.recipient.language,
        )
    return Message(
        notification_id=notification.pk,
        occurrence_id=notification.occurrence_id,
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        recipient_email=notification.recipient.email,
        patient_id=notification.patient_id,
        regimen_id=notification.occurrence.schedule.regimen_id,
        language=notification.recipient.language,
    )


def alert_admin_url(alert_id: uuid.UUID) -> str:
    """Where a clinician opens an alert: its page in the admin (sign-in and second factor first)."""
    return settings.SITE_URL.rstrip("/") + reverse("admin:tracking_alert_change", args=[alert_id])


def _send_once(transport: Transport, message: Message, device: Device | None) -> DeliveryError | None:
    """Send once; the error when it did not go through, None when it did."""
    try:
        transport.send(message, device)
    except DeliveryError as error:
        return error
    except ValueError as refused:
        # The channel cannot carry this message at all: Django refuses an e-mail header holding a line
        # break (a name stored with one before names were checked: "Noah\nBcc: ..."). The same message
        # fails the same way on every attempt, so the failure is final, never a retry that crashes the
        # worker again. The class only: Django's error quotes the header, and with it patient data.
        return DeliveryError(
            f"The message cannot be sent on this channel ({type(refused).__name__}): a header would carry "
            "a control character, or the message cannot be encoded.",
            permanent=True,
        )
    return None


def _record(
    delivery: Delivery,
    status: str,
    detail: str,
    *,
    next_attempt_at: datetime.datetime | None = None,
    sent_at: datetime.datetime | None = None,
) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status, detail=detail[:500], next_attempt_at=next_attempt_at, sent_at=sent_at
    )


# --- Stale work ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stale:
    occurrence_ids: list[uuid.UUID]
    delivery_ids: list[int]


def stale_work(*, now: datetime.datetime | None = None, limit: int = 10_000) -> Stale:
    """Pending occurrences and deliveries no worker has finished in time (a lost message, a dead worker)."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.REMINDER_REQUEUE_AFTER_SECONDS)
    occurrence_ids = list(
        Occurrence.objects.filter(state=OccurrenceState.PENDING, due_at__lte=now, enqueued_at__lt=cutoff).values_list(
            "id", flat=True
        )[:limit]
    )
    if occurrence_ids:
        Occurrence.objects.filter(pk__in=occurrence_ids).update(enqueued_at=now)
    # A delivery's next_attempt_at is its retry time or its lease's end: once passed, it is due again.
    delivery_ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lt=cutoff).values_list("id", flat=True)[
            :limit
        ]
    )
    return Stale(occurrence_ids=occurrence_ids, delivery_ids=delivery_ids)
