"""Request and response shapes of the tracking API. Shape and ranges only; rules live in services.

Every error names its field and says what is allowed. Times come in with an offset and go out in
the patient's own zone (the `clock` in the serializer context).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tacro_topical.serializers import (
    BoundedDateField,
    ExplainedChoiceField,
    ModelSerializer,
    MultiLineTextField,
    RejectUnknownFields,
    StrictUUIDField,
)
from tracking import rules
from tracking.models import Application, Phase, PoemEntry, Regimen, SkinCheck, Symptom
from tracking.models.logs import PatientLog, PerformedBy
from tracking.models.regimens import STRENGTH_CHOICES, TUBE_CHOICES
from tracking.selectors import application_warnings

# [0-9], not \d: Python's \d also takes other scripts' digits ("0٣:00"), which datetime.time cannot read.
TIME_OF_DAY = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


CALENDAR_FIRST = datetime.datetime.min.replace(tzinfo=datetime.UTC) + datetime.timedelta(days=1)
CALENDAR_LAST = datetime.datetime.max.replace(tzinfo=datetime.UTC) - datetime.timedelta(days=1)


def rfc3339(moment: datetime.datetime) -> str:
    """ISO 8601 with the offset in whole minutes, as RFC 3339 (and so OpenAPI's date-time) requires.

    Before standard time, zones ran on local mean time with offsets in seconds (Asia/Qatar was
    +03:26:08 until 1920); such a moment is given in UTC, which names the same instant.
    """
    offset = moment.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        moment = moment.astimezone(datetime.UTC)
    return moment.isoformat()


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with an offset in, stored as UTC; out in the patient's zone at that moment.

    A naive time is a 400: the server cannot know which wall clock it was read from.
    """

    def __init__(
        self,
        *,
        future_tolerance: datetime.timedelta | None = None,
        earliest: datetime.datetime = CALENDAR_FIRST,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("help_text", "ISO 8601 with its UTC offset, e.g. 2026-11-21T08:05:00+03:00.")
        super().__init__(**kwargs)
        self.future_tolerance = future_tolerance
        self.earliest = earliest

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        if timezone.is_naive(value):
            raise serializers.ValidationError(
                "Give the time with its UTC offset, e.g. 2026-11-21T08:05:00+03:00; a time without one is ambiguous."
            )
        try:
            moment = value.astimezone(datetime.UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable instant
            moment = None
        # Within the field's bounds, and a day inside the calendar's ends, so the time can be echoed
        # in any zone (not a 500).
        if moment is None or not self.earliest <= moment <= CALENDAR_LAST:
            raise serializers.ValidationError(
                f"This time is outside what can be recorded; give one from {self.earliest.date().isoformat()} "
                f"to {CALENDAR_LAST.date().isoformat()}."
            )
        return moment

    def to_internal_value(self, value: Any) -> datetime.datetime:
        moment = super().to_internal_value(value)
        if self.future_tolerance is not None:
            latest = timezone.now() + self.future_tolerance
            if moment > latest:
                minutes = int(self.future_tolerance.total_seconds() // 60)
                raise serializers.ValidationError(
                    f"This time is in the future. Log what has happened: at most {minutes} minutes ahead "
                    "of the server's clock is accepted."
                )
        return moment

    def to_representation(self, value: datetime.datetime) -> str:
        clock = self.context.get("clock")
        if value is None or clock is None:
            return super().to_representation(value)
        return rfc3339(clock.local(value))


EARLIEST_RECORD_TIME = datetime.datetime.combine(rules.EARLIEST_RECORD_DATE, datetime.time.min, tzinfo=datetime.UTC)


def log_time_field(**kwargs: Any) -> AwareDateTimeField:
    return AwareDateTimeField(future_tolerance=rules.LOG_FUTURE_TOLERANCE, earliest=EARLIEST_RECORD_TIME, **kwargs)


@extend_schema_field({"type": "string", "pattern": TIME_OF_DAY.pattern, "example": "08:00"})
class TimeOfDayField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", 'A local time of day, "HH:MM" (24-hour).')
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not TIME_OF_DAY.match(value):
            raise serializers.ValidationError(f'"{value}" is not a time of day; use "HH:MM" from 00:00 to 23:59.')
        return value


def body_areas_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=ExplainedChoiceField(choices=rules.BODY_AREAS), help_text="Area codes (see API.md).", **kwargs
    )


def times_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=TimeOfDayField(), help_text='Local times of day, "HH:MM", in the patient\'s time zone.', **kwargs
    )


def score_field(minimum: int, maximum: int, message: str, **kwargs: Any) -> serializers.IntegerField:
    errors: dict[str, Any] = {"min_value": message, "max_value": message, "invalid": message}
    return serializers.IntegerField(min_value=minimum, max_value=maximum, error_messages=errors, **kwargs)


NRS_HELP = f"Numeric rating scale {rules.NRS_MIN}-{rules.NRS_MAX}: 0 none, 10 worst imaginable."


def nrs_field(name: str) -> serializers.IntegerField:
    message = f"{name} is a whole number from {rules.NRS_MIN} to {rules.NRS_MAX}."
    return score_field(rules.NRS_MIN, rules.NRS_MAX, message, required=False, allow_null=True, help_text=NRS_HELP)


# --- Regimens ------------------------------------------------------------------------------------


def weekdays_field(**kwargs: Any) -> serializers.ListField:
    message = "ISO weekday numbers run from 1 (Monday) to 7 (Sunday)."
    return serializers.ListField(
        child=score_field(1, 7, message),
        max_length=7,
        help_text="ISO weekdays (1 = Monday) for maintenance; every day for treatment.",
        **kwargs,
    )


def regimen_start_field(**kwargs: Any) -> BoundedDateField:
    kwargs.setdefault("help_text", "First day, in the patient's calendar; from 2000 to a year ahead.")
    return BoundedDateField(earliest=rules.EARLIEST_RECORD_DATE, latest_ahead=rules.REGIMEN_START_MAX_AHEAD, **kwargs)


def regimen_end_field(**kwargs: Any) -> BoundedDateField:
    kwargs.setdefault("help_text", "Last day, included; null while ongoing. At most ten years ahead.")
    return BoundedDateField(earliest=rules.EARLIEST_RECORD_DATE, latest_ahead=rules.REGIMEN_END_MAX_AHEAD, **kwargs)


class RegimenCreateSerializer(RejectUnknownFields, serializers.Serializer):
    drug = ExplainedChoiceField(choices=[drug.value for drug in rules.Drug])
    strength = ExplainedChoiceField(
        choices=STRENGTH_CHOICES, help_text='Percent: tacrolimus "0.03" or "0.1"; pimecrolimus "1".'
    )
    phase = ExplainedChoiceField(choices=Phase.choices, required=False, default=Phase.TREATMENT)
    body_areas = body_areas_field(min_length=1)
    times = times_field(min_length=1, max_length=6)
    weekdays = weekdays_field(required=False)
    start_date = regimen_start_field()
    end_date = regimen_end_field(required=False, allow_null=True, default=None)
    tube_grams = ExplainedChoiceField(choices=TUBE_CHOICES, required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        attrs["times"] = sorted(attrs["times"])
        attrs["weekdays"] = Regimen.schedule_weekdays(attrs["phase"], attrs.get("weekdays"))
        return attrs


STEP_DOWN_HINT = (
    "A regimen's drug, strength, phase and start date are fixed once prescribed. To step down, "
    "POST to this regimen's step-down/ route: it ends this regimen and starts the next, keeping the history."
)


class RegimenUpdateSerializer(RejectUnknownFields, serializers.Serializer):
    body_areas = body_areas_field(min_length=1, required=False)
    times = times_field(min_length=1, max_length=6, required=False)
    weekdays = weekdays_field(required=False)
    end_date = regimen_end_field(required=False, allow_null=True)
    tube_grams = ExplainedChoiceField(choices=TUBE_CHOICES, required=False, allow_null=True)

    unknown_field_messages = dict.fromkeys(("drug", "strength", "phase", "start_date"), STEP_DOWN_HINT)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        regimen: Regimen = self.context["regimen"]
        if "times" in attrs:
            attrs["times"] = sorted(attrs["times"])
        if "weekdays" in attrs:
            attrs["weekdays"] = Regimen.schedule_weekdays(regimen.phase, attrs["weekdays"])
        return attrs


class RegimenStepDownSerializer(RejectUnknownFields, serializers.Serializer):
    strength = ExplainedChoiceField(choices=STRENGTH_CHOICES, required=False)
    phase = ExplainedChoiceField(choices=Phase.choices, required=False)
    body_areas = body_areas_field(min_length=1, required=False)
    times = times_field(min_length=1, max_length=6, required=False)
    weekdays = weekdays_field(required=False)
    start_date = regimen_start_field(
        required=False, help_text="First day of the new regimen; today in the patient's zone when left out."
    )
    tube_grams = ExplainedChoiceField(choices=TUBE_CHOICES, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        regimen: Regimen = self.context["regimen"]
        if "times" in attrs:
            attrs["times"] = sorted(attrs["times"])
        phase = attrs.get("phase", regimen.phase)
        weekdays = attrs.get("weekdays", regimen.weekdays if phase == regimen.phase else None)
        attrs["weekdays"] = Regimen.schedule_weekdays(phase, weekdays)
        return attrs


class RegimenSerializer(ModelSerializer):
    patient = serializers.UUIDField(source="patient_id", read_only=True)
    body_areas = body_areas_field(read_only=True)
    times = times_field(read_only=True)
    weekdays = weekdays_field(read_only=True)
    previous = serializers.UUIDField(source="previous_id", read_only=True, allow_null=True)
    next = serializers.SerializerMethodField(help_text="The regimen that followed a step-down, if any.")
    is_active = serializers.SerializerMethodField(help_text="Active today in the patient's zone.")
    suggested_ftu = serializers.SerializerMethodField(
        help_text="Fingertip units per application for these areas at the patient's age (published FTU tables); "
        "null under 3 months of age, where the tables give no figure."
    )
    estimated_grams_used = serializers.SerializerMethodField(
        help_text="Grams used from the tube so far: logged amounts, or suggested_ftu where a log has none. "
        "Null without tube_grams."
    )
    estimated_empty_date = serializers.SerializerMethodField(
        help_text="When the tube should run out at the rate logged so far. Null without tube_grams, "
        "or once the regimen has ended."
    )

    class Meta:
        model = Regimen
        fields = (
            "id",
            "patient",
            "drug",
            "strength",
            "phase",
            "body_areas",
            "times",
            "weekdays",
            "start_date",
            "end_date",
            "is_active",
            "suggested_ftu",
            "tube_grams",
            "estimated_grams_used",
            "estimated_empty_date",
            "previous",
            "next",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.UUIDField(allow_null=True))
    def get_next(self, regimen: Regimen) -> str | None:
        following = getattr(regimen, "following_id", None)  # annotated by selectors.regimens_for
        return str(following) if following else None

    @extend_schema_field(serializers.BooleanField())
    def get_is_active(self, regimen: Regimen) -> bool:
        return regimen.is_active_on(regimen.usage.today)  # type: ignore[attr-defined]

    @extend_schema_field({"type": "number", "minimum": 0, "nullable": True})
    def get_suggested_ftu(self, regimen: Regimen) -> Decimal | None:
        return regimen.usage.suggested_ftu  # type: ignore[attr-defined]

    @extend_schema_field({"type": "number", "minimum": 0, "nullable": True})
    def get_estimated_grams_used(self, regimen: Regimen) -> Decimal | None:
        return regimen.usage.grams_used  # type: ignore[attr-defined]

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_estimated_empty_date(self, regimen: Regimen) -> datetime.date | None:
        return regimen.usage.empty_date  # type: ignore[attr-defined]


# --- Logs ---------------------------------------------------------------------------------------

FTU_RANGE = f"An amount is more than 0 and at most {rules.MAX_FTU_PER_APPLICATION} FTU"


@extend_schema_field(
    {
        # minimum and maximum come from the field's own bounds: 0.01 (more than 0, 2 decimals) to 40.
        "type": "number",
        "description": f"Fingertip units: more than 0, at most {rules.MAX_FTU_PER_APPLICATION}, 2 decimal places.",
        "example": 1.5,
    }
)
class FtuAmountField(serializers.DecimalField):
    """Fingertip units as a JSON number, in and out (a numeric string is read too)."""

    def __init__(self, **kwargs: Any) -> None:
        message = f"{FTU_RANGE}."
        digits = f"{FTU_RANGE}, with at most 2 decimal places."
        kwargs.setdefault(
            # 100 or 12.345 fail on digits before the range is checked: say the range all the same.
            "error_messages",
            {
                "min_value": message,
                "max_value": message,
                "max_digits": digits,
                "max_whole_digits": digits,
                "max_decimal_places": digits,
            },
        )
        super().__init__(
            max_digits=4,
            decimal_places=2,
            min_value=Decimal("0.01"),
            max_value=rules.MAX_FTU_PER_APPLICATION,
            coerce_to_string=False,
            **kwargs,
        )


LOG_ID_HELP = "A UUID the client chooses, so that a log synced twice is stored once."
NOTE_HELP = "Free text, up to 2000 characters; line breaks and tabs allowed, no other control characters."


class ApplicationInputSerializer(RejectUnknownFields, serializers.Serializer):
    id = StrictUUIDField(help_text=LOG_ID_HELP)
    applied_at = log_time_field()
    regimen = StrictUUIDField(
        required=False, allow_null=True, help_text="Left out: the patient's one regimen active on that date."
    )
    body_areas = body_areas_field(min_length=1)
    amount_ftu = FtuAmountField(required=False, allow_null=True)
    note = MultiLineTextField(max_length=2000, required=False, allow_blank=True, help_text=NOTE_HELP)


class SymptomInputSerializer(RejectUnknownFields, serializers.Serializer):
    id = StrictUUIDField(help_text=LOG_ID_HELP)
    recorded_at = log_time_field()
    burning = nrs_field("Burning")
    itch = nrs_field("Itch")
    flare_severity = score_field(
        rules.FLARE_SEVERITY_MIN,
        rules.FLARE_SEVERITY_MAX,
        rules.FLARE_SEVERITY_RANGE_MESSAGE,
        required=False,
        allow_null=True,
        help_text="0 clear, 1 almost clear, 2 mild, 3 moderate, 4 severe.",
    )
    body_areas = body_areas_field(required=False)
    application = StrictUUIDField(
        required=False, allow_null=True, help_text="The application that caused this burning, if known."
    )
    note = MultiLineTextField(max_length=2000, required=False, allow_blank=True, help_text=NOTE_HELP)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not self.partial and all(attrs.get(name) is None for name in ("burning", "itch", "flare_severity")):
            raise serializers.ValidationError(
                "Send at least one score: burning (0-10), itch (0-10) or flare_severity (0-4)."
            )
        return attrs


POEM_ITEM_MESSAGE = (
    f"Each POEM answer is {rules.POEM_ITEM_MIN}-{rules.POEM_ITEM_MAX}: 0 no days, 1 1-2 days, 2 3-4 days, "
    "3 5-6 days, 4 every day (null for an unanswered question)."
)


def poem_answers_field(**kwargs: Any) -> serializers.ListField:
    count = f"POEM has exactly {rules.POEM_ITEM_COUNT} answers, in question order."
    return serializers.ListField(
        child=score_field(rules.POEM_ITEM_MIN, rules.POEM_ITEM_MAX, POEM_ITEM_MESSAGE, allow_null=True),
        min_length=rules.POEM_ITEM_COUNT,
        max_length=rules.POEM_ITEM_COUNT,
        error_messages={"min_length": count, "max_length": count},
        help_text="The seven answers in question order, each 0-4 (null for an unanswered question).",
        **kwargs,
    )


class PoemInputSerializer(RejectUnknownFields, serializers.Serializer):
    id = StrictUUIDField(help_text=LOG_ID_HELP)
    recorded_at = log_time_field()
    answers = poem_answers_field()
    note = MultiLineTextField(max_length=2000, required=False, allow_blank=True, help_text=NOTE_HELP)


class SkinCheckInputSerializer(RejectUnknownFields, serializers.Serializer):
    id = StrictUUIDField(help_text=LOG_ID_HELP)
    performed_at = log_time_field()
    performed_by = ExplainedChoiceField(choices=PerformedBy.choices)
    concerning = serializers.BooleanField(help_text="True raises an alert for the care team.")
    note = MultiLineTextField(max_length=2000, required=False, allow_blank=True, help_text=NOTE_HELP)


class ApplicationCorrectionSerializer(ApplicationInputSerializer):
    id = None  # type: ignore[assignment]


class SymptomCorrectionSerializer(SymptomInputSerializer):
    id = None  # type: ignore[assignment]


class PoemCorrectionSerializer(PoemInputSerializer):
    id = None  # type: ignore[assignment]


class SkinCheckCorrectionSerializer(SkinCheckInputSerializer):
    id = None  # type: ignore[assignment]


class LogSerializer(ModelSerializer):
    patient = serializers.UUIDField(source="patient_id", read_only=True)
    local_date = serializers.SerializerMethodField(help_text="The date in the patient's calendar when it happened.")
    correctable_until = serializers.SerializerMethodField(
        help_text="Until when its creator may correct or delete it; after that, only the note changes."
    )
    created_at = AwareDateTimeField(read_only=True, help_text="When it was logged, in the patient's zone.")
    updated_at = AwareDateTimeField(read_only=True, help_text="When it was last changed, in the patient's zone.")

    LOG_FIELDS = ("id", "patient", "local_date", "note", "created_at", "updated_at", "correctable_until")

    @extend_schema_field(serializers.DateField())
    def get_local_date(self, entry: PatientLog) -> datetime.date:
        return self.context["clock"].local_date(entry.event_time)

    @extend_schema_field(serializers.DateTimeField())
    def get_correctable_until(self, entry: PatientLog) -> str:
        return rfc3339(self.context["clock"].local(entry.created_at + rules.LOG_CORRECTION_WINDOW))


class ApplicationSerializer(LogSerializer):
    applied_at = AwareDateTimeField(read_only=True)
    regimen = serializers.UUIDField(source="regimen_id", read_only=True)
    body_areas = body_areas_field(read_only=True)
    amount_ftu = FtuAmountField(read_only=True, allow_null=True)
    warnings = serializers.SerializerMethodField(
        help_text="Why this application may need a second look (accepted all the same)."
    )

    class Meta:
        model = Application
        fields = (*LogSerializer.LOG_FIELDS, "applied_at", "regimen", "body_areas", "amount_ftu", "warnings")
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, application: Application) -> list[str]:
        return application_warnings(application, self.context["clock"])


class SymptomSerializer(LogSerializer):
    recorded_at = AwareDateTimeField(read_only=True)
    application = serializers.UUIDField(source="application_id", read_only=True, allow_null=True)
    body_areas = body_areas_field(read_only=True)

    class Meta:
        model = Symptom
        fields = (
            *LogSerializer.LOG_FIELDS,
            "recorded_at",
            "burning",
            "itch",
            "flare_severity",
            "body_areas",
            "application",
        )
        read_only_fields = fields


class PoemSerializer(LogSerializer):
    recorded_at = AwareDateTimeField(read_only=True)
    score = serializers.IntegerField(read_only=True, allow_null=True, help_text="0-28; null when not scorable.")
    answers = poem_answers_field(read_only=True)
    band = serializers.ChoiceField(
        choices=rules.POEM_BAND_NAMES,
        read_only=True,
        allow_null=True,
        help_text="clear_or_almost_clear 0-2, mild 3-7, moderate 8-16, severe 17-24, very_severe 25-28; "
        "null when not scorable.",
    )

    class Meta:
        model = PoemEntry
        fields = (*LogSerializer.LOG_FIELDS, "recorded_at", "answers", "score", "band")
        read_only_fields = fields

    def to_representation(self, instance: PoemEntry) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["band"] = data["band"] or None
        return data


class SkinCheckSerializer(LogSerializer):
    performed_at = AwareDateTimeField(read_only=True)

    class Meta:
        model = SkinCheck
        fields = (*LogSerializer.LOG_FIELDS, "performed_at", "performed_by", "concerning")
        read_only_fields = fields
