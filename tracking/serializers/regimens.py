"""Regimen shapes: a prescription in, a change, a step-down, and the regimen out with its usage."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tacro_topical.serializers import BoundedDateField, ExplainedChoiceField, ModelSerializer, RejectUnknownFields
from tracking import rules
from tracking.models import Phase, Regimen
from tracking.models.regimens import STRENGTH_CHOICES, TUBE_CHOICES
from tracking.serializers.fields import body_areas_field, score_field, times_field


def weekdays_field(**kwargs: Any) -> serializers.ListField:
    message = gettext_lazy("ISO weekday numbers run from 1 (Monday) to 7 (Sunday).")
    return serializers.ListField(
        child=score_field(min(rules.ALL_WEEKDAYS), max(rules.ALL_WEEKDAYS), message),
        max_length=len(rules.ALL_WEEKDAYS),
        help_text="ISO weekdays (1 = Monday) for maintenance; every day for treatment.",
        **kwargs,
    )


def regimen_times_field(**kwargs: Any) -> serializers.ListField:
    return times_field(min_length=1, max_length=rules.MAX_TIMES_PER_DAY, **kwargs)


def regimen_start_field(**kwargs: Any) -> BoundedDateField:
    earliest = rules.EARLIEST_RECORD_DATE.year
    kwargs.setdefault("help_text", f"First day, in the patient's calendar; from {earliest} to a year ahead.")
    return BoundedDateField(earliest=rules.EARLIEST_RECORD_DATE, latest_ahead=rules.REGIMEN_START_MAX_AHEAD, **kwargs)


def regimen_end_field(**kwargs: Any) -> BoundedDateField:
    kwargs.setdefault("help_text", "Last day, included; null while ongoing. At most ten years ahead.")
    return BoundedDateField(earliest=rules.EARLIEST_RECORD_DATE, latest_ahead=rules.REGIMEN_END_MAX_AHEAD, **kwargs)


# 'tacrolimus "0.03" or "0.1"; pimecrolimus "1"'
STRENGTHS_HELP = "; ".join(
    f"{drug.value} " + " or ".join(f'"{strength}"' for strength in strengths)
    for drug, strengths in rules.STRENGTHS_BY_DRUG.items()
)


class RegimenCreateSerializer(RejectUnknownFields, serializers.Serializer):
    drug = ExplainedChoiceField(choices=[drug.value for drug in rules.Drug])
    strength = ExplainedChoiceField(choices=STRENGTH_CHOICES, help_text=f"Percent: {STRENGTHS_HELP}.")
    phase = ExplainedChoiceField(choices=Phase.choices, required=False, default=Phase.TREATMENT)
    body_areas = body_areas_field(min_length=1)
    times = regimen_times_field()
    weekdays = weekdays_field(required=False)
    start_date = regimen_start_field()
    end_date = regimen_end_field(required=False, allow_null=True, default=None)
    tube_grams = ExplainedChoiceField(choices=TUBE_CHOICES, required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        attrs["times"] = sorted(attrs["times"])
        attrs["weekdays"] = rules.regimen_weekdays(daily=attrs["phase"] == Phase.TREATMENT, sent=attrs.get("weekdays"))
        return attrs


STEP_DOWN_HINT = (
    "A regimen's drug, strength, phase and start date are fixed once prescribed. To step down, "
    "POST to this regimen's step-down/ route: it ends this regimen and starts the next, keeping the history."
)


class RegimenUpdateSerializer(RejectUnknownFields, serializers.Serializer):
    body_areas = body_areas_field(min_length=1, required=False)
    times = regimen_times_field(required=False)
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
            attrs["weekdays"] = rules.regimen_weekdays(daily=regimen.phase == Phase.TREATMENT, sent=attrs["weekdays"])
        return attrs


class RegimenStepDownSerializer(RejectUnknownFields, serializers.Serializer):
    strength = ExplainedChoiceField(choices=STRENGTH_CHOICES, required=False)
    phase = ExplainedChoiceField(choices=Phase.choices, required=False)
    body_areas = body_areas_field(min_length=1, required=False)
    times = regimen_times_field(required=False)
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
        attrs["weekdays"] = rules.regimen_weekdays(
            daily=phase == Phase.TREATMENT,
            sent=attrs.get("weekdays"),
            kept=regimen.weekdays if phase == regimen.phase else None,
        )
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
    ftu_guide = serializers.SerializerMethodField(
        help_text="suggested_ftu area by area: for each region of the FTU tables these areas touch, the areas "
        "it covers and its fingertip units per application (a child's arm and hand are one row, an adult's "
        "face and neck another); null where suggested_ftu is."
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
            "ftu_guide",
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

    @extend_schema_field(
        {
            "type": "array",
            "nullable": True,
            "items": {
                "type": "object",
                "required": ["areas", "ftu"],
                "properties": {
                    "areas": {"type": "array", "items": {"type": "string"}},
                    "ftu": {"type": "number", "minimum": 0},
                },
            },
        }
    )
    def get_ftu_guide(self, regimen: Regimen) -> list[dict[str, object]] | None:
        guide = regimen.usage.ftu_guide  # type: ignore[attr-defined]
        return None if guide is None else [{"areas": list(areas), "ftu": ftu} for areas, ftu in guide]

    @extend_schema_field({"type": "number", "minimum": 0, "nullable": True})
    def get_estimated_grams_used(self, regimen: Regimen) -> Decimal | None:
        return regimen.usage.grams_used  # type: ignore[attr-defined]

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_estimated_empty_date(self, regimen: Regimen) -> datetime.date | None:
        return regimen.usage.empty_date  # type: ignore[attr-defined]
