"""Push devices: registering where a user gets push (at most PUSH_DEVICES_PER_USER active), removing one,
and the test push a user sends to one of theirs ("send me a test")."""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop

from accounts.models import User
from tracking.models import Device, Platform
from tracking.models.reminders import token_digest
from tracking.notifications.transports.base import DeactivationReason, DeliveryError, Message
from tracking.notifications.transports.registry import transport_for
from tracking.notifications.transports.webpush import registrable_subscription


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


logger = logging.getLogger(__name__)

# A test push says nothing about anyone's health: it can show on a lock screen, to whoever holds the phone.
TEST_PUSH_KIND = "test"
TEST_PUSH_TITLE = gettext_noop("A test reminder")
TEST_PUSH_BODY = gettext_noop("Reminders reach this phone. There is nothing to do.")


def device_unavailable_reason(device: Device) -> str | None:
    """Why a push to `device` cannot go now (switched off, or its platform not configured here), or None."""
    if not device.active:
        return f"This device no longer receives push: {device.deactivated_reason or 'it was switched off.'}"
    return transport_for(device.platform).unavailable_reason()


def device_test_send(device: Device) -> bool:
    """Send one test push to `device`, in its owner's language, through its platform's transport.

    No notification, occurrence or delivery row is written: a test is not a reminder and leaves no trace in
    the inbox or the record. A device its push service says is gone is deactivated, as a reminder's send
    does; any other failure is logged (ids only). Returns whether the push service took it.
    """
    if device_unavailable_reason(device) is not None:
        return False
    with translation.override(device.user.language):
        title, body = gettext(TEST_PUSH_TITLE), gettext(TEST_PUSH_BODY)
    test_id = uuid.uuid4()
    message = Message(
        notification_id=test_id,
        occurrence_id=test_id,
        kind=TEST_PUSH_KIND,
        title=title,
        body=body,
        recipient_email=device.user.email,
    )
    try:
        transport_for(device.platform).send(message, device)
    except DeliveryError as error:
        if error.device_gone:
            Device.objects.filter(pk=device.pk).update(
                active=False, deactivated_reason=error.detail[:300], updated_at=timezone.now()
            )
        logger.warning("test push to device %s failed", device.pk)
        return False
    return True
