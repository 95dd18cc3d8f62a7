"""Users with a role, the patients whose skin is treated, and the care teams that review them."""

from __future__ import annotations

import datetime
import secrets
import uuid
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext

from tacro_topical.text import PersonTextValidator


class Role(models.TextChoices):
    PATIENT = "patient", "Patient"
    CAREGIVER = "caregiver", "Caregiver"
    DERMATOLOGIST = "dermatologist", "Dermatologist"
    CLINIC_STAFF = "clinic_staff", "Clinic staff"


CLINICIAN_ROLES = frozenset({Role.DERMATOLOGIST, Role.CLINIC_STAFF})
SELF_REGISTERING_ROLES = (Role.PATIENT, Role.CAREGIVER)
# The roles clinic staff give and manage: each grants no more than clinic staff hold themselves
# (accounts/backends.py). Clinic staff accounts, superusers and anything beyond are a superuser's.
STAFF_MANAGED_ROLES = (Role.PATIENT, Role.CAREGIVER, Role.DERMATOLOGIST)


def staff_status_for(role: str) -> bool:
    """Admin access for an account clinic staff set up: dermatologists review in the admin; nobody else."""
    return role == Role.DERMATOLOGIST


class Language(models.TextChoices):
    """The languages e-mails are written in; settings.LANGUAGES lists the same two."""

    ENGLISH = "en", "English"
    ARABIC = "ar", "Arabic"


class Condition(models.TextChoices):
    ATOPIC_DERMATITIS = "atopic_dermatitis", "Atopic dermatitis"
    CLE_ACUTE = "cle_acute", "Acute cutaneous lupus erythematosus"
    CLE_SUBACUTE = "cle_subacute", "Subacute cutaneous lupus erythematosus"
    CLE_DISCOID = "cle_discoid", "Discoid lupus erythematosus"
    CLE_OTHER = "cle_other", "Other cutaneous lupus erythematosus"


def normalize_email_address(email: str) -> str:
    """One spelling per address: people type their e-mail in any case, and sign in with another."""
    return email.strip().lower()


def validate_iana_timezone(value: str) -> None:
    """Accept only IANA zone names (`Asia/Qatar`); reminders and local dates depend on them."""
    if value not in _iana_timezones():
        raise ValidationError(
            gettext("Unknown time zone %(value)s: use an IANA name such as Europe/London or Asia/Qatar."),
            code="invalid_timezone",
            params={"value": repr(value)},
        )


_TIMEZONES: frozenset[str] | None = None


def _iana_timezones() -> frozenset[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(available_timezones())
    return _TIMEZONES


class UserManager(BaseUserManager["User"]):
    """Users sign in with their e-mail address; there is no username."""

    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email=normalize_email_address(username or ""))

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=normalize_email_address(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: Any) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields: Any) -> User:
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("role", Role.CLINIC_STAFF)
        if extra_fields["is_staff"] is not True or extra_fields["is_superuser"] is not True:
            raise ValueError("A superuser needs is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A login. What it may see follows from its role and its links to patients."""

    # Django's EmailValidator admits control characters inside a quoted local part ("a\x1bb"@example.org),
    # and the address goes into every e-mail's To header: the person-text rule, for the admin's forms and
    # every service's full_clean as for the API.
    email = models.EmailField("e-mail address", unique=True, validators=[PersonTextValidator()])
    # One line, no control characters: names go into e-mail subjects (admin forms and services alike).
    first_name = models.CharField(max_length=150, blank=True, validators=[PersonTextValidator()])
    last_name = models.CharField(max_length=150, blank=True, validators=[PersonTextValidator()])
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.PATIENT)
    is_staff = models.BooleanField(
        default=False, help_text="Can sign in to the admin (dermatologists and clinic staff)."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    language = models.CharField(
        max_length=8, choices=Language.choices, default=Language.ENGLISH, help_text="E-mails are written in it."
    )
    # Only self-registration starts an account without a confirmed address (accounts.services.user_register):
    # an account clinic staff create, and every account from before confirmation existed, counts as confirmed.
    email_verified_at = models.DateTimeField(
        "e-mail address confirmed at",
        null=True,
        blank=True,
        default=timezone.now,
        help_text="When the owner followed the e-mailed link. Where confirmation is required, "
        "an account without it cannot sign in.",
    )
    sessions_ended_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When all the account's sign-ins were last ended (password change or reset, signing out "
        "everywhere). A token issued before it without a session of its own is refused.",
    )

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ("email",)

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def clean(self) -> None:
        super().clean()
        self.email = normalize_email_address(self.email)

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @property
    def is_clinician(self) -> bool:
        return self.role in CLINICIAN_ROLES


class SessionEnd(models.TextChoices):
    SIGNED_OUT = "signed_out", "Signed out"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere", "Signed out everywhere"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    PASSWORD_RESET = "password_reset", "Password reset"
    TOKEN_REUSED = "token_reused", "A refresh token was used again after it was replaced"


class AuthSessionQuerySet(models.QuerySet["AuthSession"]):
    def in_force(self, at: datetime.datetime) -> AuthSessionQuerySet:
        """Sessions not ended and not past their absolute end at this instant."""
        return self.filter(ended_at__isnull=True, expires_at__gt=at)


class AuthSession(models.Model):
    """One sign-in to the API: the family of refresh tokens rotated from it, and the access tokens they gave.

    Every token carries the session's id (claim `sid`). Tokens work while the session is in force: ending
    it (signing out, a password change or reset, a replaced refresh token shown again) ends them all at
    once, access tokens included, and no rotation takes a session past `expires_at`. So does a password
    set by any other path (`auth_hash`).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auth_sessions")
    started_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(help_text="The absolute end: refreshing never goes past it.")
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=24, choices=SessionEnd.choices, blank=True)
    # A password set anywhere (the API, the admin, `changepassword`, a reset) changes the user's
    # get_session_auth_hash(); a session whose copy differs is over (accounts.tokens), as Django's own
    # session cookies are. Only the API's password change carries its caller's session over to the new one.
    auth_hash = models.CharField(
        max_length=128,
        editable=False,
        help_text="The user's get_session_auth_hash() for the password this session signed in with (an HMAC "
        "of the password's hash, which it never holds).",
    )

    objects = AuthSessionQuerySet.as_manager()

    class Meta:
        ordering = ("-started_at",)

    def __str__(self) -> str:
        return f"sign-in {self.pk} of user {self.user_id} at {self.started_at:%Y-%m-%d %H:%M}Z"


# A product limit, not a clinical fact (issue #14): no living person was born before 1900, so an earlier
# birth date is a client's date-picker bug, refused as a 400 naming the field.
EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)


class Patient(models.Model):
    """The person whose skin is treated: an adult with a login, or a child managed by caregivers."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patient_profile",
        help_text="The patient's own login; empty for a dependent child.",
    )
    first_name = models.CharField(max_length=150, validators=[PersonTextValidator()])
    last_name = models.CharField(max_length=150, blank=True, validators=[PersonTextValidator()])
    birth_date = models.DateField()
    timezone = models.CharField(
        max_length=64,
        validators=[validate_iana_timezone],
        help_text="IANA time zone name; reminders and local dates follow it.",
    )
    condition = models.CharField(max_length=32, choices=Condition.choices)
    caregivers = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="dependents", blank=True)
    care_team = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="CareTeamMembership",
        related_name="care_team_patients",
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("last_name", "first_name", "id")

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def clean(self) -> None:
        super().clean()
        # "Today" is the patient's own calendar day: in Asia/Qatar a child born on the 11th
        # may be registered while UTC still says the 10th.
        try:
            validate_iana_timezone(self.timezone)
        except ValidationError:
            return  # the timezone field reports its own error; no calendar to compare against
        if self.birth_date and self.birth_date > self.local_today():
            raise ValidationError({"birth_date": gettext("A birth date cannot be in the future.")}, code="future_date")

    def age_on(self, on: datetime.date) -> int:
        """Completed years of age on a date (a 29 February birthday turns over on 1 March)."""
        had_birthday = (on.month, on.day) >= (self.birth_date.month, self.birth_date.day)
        return on.year - self.birth_date.year - (0 if had_birthday else 1)

    def local_today(self) -> datetime.date:
        """Today's date in the patient's own calendar."""
        return timezone.now().astimezone(ZoneInfo(self.timezone)).date()


class PatientTimezoneChange(models.Model):
    """The zone a patient lived by until a moment: old logs keep their own local dates after a move.

    One row per change of `Patient.timezone`, holding the zone that was left. The zone in force at
    any instant is the earliest row whose `until` is after it, or the patient's current zone.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="timezone_changes")
    timezone = models.CharField(max_length=64, validators=[validate_iana_timezone])
    until = models.DateTimeField(help_text="When the patient stopped living by this zone (UTC).")

    class Meta:
        ordering = ("patient", "until")
        indexes: ClassVar = [models.Index(fields=("patient", "until"), name="tzchange_patient_until")]

    def __str__(self) -> str:
        return f"{self.timezone} until {self.until:%Y-%m-%d %H:%M}Z"


class CareTeamMembership(models.Model):
    """A dermatologist on a patient's care team: they may review that patient's data."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="care_team_memberships")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="care_team_memberships",
        limit_choices_to={"role": Role.DERMATOLOGIST},
    )
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "clinician"], name="unique_care_team_member"),
        ]

    def __str__(self) -> str:
        return f"{self.clinician} on the care team of {self.patient}"

    def clean(self) -> None:
        super().clean()
        if self.clinician_id and self.clinician.role != Role.DERMATOLOGIST:
            raise ValidationError({"clinician": gettext("Only dermatologists are members of a care team.")})


# Letters and digits that cannot be mistaken for one another when read aloud or typed from paper.
JOIN_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8


def generate_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))


class CareTeamJoinCode(models.Model):
    """A short-lived, single-use code a patient or caregiver enters to add a dermatologist."""

    code = models.CharField(max_length=16, unique=True, default=generate_join_code, editable=False)
    dermatologist = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="issued_join_codes",
        limit_choices_to={"role": Role.DERMATOLOGIST},
        help_text="The dermatologist the code adds to a patient's care team.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)
    used_for = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.code} for {self.dermatologist}"

    def is_usable_at(self, moment: datetime.datetime) -> bool:
        return self.used_at is None and moment < self.expires_at


class AccessChannel(models.TextChoices):
    ADMIN = "admin", "admin"
    API = "api", "API"


class AccessRecord(models.Model):
    """One view of a patient's data by a clinician: who, which patient, what, when. Never edited.

    `patient` keeps its id without a database constraint, so the record outlives the patient it names.
    """

    viewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        Patient, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", help_text="The patient viewed."
    )
    channel = models.CharField(max_length=8, choices=AccessChannel.choices)
    what = models.CharField(max_length=80, help_text="The page, export or API operation.")
    path = models.CharField(max_length=500, help_text="The request path and query.")
    viewed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("-viewed_at", "-id")
        indexes: ClassVar = [models.Index(fields=("patient", "-viewed_at"), name="access_patient_time")]

    def __str__(self) -> str:
        return f"{self.viewer_id} viewed {self.patient_id} ({self.what}) at {self.viewed_at:%Y-%m-%d %H:%M}Z"
