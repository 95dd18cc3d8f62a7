"""The second factor of dermatologists and clinic staff: TOTP with single-use recovery codes (django-otp).

Who is asked for a code, enrolment (a code e-mailed to the account's address first, then an
authenticator secret that counts once one code from it is accepted, then recovery codes shown once) and
checking a code at sign-in, for the admin and the token endpoint alike. Secrets, codes and their
throttling are django-otp's: nothing here is cryptography.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp import verify_token
from django_otp.models import Device
from django_otp.plugins.otp_email.conf import settings as otp_email_settings
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import CLINICIAN_ROLES, User

AUTHENTICATOR_NAME = "authenticator app"
RECOVERY_CODES_NAME = "recovery codes"
ENROLMENT_EMAIL_NAME = "enrolment e-mail"
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


# --- Enrolment: the e-mailed code first -----------------------------------------------------------------
# The password alone must not enrol an authenticator: whoever holds it would enrol their own, and from then
# on pass as the clinician. So the secret is shown only to a session that also typed a code e-mailed to the
# account's address. The code lives on an EmailDevice (django-otp: single use, expiry, throttling) that is
# never confirmed, so it never counts as a way to sign in (code_accepted asks the other two kinds only).


def _enrolment_email_device(user: User) -> EmailDevice:
    """The account's enrolment e-mail device, locked for this transaction: made on first use."""
    device = EmailDevice.objects.select_for_update().filter(user=user, name=ENROLMENT_EMAIL_NAME).order_by("pk").first()
    if device is None:
        device = EmailDevice.objects.create(user=user, name=ENROLMENT_EMAIL_NAME, confirmed=False)
    return device


def enrolment_email_may_send(user: User) -> bool:
    """Whether to e-mail `user` an enrolment code now: not if one was asked for within OTP_EMAIL_COOLDOWN_DURATION.

    The cooldown starts here, when the e-mail is asked for, so that asking again and again sends one
    e-mail a minute at most, however many requests race (the device row is locked).
    """
    with transaction.atomic():
        device = _enrolment_email_device(user)
        allowed, _reason = device.generate_is_allowed()
        if allowed:
            device.cooldown_set(commit=True)
    return bool(allowed)


def enrolment_email_code_issue(user: User) -> str:
    """A new enrolment code for `user`, replacing any earlier one, good once for OTP_EMAIL_TOKEN_VALIDITY.

    Called where the e-mail is written (accounts/emails.py, by the worker), so the code goes from the
    database into the e-mail and never through the task queue.
    """
    with transaction.atomic():
        device = _enrolment_email_device(user)
        device.generate_token(valid_secs=enrolment_email_code_minutes() * 60, commit=True)
    return str(device.token)


def enrolment_email_code_minutes() -> int:
    """How long an e-mailed enrolment code works, in whole minutes (django-otp's OTP_EMAIL_TOKEN_VALIDITY)."""
    return max(1, int(otp_email_settings.OTP_EMAIL_TOKEN_VALIDITY) // 60)


def enrolment_email_code_accepted(user: User, code: str) -> bool:
    """Whether `code` is the enrolment code last e-mailed to `user`, still valid; accepting it uses it up."""
    code = "".join(code.split())
    device = EmailDevice.objects.filter(user=user, name=ENROLMENT_EMAIL_NAME).order_by("pk").first()
    # EmailDevice's codes have 6 digits, as an authenticator's do.
    if device is None or not AUTHENTICATOR_CODE.fullmatch(code):
        return False
    # django-otp locks the device row for the check, and counts a wrong code toward its own throttling.
    return verify_token(user, device.persistent_id, code) is not None


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
