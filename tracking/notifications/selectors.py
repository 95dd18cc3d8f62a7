"""Reads of notifications and devices: what deciding and wording a notification needs, and a user's
own inbox and devices (each belongs to its user alone: anyone else's is not found)."""

from __future__ import annotations

import datetime
import uuid

from django.db.models import QuerySet

from accounts.models import Patient, User
from tracking.models import Device, Notification, Regimen
from tracking.selectors import regimen_usage, regimens_for


def estimated_empty_date(regimen: Regimen, patient: Patient, on: datetime.date) -> datetime.date | None:
    """The tube estimate as of `on`, from the applications logged by now (one query)."""
    return regimen_usage(regimens_for(patient).get(pk=regimen.pk), patient, on).empty_date


def inbox_of(user: User) -> QuerySet[Notification]:
    """What the user's inbox shows, each with its patient (whose zone the times are echoed in)."""
    return Notification.objects.filter(recipient=user, in_inbox=True).select_related("patient")


def notification_of(user: User, notification_id: uuid.UUID) -> Notification | None:
    """One notification sent to `user` (in the inbox or not), with its patient; None for anyone else's."""
    return Notification.objects.filter(pk=notification_id, recipient=user).select_related("patient").first()


def devices_of(user: User) -> QuerySet[Device]:
    """The user's push devices, deactivated ones included."""
    return Device.objects.filter(user=user)


def device_of(user: User, device_id: uuid.UUID) -> Device | None:
    """One of the user's devices; None for anyone else's."""
    return devices_of(user).filter(pk=device_id).first()
