"""Writes on accounts, patients and care teams. Each owns its transaction and validates the row."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts import links, tasks
from accounts.emails import AccountEmail
from accounts.models import (
    CLINICIAN_ROLES,
    AccessChannel,
    AccessRecord,
    AuthSession,
    CareTeamJoinCode,
    CareTeamMembership,
    Language,
    Patient,
    PatientTimezoneChange,
    Role,
    SessionEnd,
    User,
    normalize_email_address,
)
from accounts.signals import patient_timezone_changed
from tacro_topical.task_sending import enqueue

PATIENT_EDITABLE_FIELDS = ("first_name", "last_name", "birth_date", "timezone", "condition")
USER_EDITABLE_FIELDS = ("first_name", "last_name", "language")
# One answer for a link that is wrong, used or old: which of them it was helps nobody but a guesser.
LINK_REFUSED = "This link is not valid, or it has expired or was already used. Ask for a new one."


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
        raise ValidationError({"role": "Only patients and caregivers register themselves."})
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
    problems |= _clean_problems(user, exclude=["password"], validate_unique=False)
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
        problems |= _clean_problems(patient, exclude=["user"])
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


def _clean_problems(row: User | Patient, *, exclude: list[str], validate_unique: bool = True) -> dict[str, list[str]]:
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
        problems["token"] = [LINK_REFUSED]
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


def _refuse_uneditable(changes: dict[str, Any] | dict[str, object], editable: Iterable[str]) -> None:
    """A ValidationError naming each field of `changes` outside `editable`."""
    unknown = set(changes) - set(editable)
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))


@transaction.atomic
def user_update(*, user: User, **changes: Any) -> User:
    """Change the signed-in user's own names or language. Only USER_EDITABLE_FIELDS may change."""
    _refuse_uneditable(changes, USER_EDITABLE_FIELDS)
    for name, value in changes.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"], validate_unique=False)
    if changes:
        user.save(update_fields=list(changes))
    return user


# --- Sign-in sessions (accounts.tokens issues and checks the tokens) -----------------------------------


@transaction.atomic
def session_start(*, user: User) -> AuthSession:
    """A new sign-in: it lasts at most ACCOUNT_SESSION_LIFETIME, however often its tokens are refreshed."""
    now = timezone.now()
    session = AuthSession(
        user=user,
        started_at=now,
        expires_at=now + settings.ACCOUNT_SESSION_LIFETIME,
        auth_hash=user.get_session_auth_hash(),
    )
    session.save()
    return session


@transaction.atomic
def session_end(*, session_id: uuid.UUID | str, reason: SessionEnd) -> bool:
    """End one sign-in: every token it gave, access and refresh, stops working. False if it had ended."""
    ended = AuthSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
        ended_at=timezone.now(), end_reason=reason
    )
    return bool(ended)


@transaction.atomic
def user_sessions_end(*, user: User, reason: SessionEnd, keep_session_id: uuid.UUID | None = None) -> int:
    """End every sign-in of the account but `keep_session_id`, and refuse tokens issued before now that
    carry no session (accounts.tokens); return how many sessions ended.

    The kept session takes the user's password as it is now: after a password change it would otherwise be
    refused with the others (AuthSession.auth_hash).
    """
    now = timezone.now()
    user.sessions_ended_at = now
    user.save(update_fields=["sessions_ended_at"])
    others = AuthSession.objects.filter(user=user, ended_at__isnull=True)
    if keep_session_id is not None:
        others = others.exclude(pk=keep_session_id)
        AuthSession.objects.filter(pk=keep_session_id, user=user, ended_at__isnull=True).update(
            auth_hash=user.get_session_auth_hash()
        )
    return others.update(ended_at=now, end_reason=reason)


@transaction.atomic
def sessions_prune(*, now: datetime.datetime | None = None) -> int:
    """Delete sign-ins that ended or expired more than ACCOUNT_ENDED_SESSIONS_KEPT ago, and simplejwt's
    records of refresh tokens past their expiry (what its flushexpiredtokens command does).

    Their tokens are refused already: the rows would only grow. Ended sessions are kept a while first, to
    answer "when did this account sign in, and how did it end" after an incident. Returns the sessions deleted.
    """
    now = now or timezone.now()
    cutoff = now - settings.ACCOUNT_ENDED_SESSIONS_KEPT
    OutstandingToken.objects.filter(expires_at__lte=now).delete()
    ended = AuthSession.objects.filter(Q(ended_at__lte=cutoff) | Q(expires_at__lte=cutoff))
    deleted, _by_model = ended.delete()
    return deleted


@transaction.atomic
def patient_create_dependent(
    *,
    caregiver: User,
    first_name: str,
    birth_date: datetime.date,
    timezone_name: str,
    condition: str,
    last_name: str = "",
) -> Patient:
    """A caregiver adds a child (or other dependent) without a login of their own."""
    patient = Patient(
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        timezone=timezone_name,
        condition=condition,
    )
    patient.full_clean()
    patient.save()
    patient.caregivers.add(caregiver)
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, **changes: object) -> Patient:
    """Change a patient's own details. Only PATIENT_EDITABLE_FIELDS may change."""
    _refuse_uneditable(changes, PATIENT_EDITABLE_FIELDS)
    left_timezone = patient.timezone
    for name, value in changes.items():
        setattr(patient, name, value)
    patient.full_clean()
    if patient.timezone != left_timezone:
        # Logs already written keep the local dates they had: remember the zone being left.
        PatientTimezoneChange.objects.create(patient=patient, timezone=left_timezone, until=timezone.now())
    if changes:
        patient.save(update_fields=[*changes, "updated_at"])
    if patient.timezone != left_timezone:
        patient_timezone_changed.send(sender=Patient, patient=patient)
    return patient


@transaction.atomic
def join_code_issue(*, dermatologist: User, created_by: User) -> CareTeamJoinCode:
    """Make a short-lived, single-use code that adds `dermatologist` to a patient's care team."""
    if dermatologist.role != Role.DERMATOLOGIST:
        raise ValidationError({"dermatologist": "Join codes are issued for dermatologists only."})
    if created_by.role == Role.DERMATOLOGIST and created_by.pk != dermatologist.pk and not created_by.is_superuser:
        raise ValidationError({"dermatologist": "A dermatologist issues join codes for themselves only."})
    now = timezone.now()
    join_code = CareTeamJoinCode(
        dermatologist=dermatologist,
        created_by=created_by,
        created_at=now,
        expires_at=now + settings.CARE_TEAM_JOIN_CODE_TTL,
    )
    join_code.full_clean()
    join_code.save()
    return join_code


@transaction.atomic
def care_team_join(*, code: str, patient: Patient) -> CareTeamMembership:
    """Spend a join code: add its dermatologist to the patient's care team.

    The code row is locked so two patients racing on one code cannot both spend it.
    Joining a team one is already on is not an error; the code is still spent.
    """
    now = timezone.now()
    join_code = (
        CareTeamJoinCode.objects.select_for_update()
        .select_related("dermatologist")
        .filter(code=code.strip().upper())
        .first()
    )
    if join_code is None or not join_code.is_usable_at(now) or not join_code.dermatologist.is_active:
        raise ValidationError({"code": "This code is unknown, expired or already used. Ask your clinic for a new one."})
    membership, _ = CareTeamMembership.objects.get_or_create(
        patient=patient, clinician=join_code.dermatologist, defaults={"joined_at": now}
    )
    join_code.used_at = now
    join_code.used_for = patient
    join_code.save(update_fields=["used_at", "used_for"])
    return membership


def is_audited_viewer(user: object) -> bool:
    """A clinician's or superuser's reads are audited; a patient or caregiver reads their own record."""
    return bool(
        getattr(user, "is_authenticated", False)
        and (getattr(user, "is_superuser", False) or getattr(user, "role", None) in CLINICIAN_ROLES)
    )


# Query parameters a clinician types: a search may hold a patient's name, which the audit must not keep.
TYPED_PARAMETERS = frozenset({"q"})


def audited_path(request: HttpRequest) -> str:
    """The request's path and query, with what was typed into a search left out."""
    query = request.GET.copy()
    for name in TYPED_PARAMETERS & set(query):
        query[name] = "redacted"
    encoded = query.urlencode(safe="/")
    return f"{request.path}?{encoded}" if encoded else request.path


def access_record(
    *, viewer: User | AnonymousUser, patient_ids: Iterable[uuid.UUID], channel: AccessChannel, what: str, path: str
) -> int:
    """Record that a clinician viewed these patients' data (one row each, one query); return the count.

    Nothing is recorded for patients and caregivers. `what` names the page or operation; `path` is
    the request path with its query (`audited_path`), which holds ids and dates, never a patient's
    words. One bulk INSERT, without full_clean: every field is set here, from the request.
    """
    if not is_audited_viewer(viewer):
        return 0
    viewer = cast(User, viewer)  # authenticated: is_audited_viewer said so
    records = [
        AccessRecord(viewer=viewer, patient_id=patient_id, channel=channel, what=what[:80], path=path[:500])
        for patient_id in dict.fromkeys(patient_ids)  # once per patient, in the order shown
    ]
    AccessRecord.objects.bulk_create(records)
    return len(records)
