"""Push devices: registering where a user gets push (at most PUSH_DEVICES_PER_USER active), removing one."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from tracking.models import Device, Platform
from tracking.models.reminders import token_digest
from tracking.notifications.transports.base import DeactivationReason
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
