"""Delivery from the occurrence outbox: who gets what, through which channel, and what came of it.

`occurrences_deliver` claims pending occurrences, decides per occurrence whether it is still worth
sending (a dose already logged is skipped, and recorded as skipped), writes each recipient's
notification and one delivery row per channel (and device), and leaves email and push rows pending
for `delivery_send`. Delivery is at-least-once: a worker that dies after sending and before
recording sends again; push carries the occurrence id as collapse key so the device shows it once.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Patient, User
from tracking import rules
from tracking.adherence import nearest_slot
from tracking.claiming import locked_for_claim, locks_skip_taken_rows
from tracking.models import (
    Application,
    Channel,
    Delivery,
    DeliveryStatus,
    Device,
    Notification,
    Occurrence,
    OccurrenceState,
    Platform,
    PoemEntry,
    ScheduleKind,
)
from tracking.models.reminders import token_digest
from tracking.notifications.selectors import estimated_empty_date
from tracking.notifications.transports.base import DeactivationReason, DeliveryError, Message, Transport
from tracking.notifications.transports.registry import transport_for
from tracking.notifications.transports.webpush import registrable_subscription
from tracking.notifications.wording import wording
from tracking.reminders.schedules import parse_wall_time, wall_time_instant, zone_named
from tracking.reminders.selectors import effective_settings
from tracking.reminders.services import FOLLOW_UP_KIND, follow_up_for, snooze_validate

logger = logging.getLogger(__name__)

# Occurrence kinds whose setting is the dose setting.
DOSE_SETTING_KINDS = frozenset({ScheduleKind.DOSE, ScheduleKind.REFILL, FOLLOW_UP_KIND})
# Longest a claimed send may take before `requeue_stale` hands it to another worker.
SEND_LEASE = datetime.timedelta(minutes=5)
MAX_BACKOFF = datetime.timedelta(hours=1)


# --- Fan-out -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FanOut:
    delivered: int
    skipped: int
    send_ids: list[int]


def _claim(ids: Sequence[uuid.UUID]) -> list[Occurrence]:
    """Pending occurrences among `ids` that this worker now owns (inside the caller's transaction)."""
    pending = Occurrence.objects.filter(id__in=ids, state=OccurrenceState.PENDING).select_related(
        "schedule__regimen", "patient"
    )
    if locks_skip_taken_rows():
        return list(locked_for_claim(pending, of=("self",)))
    # Without row locks: a compare-and-set per row; a row another worker took updates nothing.
    owned = []
    for occurrence in pending:
        if Occurrence.objects.filter(pk=occurrence.pk, state=OccurrenceState.PENDING).update(
            state=OccurrenceState.DELIVERED
        ):
            owned.append(occurrence)
    return owned


class _Context:
    """What deciding and addressing a batch needs, loaded in a fixed number of queries."""

    def __init__(self, occurrences: list[Occurrence]) -> None:
        patient_ids = {occurrence.patient_id for occurrence in occurrences}
        self.settings = {
            patient.pk: effective_settings(patient, list(patient.reminder_settings.all()))
            for patient in Patient.objects.filter(pk__in=patient_ids).prefetch_related("reminder_settings")
        }
        self.recipients: dict[uuid.UUID, list[int]] = defaultdict(list)
        for patient_id, user_id in Patient.objects.filter(pk__in=patient_ids, user__isnull=False).values_list(
            "pk", "user_id"
        ):
            self.recipients[patient_id].append(user_id)
        for patient_id, user_id in Patient.caregivers.through.objects.filter(patient_id__in=patient_ids).values_list(
            "patient_id", "user_id"
        ):
            self.recipients[patient_id].append(user_id)
        user_ids = {user_id for users in self.recipients.values() for user_id in users}
        self.users = {
            user.pk: user for user in User.objects.filter(pk__in=user_ids, is_active=True).only("pk", "email")
        }
        self.devices: dict[int, list[Device]] = defaultdict(list)
        for device in Device.objects.filter(user_id__in=user_ids, active=True):
            self.devices[device.user_id].append(device)
        self._doses = self._load_doses(occurrences)
        self._handled = self._load_handled(occurrences)
        self._recent_poem = self._load_recent_poem(occurrences)

    @staticmethod
    def _load_doses(occurrences: list[Occurrence]) -> dict[tuple[uuid.UUID, datetime.date], list[datetime.datetime]]:
        dose_like = [o for o in occurrences if o.schedule.regimen_id and o.kind in (ScheduleKind.DOSE, FOLLOW_UP_KIND)]
        doses: dict[tuple[uuid.UUID, datetime.date], list[datetime.datetime]] = defaultdict(list)
        if not dose_like:
            return doses
        first = min(o.slot_at for o in dose_like) - datetime.timedelta(days=1)
        last = max(o.slot_at for o in dose_like) + datetime.timedelta(days=1)
        rows = Application.objects.filter(
            regimen_id__in={o.schedule.regimen_id for o in dose_like},
            applied_at__range=(first, last),
            deleted_at__isnull=True,
        ).values_list("regimen_id", "applied_at")
        zones = {o.schedule.regimen_id: zone_named(o.schedule.timezone) for o in dose_like}
        for regimen_id, applied_at in rows:
            doses[(regimen_id, applied_at.astimezone(zones[regimen_id]).date())].append(applied_at)
        return doses

    @staticmethod
    def _load_handled(occurrences: list[Occurrence]) -> set[uuid.UUID]:
        """Occurrences someone acked or snoozed: their follow-up is not needed."""
        followed = {o.follows_id for o in occurrences if o.follows_id}
        if not followed:
            return set()
        handled = Notification.objects.filter(occurrence_id__in=followed).exclude(
            acked_at__isnull=True, snoozed_until__isnull=True
        )
        return set(handled.values_list("occurrence_id", flat=True))

    @staticmethod
    def _load_recent_poem(occurrences: list[Occurrence]) -> set[uuid.UUID]:
        poem = [o for o in occurrences if o.kind == ScheduleKind.POEM]
        if not poem:
            return set()
        since = min(o.slot_at for o in poem) - datetime.timedelta(days=rules.POEM_INTERVAL_DAYS - 1)
        return set(
            PoemEntry.objects.filter(
                patient_id__in={o.patient_id for o in poem}, recorded_at__gte=since, deleted_at__isnull=True
            ).values_list("patient_id", flat=True)
        )

    def dose_logged(self, occurrence: Occurrence) -> bool:
        """Whether an application counts toward this slot, by the adherence rule (nearest slot that day)."""
        schedule = occurrence.schedule
        regimen = schedule.regimen
        if regimen is None:
            return False
        applied = self._doses.get((regimen.pk, occurrence.local_date), [])
        if not applied:
            return False
        zone = zone_named(schedule.timezone)
        slots = sorted(
            wall_time_instant(zone, occurrence.local_date, parse_wall_time(value)) for value in regimen.times
        )
        return any(nearest_slot(slots, applied_at) == occurrence.slot_at for applied_at in applied)

    def skip_reason(self, occurrence: Occurrence) -> str | None:
        """Why an occurrence is not sent, or None to send it."""
        regimen = occurrence.schedule.regimen
        kind = occurrence.kind
        if kind in (ScheduleKind.DOSE, FOLLOW_UP_KIND) and regimen is not None:
            if not regimen.is_active_on(occurrence.local_date):
                return "The regimen is no longer active on this date."
            if self.dose_logged(occurrence):
                return "Already logged: an application for this slot is in the log."
        # A missed-dose follow-up is not needed once someone acked or snoozed the reminder; a snooze
        # (addressed to who asked for it) is exactly what they asked for.
        is_follow_up = occurrence.follows_id is not None and occurrence.recipient_id is None
        if is_follow_up and occurrence.follows_id in self._handled:
            return "The reminder it follows was acknowledged or snoozed."
        if kind == ScheduleKind.REFILL and regimen is not None:
            # The estimate was made when the prompt was scheduled; logs since may have moved it.
            empty_date = estimated_empty_date(regimen, occurrence.patient, occurrence.local_date)
            if empty_date is None or empty_date - occurrence.local_date >= datetime.timedelta(
                days=rules.REFILL_PROMPT_DAYS_AHEAD
            ):
                return "The tube is no longer estimated to run out within the next week."
        if kind == ScheduleKind.POEM and occurrence.patient_id in self._recent_poem:
            return "A POEM was logged within the past week."
        if not self.recipients.get(occurrence.patient_id):
            return "Nobody to notify: the patient has no login and no caregiver."
        setting_kind = "dose" if kind in DOSE_SETTING_KINDS else kind
        if not self.settings[occurrence.patient_id][setting_kind].enabled:
            return "This kind of reminder is switched off."
        return None


def _addressees(occurrence: Occurrence, context: _Context) -> list[int]:
    """The patient's login and caregivers; for a snooze, only who snoozed (if they still may act)."""
    allowed = list(dict.fromkeys(context.recipients.get(occurrence.patient_id, [])))
    if occurrence.recipient_id is not None:
        return [occurrence.recipient_id] if occurrence.recipient_id in allowed else []
    return allowed


def _channels_for(occurrence: Occurrence, context: _Context) -> tuple[str, ...]:
    kind = "dose" if occurrence.kind in DOSE_SETTING_KINDS else occurrence.kind
    return context.settings[occurrence.patient_id][kind].channels


def occurrences_deliver(ids: Sequence[uuid.UUID], *, now: datetime.datetime | None = None) -> FanOut:
    """Turn pending occurrences into notifications and per-channel deliveries, in one transaction.

    Returns the ids of the email and push deliveries to send; the inbox is delivered here.
    """
    now = now or timezone.now()
    with transaction.atomic():
        occurrences = _claim(ids)
        if not occurrences:
            return FanOut(delivered=0, skipped=0, send_ids=[])
        context = _Context(occurrences)
        notifications: list[Notification] = []
        deliveries: list[Delivery] = []
        follow_ups: list[Occurrence] = []
        skipped: dict[str, list[uuid.UUID]] = defaultdict(list)
        delivered: list[uuid.UUID] = []
        for occurrence in occurrences:
            reason = context.skip_reason(occurrence)
            if reason is not None:
                skipped[reason].append(occurrence.pk)
                continue
            delivered.append(occurrence.pk)
            title, body = wording(occurrence, occurrence.schedule.regimen, occurrence.patient)
            channels = _channels_for(occurrence, context)
            for user_id in _addressees(occurrence, context):
                user = context.users.get(user_id)
                if user is None:
                    continue
                notification = Notification(
                    occurrence_id=occurrence.pk,
                    recipient_id=user_id,
                    patient_id=occurrence.patient_id,
                    kind=occurrence.kind,
                    title=title
                    if user_id == occurrence.patient.user_id
                    else f"{occurrence.patient.first_name}: {title}",
                    body=body,
                    in_inbox=Channel.INBOX in channels,
                    created_at=now,
                )
                notifications.append(notification)
                deliveries.extend(_deliveries_for(notification, channels, context.devices.get(user_id, []), now))
            follow_up = follow_up_for(occurrence)
            if follow_up is not None:
                follow_ups.append(follow_up)
        Notification.objects.bulk_create(notifications, batch_size=1000)
        created = Delivery.objects.bulk_create(deliveries, batch_size=1000)
        Occurrence.objects.filter(pk__in=delivered).update(state=OccurrenceState.DELIVERED, handled_at=now)
        for reason, skipped_ids in skipped.items():
            Occurrence.objects.filter(pk__in=skipped_ids).update(
                state=OccurrenceState.SKIPPED, skip_reason=reason, handled_at=now
            )
        Occurrence.objects.bulk_create(follow_ups, ignore_conflicts=True)
    send_ids = [delivery.pk for delivery in created if delivery.status == DeliveryStatus.PENDING]
    return FanOut(delivered=len(delivered), skipped=sum(map(len, skipped.values())), send_ids=send_ids)


def _deliveries_for(
    notification: Notification, channels: Sequence[str], devices: list[Device], now: datetime.datetime
) -> list[Delivery]:
    rows = []
    if Channel.INBOX in channels:
        rows.append(Delivery(notification=notification, channel="inbox", status=DeliveryStatus.SENT, sent_at=now))
    if Channel.EMAIL in channels:
        rows.append(Delivery(notification=notification, channel="email", next_attempt_at=now))
    if Channel.PUSH in channels:
        if not devices:
            rows.append(
                Delivery(
                    notification=notification,
                    channel="push",
                    status=DeliveryStatus.SKIPPED,
                    detail="No push device registered.",
                )
            )
        for device in devices:
            rows.append(
                Delivery(notification=notification, channel=device.platform, device=device, next_attempt_at=now)
            )
    return rows


# --- Sending -------------------------------------------------------------------------------------


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
            "notification__recipient", "device"
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
    message = Message(
        notification_id=notification.pk,
        occurrence_id=notification.occurrence_id,
        kind=notification.kind,
        title=notification.title,
        body=notification.body,
        recipient_email=notification.recipient.email,
    )
    error = _send_once(transport, message, delivery.device)
    if error is not None:
        if error.device_gone and delivery.device is not None:
            Device.objects.filter(pk=delivery.device.pk).update(
                active=False, deactivated_reason=error.detail[:300], updated_at=now
            )
        if error.retryable and delivery.attempts < settings.DELIVERY_MAX_ATTEMPTS:
            wait = backoff(delivery.attempts)
            _record(delivery, DeliveryStatus.PENDING, error.detail, next_attempt_at=now + wait)
            return SendOutcome(DeliveryStatus.PENDING, retry_in=wait)
        _record(delivery, DeliveryStatus.FAILED, error.detail)
        # Ids only: never the message or the address, which are patient data.
        logger.warning("delivery %s failed on %s after %s attempt(s)", delivery.pk, delivery.channel, delivery.attempts)
        return SendOutcome(DeliveryStatus.FAILED)
    _record(delivery, DeliveryStatus.SENT, "", sent_at=timezone.now())
    return SendOutcome(DeliveryStatus.SENT)


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
            retryable=False,
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


# --- Ack, snooze, devices ------------------------------------------------------------------------


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
    if notification.acked_at is not None:
        raise ValidationError({"minutes": "This notification was already acknowledged; there is nothing to snooze."})
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


@transaction.atomic
def device_register(*, user: User, platform: str, token: str) -> tuple[Device, bool]:
    """Register where `user` gets push. The same token again re-activates it (and moves it to this user).

    A Web Push token is stored as `registrable_subscription` (transports/webpush.py) has it: a readable
    subscription whose endpoint passes the outbound guard, in one JSON form.
    At most PUSH_DEVICES_PER_USER devices stay active: one more deactivates the least recently registered.
    """
    if platform not in Platform.values:
        raise ValidationError({"platform": f"One of {', '.join(Platform.values)}."})
    if platform == Platform.WEBPUSH:
        try:
            token = registrable_subscription(token)
        except ValueError as problem:
            raise ValidationError({"token": str(problem)}) from problem
    # The user's row is locked first, so two registrations at once cannot both keep one device too many.
    User.objects.select_for_update().filter(pk=user.pk).first()
    digest = token_digest(token)
    device = Device.objects.select_for_update().filter(platform=platform, token_sha256=digest).first()
    created = device is None
    if device is None:
        device = Device(user=user, platform=platform, token=token, token_sha256=digest)
        device.full_clean()
        device.save()
    else:
        device.user, device.active, device.deactivated_reason = user, True, ""
        device.save(update_fields=["user", "active", "deactivated_reason", "updated_at"])
    _devices_beyond_the_limit_deactivate(user=user, keeping=device)
    return device, created


def _devices_beyond_the_limit_deactivate(*, user: User, keeping: Device) -> None:
    """Deactivate the user's least recently registered active devices beyond PUSH_DEVICES_PER_USER.

    The oldest goes rather than the new one being refused: a patient who reinstalls the app or
    clears the browser gets a new token while the old one lingers, and must not be locked out of
    reminders. A device registered again counts as recent (its updated_at moves).
    """
    others = Device.objects.filter(user=user, active=True).exclude(pk=keeping.pk)
    kept = others.order_by("-updated_at", "-created_at").values_list("pk", flat=True)[
        : max(settings.PUSH_DEVICES_PER_USER, 1) - 1
    ]
    others.exclude(pk__in=list(kept)).update(
        active=False, deactivated_reason=DeactivationReason.REPLACED.value, updated_at=timezone.now()
    )


def device_remove(*, device: Device, user: User) -> None:
    if device.user_id != user.pk:
        raise PermissionDenied
    device.delete()
