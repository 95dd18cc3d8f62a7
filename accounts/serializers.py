"""Request and response shapes of the accounts API. Validation of shape only; rules live in services."""

from __future__ import annotations

import datetime
from typing import Any

from django.contrib.auth.password_validation import password_validators_help_texts, validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import (
    EARLIEST_BIRTH_DATE,
    SELF_REGISTERING_ROLES,
    Condition,
    Language,
    Patient,
    Role,
    User,
    validate_iana_timezone,
)
from accounts.services import patient_registration_missing
from tacro_topical.serializers import (
    BoundedDateField,
    ExplainedChoiceField,
    ModelSerializer,
    PersonTextValidator,
    RejectUnknownFields,
    SingleLineTextField,
    StrictUUIDField,
    validated_together,
)


class TimezoneField(serializers.CharField):
    """An IANA zone name; an unknown one is a 400 naming the field."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("help_text", "IANA time zone name, e.g. Asia/Qatar.")
        super().__init__(**kwargs)
        self.validators.append(_drf_timezone_validator)


def birth_date_field(**kwargs: Any) -> BoundedDateField:
    """From 1900 to today; a day of slack for zones ahead of UTC (the patient's zone decides "future")."""
    kwargs.setdefault("help_text", "From 1900-01-01; not in the future.")
    return BoundedDateField(earliest=EARLIEST_BIRTH_DATE, latest_ahead=datetime.timedelta(days=1), **kwargs)


def _drf_timezone_validator(value: str) -> None:
    try:
        validate_iana_timezone(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from error


class PatientSerializer(ModelSerializer):
    age = serializers.SerializerMethodField(help_text="Completed years today, in the patient's time zone.")
    has_own_login = serializers.SerializerMethodField(
        help_text="True for a patient who signs in; false for a dependent managed by caregivers."
    )
    timezone = TimezoneField()

    class Meta:
        model = Patient
        fields = (
            "id",
            "first_name",
            "last_name",
            "birth_date",
            "age",
            "timezone",
            "condition",
            "has_own_login",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "age", "has_own_login", "created_at", "updated_at")

    @extend_schema_field(serializers.IntegerField())
    def get_age(self, patient: Patient) -> int:
        return patient.age_on(patient.local_today())

    @extend_schema_field(serializers.BooleanField())
    def get_has_own_login(self, patient: Patient) -> bool:
        return patient.user_id is not None


class DependentCreateSerializer(serializers.Serializer):
    first_name = SingleLineTextField(max_length=150)
    last_name = SingleLineTextField(max_length=150, required=False, allow_blank=True, default="")
    birth_date = birth_date_field()
    timezone = TimezoneField()
    condition = ExplainedChoiceField(choices=Condition.choices)


class PatientUpdateSerializer(RejectUnknownFields, serializers.Serializer):
    first_name = SingleLineTextField(max_length=150, required=False)
    last_name = SingleLineTextField(max_length=150, required=False, allow_blank=True)
    birth_date = birth_date_field(required=False)
    timezone = TimezoneField(required=False)
    condition = ExplainedChoiceField(choices=Condition.choices, required=False)


class UserSerializer(ModelSerializer):
    """The signed-in user, with the patients they may act for (themselves or their dependents)."""

    patients = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ("id", "email", "first_name", "last_name", "role", "language", "patients")
        read_only_fields = fields

    @extend_schema_field(PatientSerializer(many=True))
    def get_patients(self, user: User) -> list[dict[str, Any]]:
        patients = self.context.get("actable_patients", [])
        return PatientSerializer(patients, many=True, context=self.context).data  # type: ignore[return-value]


class RegisterSerializer(serializers.Serializer):
    # Django's EmailValidator admits C0 controls inside a quoted local part ("\x1b"@example.org).
    email = serializers.EmailField(validators=[PersonTextValidator()])
    password = serializers.CharField(
        write_only=True,
        style={"input_type": "password"},
        help_text=" ".join(password_validators_help_texts()),
    )
    first_name = SingleLineTextField(max_length=150)
    last_name = SingleLineTextField(max_length=150, allow_blank=True)
    role = ExplainedChoiceField(choices=[(role.value, role.label) for role in SELF_REGISTERING_ROLES])
    birth_date = birth_date_field(
        required=False, help_text="Required for a patient. From 1900-01-01; not in the future."
    )
    timezone = TimezoneField(required=False, help_text="Required for a patient. IANA name, e.g. Asia/Qatar.")
    condition = ExplainedChoiceField(choices=Condition.choices, required=False, help_text="Required for a patient.")
    language = ExplainedChoiceField(
        choices=Language.choices,
        required=False,
        help_text="The language of the account's e-mails. Left out: the request's Accept-Language, else English.",
    )

    def validate_password(self, value: str) -> str:
        # Here as well as in the service, so a weak password is named beside the other fields' problems.
        # Without a user, Django skips only the check against the person's own name and e-mail.
        try:
            validate_password(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from error
        return value

    def to_internal_value(self, data: Any) -> Any:
        """Field errors and a patient's missing fields, named together."""
        missing: dict[str, list[str]] = {}
        if isinstance(data, dict) and data.get("role") == Role.PATIENT:
            missing = patient_registration_missing(
                birth_date=data.get("birth_date"), timezone_name=data.get("timezone"), condition=data.get("condition")
            )
        return validated_together(missing, super().to_internal_value, data)


class MeUpdateSerializer(RejectUnknownFields, serializers.Serializer):
    first_name = SingleLineTextField(max_length=150, required=False)
    last_name = SingleLineTextField(max_length=150, required=False, allow_blank=True)
    language = ExplainedChoiceField(
        choices=Language.choices, required=False, help_text="The language of the account's e-mails."
    )


class AcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What happens next, in plain words.")


class VerifyEmailSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512, help_text="The token from the link in the e-mail.")


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(help_text="The account's e-mail address.")


def new_password_field() -> serializers.CharField:
    return serializers.CharField(
        write_only=True, style={"input_type": "password"}, help_text=" ".join(password_validators_help_texts())
    )


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64, help_text="The `uid` from the link in the e-mail.")
    token = serializers.CharField(max_length=128, help_text="The `token` from the link in the e-mail.")
    new_password = new_password_field()


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(write_only=True, style={"input_type": "password"})
    new_password = new_password_field()


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(help_text="The refresh token to revoke.")
    all = serializers.BooleanField(
        default=False, help_text="True: sign out of every session of the account, on every device."
    )


class CareTeamJoinSerializer(serializers.Serializer):
    code = SingleLineTextField(max_length=16, help_text="The join code the dermatologist's clinic gave you.")
    patient = StrictUUIDField(help_text="The patient whose care team the dermatologist joins.")


class CareTeamMemberSerializer(serializers.Serializer):
    patient = serializers.UUIDField(source="patient_id")
    dermatologist_id = serializers.IntegerField(source="clinician_id")
    dermatologist_name = serializers.CharField(source="clinician.get_full_name")
    joined_at = serializers.DateTimeField()
