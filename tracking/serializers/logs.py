"""Log shapes, for the four types (applications, symptoms, POEM, skin checks): what a client sends,
what a correction may change, what is answered, and the filters of a list."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tacro_topical.serializers import (
    ExplainedChoiceField,
    ModelSerializer,
    MultiLineTextField,
    RejectUnknownFields,
    StrictUUIDField,
)
from tracking import rules
from tracking.models import Application, PoemEntry, SkinCheck, Symptom
from tracking.models.logs import PatientLog, PerformedBy
from tracking.selectors import application_warnings
from tracking.serializers.fields import (
    AwareDateTimeField,
    body_areas_field,
    log_time_field,
    nrs_field,
    rfc3339,
    score_field,
)

FTU_RANGE = f"An amount is more than 0 and at most {rules.MAX_FTU_PER_APPLICATION} FTU"
FTU_PLACES = f"{rules.FTU_DECIMAL_PLACES} decimal places"
NRS_RANGE = f"{rules.NRS_MIN}-{rules.NRS_MAX}"


@extend_schema_field(
    {
        # minimum and maximum come from the field's own bounds (rules.MIN_ and MAX_FTU_PER_APPLICATION).
        "type": "number",
        "description": f"Fingertip units: more than 0, at most {rules.MAX_FTU_PER_APPLICATION}, {FTU_PLACES}.",
        "example": 1.5,
    }
)
class FtuAmountField(serializers.DecimalField):
    """Fingertip units as a JSON number, in and out (a numeric string is read too)."""

    def __init__(self, **kwargs: Any) -> None:
        maximum = rules.MAX_FTU_PER_APPLICATION
        message = format_lazy(gettext_lazy("An amount is more than 0 and at most {max} FTU."), max=maximum)
        digits = format_lazy(
            gettext_lazy("An amount is more than 0 and at most {max} FTU, with at most {places} decimal places."),
            max=maximum,
            places=rules.FTU_DECIMAL_PLACES,
        )
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
            max_digits=rules.FTU_MAX_DIGITS,
            decimal_places=rules.FTU_DECIMAL_PLACES,
            min_value=rules.MIN_FTU_PER_APPLICATION,
            max_value=rules.MAX_FTU_PER_APPLICATION,
            coerce_to_string=False,
            **kwargs,
        )


LOG_ID_HELP = "A UUID the client chooses, so that a log synced twice is stored once."
NOTE_MAX_LENGTH = Application._meta.get_field("note").max_length  # the column's, as every log type has it
NOTE_HELP = f"Free text, up to {NOTE_MAX_LENGTH} characters; line breaks and tabs allowed, no other control characters."


def note_field() -> MultiLineTextField:
    return MultiLineTextField(max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, help_text=NOTE_HELP)


class ApplicationInputSerializer(RejectUnknownFields, serializers.Serializer):
    id = StrictUUIDField(help_text=LOG_ID_HELP)
    applied_at = log_time_field()
    regimen = StrictUUIDField(
        required=False, allow_null=True, help_text="Left out: the patient's one regimen active on that date."
    )
    body_areas = body_areas_field(min_length=1)
    amount_ftu = FtuAmountField(required=False, allow_null=True)
    note = note_field()


class SymptomInputSerializer(RejectUnknownFields, serializers.Serializer):
    id = StrictUUIDField(help_text=LOG_ID_HELP)
    recorded_at = log_time_field()
    burning = nrs_field(gettext_lazy("Burning"))
    itch = nrs_field(gettext_lazy("Itch"))
    flare_severity = score_field(
        rules.FLARE_SEVERITY_MIN,
        rules.FLARE_SEVERITY_MAX,
        rules.FLARE_SEVERITY_RANGE_MESSAGE,
        required=False,
        allow_null=True,
        help_text=f"{rules.FLARE_SEVERITY_SCALE}.",
    )
    body_areas = body_areas_field(required=False)
    application = StrictUUIDField(
        required=False, allow_null=True, help_text="The application that caused this burning, if known."
    )
    note = note_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if not self.partial and all(attrs.get(name) is None for name in ("burning", "itch", "flare_severity")):
            raise serializers.ValidationError(
                gettext(
                    "Send at least one score: burning ({nrs}), itch ({nrs}) "
                    "or flare_severity ({flare_min}-{flare_max})."
                ).format(nrs=NRS_RANGE, flare_min=rules.FLARE_SEVERITY_MIN, flare_max=rules.FLARE_SEVERITY_MAX)
            )
        return attrs


POEM_ITEM_RANGE = f"{rules.POEM_ITEM_MIN}-{rules.POEM_ITEM_MAX}"
POEM_ANSWERS = ", ".join(
    f"{answer} {label}" for answer, label in enumerate(rules.POEM_ANSWER_LABELS, start=rules.POEM_ITEM_MIN)
)
POEM_ITEM_MESSAGE = format_lazy(
    gettext_lazy("Each POEM answer is {range}: {answers} (null for an unanswered question)."),
    range=POEM_ITEM_RANGE,
    answers=POEM_ANSWERS,
)


def poem_answers_field(**kwargs: Any) -> serializers.ListField:
    count = format_lazy(
        gettext_lazy("POEM has exactly {count} answers, in question order."), count=rules.POEM_ITEM_COUNT
    )
    return serializers.ListField(
        child=score_field(rules.POEM_ITEM_MIN, rules.POEM_ITEM_MAX, POEM_ITEM_MESSAGE, allow_null=True),
        min_length=rules.POEM_ITEM_COUNT,
        max_length=rules.POEM_ITEM_COUNT,
        error_messages={"min_length": count, "max_length": count},
        help_text=f"The seven answers in question order, each {POEM_ITEM_RANGE} (null for an unanswered question).",
        **kwargs,
    )


class PoemInputSerializer(RejectUnknownFields, serializers.Serializer):
    id = StrictUUIDField(help_text=LOG_ID_HELP)
    recorded_at = log_time_field()
    answers = poem_answers_field()
    note = note_field()


SKIN_CHECK_ANSWER_HELP = (
    "true (yes), false (no) or null/left out (not answered). A yes makes the check concerning; "
    "an urgent sign (see urgent_signs) tells the patient to seek care today and the care team at once."
)
ANSWER_OR_CONCERNING = format_lazy(
    gettext_lazy("Send concerning (true or false), or answer at least one self-check question: {questions}."),
    questions=", ".join(rules.SKIN_CHECK_ANSWERS),
)


def skin_check_answer_field(name: str) -> serializers.BooleanField:
    """One self-check question's answer (rules.SKIN_CHECK_QUESTIONS): optional and nullable."""
    question = rules.SKIN_CHECK_QUESTIONS[name]
    return serializers.BooleanField(required=False, allow_null=True, help_text=f"{question} {SKIN_CHECK_ANSWER_HELP}")


class SkinCheckInputSerializer(RejectUnknownFields, serializers.Serializer):
    id = StrictUUIDField(help_text=LOG_ID_HELP)
    performed_at = log_time_field()
    performed_by = ExplainedChoiceField(choices=PerformedBy.choices)
    concerning = serializers.BooleanField(
        required=False,
        help_text="True raises an alert for the care team. May be left out when the self-check questions are "
        "answered: a yes to any of them makes the check concerning.",
    )
    new_or_changing_spot = skin_check_answer_field("new_or_changing_spot")
    sore_not_healing = skin_check_answer_field("sore_not_healing")
    swollen_lymph_nodes = skin_check_answer_field("swollen_lymph_nodes")
    blisters_or_erosions = skin_check_answer_field("blisters_or_erosions")
    fever = skin_check_answer_field("fever")
    spreading_rash = skin_check_answer_field("spreading_rash")
    note = note_field()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        answered = any(attrs.get(name) is not None for name in rules.SKIN_CHECK_ANSWERS)
        if not self.partial and attrs.get("concerning") is None and not answered:
            raise serializers.ValidationError({"concerning": [ANSWER_OR_CONCERNING]})
        return attrs


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
    score = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text=f"{rules.POEM_SCORE_MIN}-{rules.POEM_SCORE_MAX}; null when not scorable.",
    )
    answers = poem_answers_field(read_only=True)
    band = serializers.ChoiceField(
        choices=rules.POEM_BAND_NAMES,
        read_only=True,
        allow_null=True,
        help_text=", ".join(f"{band} {lowest}-{highest}" for band, lowest, highest in rules.POEM_BANDS)
        + "; null when not scorable.",
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
    # The answers are the model's nullable booleans: yes, no, or null (not answered).
    urgent_signs = serializers.ListField(
        child=serializers.ChoiceField(choices=list(rules.URGENT_SKIN_SIGN_WORDS)),
        read_only=True,
        help_text=f"The urgent signs the answers report: {rules.URGENT_SUSPECTED_ECZEMA_HERPETICUM} (painful "
        f"clustered blisters or punched-out erosions), {rules.URGENT_FEVER_WITH_SPREADING_RASH} (a fever and a "
        "spreading rash). Empty when nothing is urgent.",
    )
    advice = serializers.SerializerMethodField(
        help_text="What the patient should do now, in the caller's language (User.language, else Accept-Language): "
        '"Seek medical care today..." when an urgent sign is reported, with the dermatologist to call; null otherwise. '
        "Show it at once, prominently."
    )

    class Meta:
        model = SkinCheck
        fields = (
            *LogSerializer.LOG_FIELDS,
            "performed_at",
            "performed_by",
            "concerning",
            *rules.SKIN_CHECK_ANSWERS,
            "urgent_signs",
            "advice",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_advice(self, check: SkinCheck) -> str | None:
        return skin_check_advice(check, self.context.get("language"))


def skin_check_advice(check: SkinCheck, language: str | None) -> str | None:
    """The patient's advice for a check, in `language` (the active one when None); None when nothing is urgent."""
    if not check.is_urgent:
        return None
    with translation.override(language or translation.get_language()):
        return translation.gettext(rules.SKIN_CHECK_URGENT_ADVICE)


class LogFilterSerializer(serializers.Serializer):
    since = AwareDateTimeField(required=False, help_text="Only logs at or after this time (with offset).")
    until = AwareDateTimeField(required=False, help_text="Only logs at or before this time (with offset).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": gettext("until must not be before since.")})
        return attrs
