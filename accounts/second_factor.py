"""The second factor of dermatologists and clinic staff: TOTP with single-use recovery codes (django-otp).

Who is asked for a code, enrolment (an authenticator secret that counts once one code from it is
accepted, then recovery codes shown once) and checking a code at sign-in, for the admin and the token
endpoint alike. Secrets, codes and their throttling are django-otp's: nothing here is cryptography.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp import verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import CLINICIAN_ROLES, User

AUTHENTICATOR_NAME = "authenticator app"
RECOVERY_CODES_NAME = "recovery codes"
# An authenticator shows 6 digits (TOTPDevice's default); anything else is tried as a recovery code.
AUTHENTICATOR_CODE = re.compile(r"\d{6}")
# StaticToken holds at most 16 characters: a longer answer is wrong without asking the database.
LONGEST_CODE = 16


def has_clinical_access(user: Any) -> bool:
    """Dermatologists, clinic staff and anyone who may enter the admin: each sees many patients' records."""
    return bool(
        getattr(user, "is_authenticated", False)
        and (user.is_staff or user.is_superuser or getattr(user, "role", None) in CLINICIAN_ROLES)
    )


def is_enrolled(user: User) -> bool:
    """The account has an authenticator that one code has confirmed."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def asks_for_second_factor(user: Any) -> bool:
    """Whether signing in as `user` takes a code after the password.

    A clinical account is asked whenever SECOND_FACTOR_REQUIRED is on (production), and otherwise
    once it has enrolled (local mode, where the demo signs in without an authenticator). Patients
    and caregivers are never asked.
    """
    if not has_clinical_access(user):
        return False
    return bool(settings.SECOND_FACTOR_REQUIRED) or is_enrolled(user)


def session_is_verified(request: HttpRequest) -> bool:
    """The signed-in user of this request needs no code, or gave one when signing in to this session.

    django-otp's middleware puts the device that verified the session on `request.user`. The answer
    is kept on the request: the admin asks several times a page.
    """
    user = request.user
    cached = getattr(request, "_second_factor_verified", None)
    if cached is not None and cached[0] == user.pk:
        return bool(cached[1])
    is_verified = getattr(user, "is_verified", None)
    verified = bool(is_verified and is_verified()) or not asks_for_second_factor(user)
    request._second_factor_verified = (user.pk, verified)  # type: ignore[attr-defined]
    return verified


def code_accepted(user: User | None, code: str) -> Device | None:
    """The device that accepts `code`: 6 digits from the authenticator, else a recovery code (used up by it).

    Each kind is tried only against its own device, so typing a recovery code does not count as a
    wrong authenticator code in django-otp's throttling, nor the other way round.
    """
    code = "".join(code.split())
    if user is None or not code or len(code) > LONGEST_CODE:
        return None
    devices: Any
    if AUTHENTICATOR_CODE.fullmatch(code):
        devices = TOTPDevice.objects.devices_for_user(user, confirmed=True)
    else:
        code = code.lower()  # recovery codes are issued in lower case; people copy them in either
        devices = StaticDevice.objects.devices_for_user(user, confirmed=True)
    for device in devices:
        # django-otp locks the device row for the check: two requests cannot both use one code.
        accepted = verify_token(user, device.persistent_id, code)
        if accepted is not None:
            return accepted
    return None


def authenticator_to_enrol(user: User) -> TOTPDevice:
    """The account's authenticator waiting for its first code, made (with a new secret) on first call.

    The secret stays the same until a code confirms it, so reloading the page does not change what
    the person already typed into their app.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def enrolment_confirm(*, user: User, code: str) -> list[str] | None:
    """Confirm the authenticator being enrolled with one code from it.

    Answers the new recovery codes (the only time they are shown), or None when the code is wrong,
    or when there is nothing to confirm.
    """
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
        code = "".join(code.split())
        if device is None or not AUTHENTICATOR_CODE.fullmatch(code) or not device.verify_token(code):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return recovery_codes_issue(user=user)


def recovery_codes_issue(*, user: User) -> list[str]:
    """Replace the account's recovery codes with new ones, and answer them: they are shown once."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_CODES_NAME, confirmed=True)
        codes = [StaticToken.random_token() for _ in range(settings.SECOND_FACTOR_RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
