"""Fan-out: pending occurrences become notifications and one delivery row per channel (and device).

`occurrences_deliver` claims pending occurrences, decides per occurrence whether it is still worth
sending (a dose already logged is skipped, and recorded as skipped), writes each recipient's
notification and one delivery row per channel (and device), and leaves email and push rows pending
for `delivery_send` (sending.py). The inbox is delivered here.
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

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
    PoemEntry,
    ReminderKind,
    ScheduleKind,
)
from tracking.notifications.selectors import estimated_empty_date
from tracking.notifications.transports.registry import transport_for
from tracking.notifications.wording import wording
from tracking.reminders.schedules import parse_wall_time, wall_time_instant, zone_named
from tracking.reminders.selectors import EffectiveSetting, effective_settings
from tracking.reminders.services import FOLLOW_UP_KIND, follow_up_for

# Occurrence kinds whose setting is the dose setting.
DOSE_SETTING_KINDS = frozenset({ScheduleKind.DOSE, ScheduleKind.REFILL, FOLLOW_UP_KIND})


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
            user.pk: user
            for user in User.objects.filter(pk__in=user_ids, is_active=True).only("pk", "email", "language")
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

    def setting_for(self, occurrence: Occurrence) -> EffectiveSetting:
        """The patient's setting this occurrence follows (a refill prompt or follow-up: the dose setting)."""
        kind = ReminderKind.DOSE if occurrence.kind in DOSE_SETTING_KINDS else occurrence.kind
        return self.settings[occurrence.patient_id][kind]

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
        if not self.setting_for(occurrence).enabled:
            return "This kind of reminder is switched off."
        return None


def _addressees(occurrence: Occurrence, context: _Context) -> list[int]:
    """The patient's login and caregivers; for a snooze, only who snoozed (if they still may act)."""
    allowed = list(dict.fromkeys(context.recipients.get(occurrence.patient_id, [])))
    if occurrence.recipient_id is not None:
        return [occurrence.recipient_id] if occurrence.recipient_id in allowed else []
    return allowed


def _channels_for(occurrence: Occurrence, context: _Context) -> tuple[str, ...]:
    return context.setting_for(occurrence).channels


def occurrences_deliver(ids: Sequence[uuid.UUID], *, now: datetime.datetime | None = None) -> FanOut:
    """Turn pending occurrences into notifications and per-channel deliveries, in one transaction.

    Returns the ids of the deliveries a worker sends (email, push); the inbox's is sent once written.
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
            channels = _channels_for(occurrence, context)
            # Each recipient reads it in their own language; a caregiver's title names the child.
            words: dict[tuple[str, str], tuple[str, str]] = {}
            for user_id in _addressees(occurrence, context):
                user = context.users.get(user_id)
                if user is None:
                    continue
                child_name = "" if user_id == occurrence.patient.user_id else occurrence.patient.first_name
                key = (user.language, child_name)
                if key not in words:
                    words[key] = wording(
                        occurrence,
                        occurrence.schedule.regimen,
                        occurrence.patient,
                        language=user.language,
                        child_name=child_name,
                    )
                title, body = words[key]
                notification = Notification(
                    occurrence_id=occurrence.pk,
                    recipient_id=user_id,
                    patient_id=occurrence.patient_id,
                    kind=occurrence.kind,
                    title=title,
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
    for channel in (Channel.INBOX, Channel.EMAIL):
        if channel in channels:
            if transport_for(channel).delivered_when_written:
                rows.append(
                    Delivery(notification=notification, channel=channel, status=DeliveryStatus.SENT, sent_at=now)
                )
            else:
                rows.append(Delivery(notification=notification, channel=channel, next_attempt_at=now))
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
