"""The recipient's answers to a notification: ack, and snooze (a new occurrence of the same slot)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from tracking.models import Notification, Occurrence, OccurrenceState
from tracking.reminders.services import snooze_validate


def notification_ack(*, notification: Notification, now: datetime.datetime | None = None) -> Notification:
    """Mark a notification read and acted on. Acking twice keeps the first time."""
    if notification.acked_at is None:
        notification.acked_at = now or timezone.now()
        notification.save(update_fields=["acked_at"])
    return notification


@transaction.atomic
def notification_snooze(
    *, notification: Notification, minutes: object, now: datetime.datetime | None = None
) -> Notification:
    """Remind this recipient again in `minutes` (5-240), as a new occurrence of the same slot."""
    minutes = snooze_validate(minutes)
    if notification.occurrence_id is None:  # a clinician told about an urgent alert: it is resolved, not snoozed
        raise ValidationError(
            {"minutes": gettext("Only a reminder can be snoozed; this is an alert for the care team.")}
        )
    if notification.acked_at is not None:
        raise ValidationError(
            {"minutes": gettext("This notification was already acknowledged; there is nothing to snooze.")}
        )
    now = now or timezone.now()
    original = Occurrence.objects.select_for_update().get(pk=notification.occurrence_id)
    base_slot = original.slot.split(" ")[0]
    count = (
        Occurrence.objects.filter(schedule_id=original.schedule_id, local_date=original.local_date)
        .filter(slot__startswith=f"{base_slot} snooze")
        .count()
    )
    until = now + datetime.timedelta(minutes=minutes)
    Occurrence.objects.create(
        schedule_id=original.schedule_id,
        patient_id=original.patient_id,
        kind=original.kind,
        local_date=original.local_date,
        slot=f"{base_slot} snooze {count + 1}",
        due_at=until,
        slot_at=original.slot_at,
        state=OccurrenceState.SCHEDULED,
        recipient_id=notification.recipient_id,
        follows_id=original.follows_id or original.pk,
    )
    notification.snoozed_until = until
    notification.save(update_fields=["snoozed_until"])
    return notification
