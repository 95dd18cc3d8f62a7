"""Writes on user accounts: registration, e-mail confirmation, passwords, names and language."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from functools import partial
from typing import Any, cast

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from accounts import links, tasks
from accounts.emails import AccountEmail
from accounts.models import (
    Language,
    Patient,
    Role,
    SessionEnd,
    User,
    normalize_email_address,
)
from accounts.services.sessions import user_sessions_end
from tacro_topical.task_sending import enqueue

PATIENT_EDITABLE_FIELDS = ("first_name", "last_name", "birth_date", "timezone", "condition")
USER_EDITABLE_FIELDS = ("first_name", "last_name", "language")
# One answer for a link that is wrong, used or old: which of them it was helps nobody but a guesser.
LINK_REFUSED = gettext_lazy("This link is not valid, or it has expired or was already used. Ask for a new one.")


@transaction.atomic
def user_register(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    role: Role,
    birth_date: datetime.date | None = None,
    timezone_name: str | None = None,
    condition: str | None = None,
    language: Language = Language.ENGLISH,
) -> None:
    """Create a patient or caregiver login (a patient also gets their own Patient record), unconfirmed.

    Raises ValidationError keyed by field: a weak password, missing or bad patient fields. A taken address
    is not one of them: saying so would tell anyone that its owner is treated here. The new account gets
    a link confirming its address; a taken address's owner is told someone tried, with a reset link. Either
    way one e-mail goes out after commit, so the caller cannot tell the two apart.
    """
    if role not in (Role.PATIENT, Role.CAREGIVER):
        raise ValidationError({"role": gettext("Only patients and caregivers register themselves.")})
    # Every problem in one answer: a person fixing a form should not meet them one at a time.
    problems: dict[str, list[str]] = {}
    if role == Role.PATIENT:
        problems |= patient_registration_missing(
            birth_date=birth_date, timezone_name=timezone_name, condition=condition
        )
    email = normalize_email_address(email)
    user = User(
        email=email, first_name=first_name, last_name=last_name, role=role, language=language, email_verified_at=None
    )
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        problems["password"] = error.messages
    # validate_unique off: the unique e-mail is settled by the INSERT below, and never reported.
    problems |= clean_problems(user, exclude=["password"], validate_unique=False)
    patient = None
    if role == Role.PATIENT and not problems.keys() & set(PATIENT_REGISTRATION_FIELDS):
        patient = Patient(
            first_name=first_name,
            last_name=last_name,
            # Checked present above.
            birth_date=cast(datetime.date, birth_date),
            timezone=cast(str, timezone_name),
            condition=cast(str, condition),
        )
        problems |= clean_problems(patient, exclude=["user"])
    if problems:
        raise ValidationError(problems)
    # Hashed for a taken address too, so that both answers take as long.
    user.set_password(password)
    try:
        # A savepoint, so the INSERT refused for a taken address (or a lost race) leaves the transaction usable.
        with transaction.atomic():
            user.save()
    except IntegrityError:
        owner = User.objects.filter(email=email).only("pk").first()
        account_email_after_commit(AccountEmail.REGISTRATION_ATTEMPT, owner.pk if owner else None)
        return
    if patient is not None:
        patient.user = user
        patient.save()
    account_email_after_commit(AccountEmail.VERIFY_EMAIL, user.pk)


# What a patient, and only a patient, must give at registration.
PATIENT_REGISTRATION_FIELDS = ("birth_date", "timezone", "condition")


def patient_registration_missing(
    *, birth_date: object, timezone_name: object, condition: object
) -> dict[str, list[str]]:
    """The fields a patient must give at registration that are missing, each with why."""
    given = dict(zip(PATIENT_REGISTRATION_FIELDS, (birth_date, timezone_name, condition), strict=True))
    return {name: ["Required when registering a patient."] for name, value in given.items() if value in (None, "")}


def clean_problems(row: User | Patient, *, exclude: list[str], validate_unique: bool = True) -> dict[str, list[str]]:
    try:
        row.full_clean(exclude=exclude, validate_unique=validate_unique)
    except ValidationError as error:
        return dict(error.message_dict)
    return {}


def account_email_after_commit(kind: AccountEmail, user_id: int | None) -> None:
    """Hand an account e-mail to a worker once the transaction commits; None sends nothing, the same way."""
    transaction.on_commit(partial(enqueue, tasks.send_account_email, kind.value, user_id))


@transaction.atomic
def user_email_verify(*, token: str) -> User:
    """Record that the account's owner followed the e-mailed link. Following it again changes nothing."""
    user = links.user_for_email_verification_token(token)
    if user is None:
        raise ValidationError({"token": LINK_REFUSED})
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    return user


def user_password_reset_request(*, email: str) -> None:
    """E-mail a single-use link for choosing a new password, if an active account has this address.

    The request does the same for any address (one look-up, one task) and the worker finds nobody to
    write to for an unknown one, so neither the answer nor its timing says whether the address has an account.
    """
    owner = User.objects.filter(email=normalize_email_address(email), is_active=True).only("pk").first()
    account_email_after_commit(AccountEmail.PASSWORD_RESET, owner.pk if owner else None)


@transaction.atomic
def _refuse_with_password_problems(problems: dict[str, list[str]], *, new_password: str, user: User | None) -> None:
    """Raise every problem at once, each under its field: the caller's, and the new password's (Django's
    validators), so a person fixes the form in one go."""
    try:
        validate_password(new_password, user=user)
    except ValidationError as error:
        problems["new_password"] = error.messages
    if problems:
        raise ValidationError(problems)


def user_password_reset_confirm(*, uid: str, token: str, new_password: str) -> User:
    """Set a new password through an e-mailed link, and end every sign-in of the account.

    The link works once: the token hashes the password it replaces. The row is locked, so two requests
    with one link cannot both use it. Following it also shows the address is the owner's.
    """
    user_id = links.user_id_from_reset_uid(uid)
    user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first() if user_id else None
    problems: dict[str, list[str]] = {}
    if user is None or not links.password_reset_token_is_valid(user, token):
        problems["token"] = [str(LINK_REFUSED)]
    _refuse_with_password_problems(problems, new_password=new_password, user=user)
    user = cast(User, user)  # a valid token names a user
    user.set_password(new_password)
    changed = ["password"]
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        changed.append("email_verified_at")
    user.save(update_fields=changed)
    user_sessions_end(user=user, reason=SessionEnd.PASSWORD_RESET)
    return user


def user_password_change(
    *,
    user: User,
    old_password: str,
    new_password: str,
    keep_session_id: uuid.UUID | None,
    request: Any,
) -> User:
    """Change a signed-in user's password; every other sign-in of the account ends.

    The session the change came from (`keep_session_id`) stays signed in. The old password is checked
    through `authenticate`, so a wrong guess counts toward the account's sign-in lockout like a wrong
    sign-in does: a stolen session cannot try passwords at leisure. django-axes needs the `request` (Django's
    or REST framework's) for that, and flags it `axes_locked_out` once the account is locked.
    """
    problems: dict[str, list[str]] = {}
    # Outside the transaction: the failure django-axes records must outlive the 400 that follows.
    if authenticate(request, email=user.email, password=old_password) != user:
        problems["old_password"] = ["This is not your current password."]
    _refuse_with_password_problems(problems, new_password=new_password, user=user)
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        user_sessions_end(user=user, reason=SessionEnd.PASSWORD_CHANGED, keep_session_id=keep_session_id)
    return user


def refuse_uneditable(changes: dict[str, Any] | dict[str, object], editable: Iterable[str]) -> None:
    """A ValidationError naming each field of `changes` outside `editable`."""
    unknown = set(changes) - set(editable)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), gettext("This field cannot be changed.")))


@transaction.atomic
def user_update(*, user: User, **changes: Any) -> User:
    """Change the signed-in user's own names or language. Only USER_EDITABLE_FIELDS may change."""
    refuse_uneditable(changes, USER_EDITABLE_FIELDS)
    for name, value in changes.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"], validate_unique=False)
    if changes:
        user.save(update_fields=list(changes))
    return user
