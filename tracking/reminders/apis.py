"""Reminder settings under /patients/{patient}/reminders/.

Thin: validate, call one service or selector, answer. Settings belong to the patient (their login
and caregivers change them; their care team reads them).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import Http404
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import patient_for_request
from accounts.clock import PatientClock
from accounts.models import Patient
from tacro_topical.serializers import RejectUnknownFields, validated_together
from tracking.apis.shared import read_responses, write_responses
from tracking.models import ReminderKind
from tracking.models.reminders import ALL_CHANNELS
from tracking.reminders.selectors import reminder_overview
from tracking.reminders.services import reminder_setting_update
from tracking.serializers import TIME_OF_DAY, AwareDateTimeField

# --- Shapes --------------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "pattern": TIME_OF_DAY.pattern, "example": "22:00"})
class HourMinuteField(serializers.TimeField):
    """A local time of day as "HH:MM", read and written as a time (not OpenAPI's `format: time`,
    which means RFC 3339's HH:MM:SS with an offset)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", 'Local time, "HH:MM" (24-hour).')
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)


class QuietHoursSerializer(serializers.Serializer):
    start = HourMinuteField()
    end = HourMinuteField()

    def to_internal_value(self, data: Any) -> Any:
        # Both ends, even in a PATCH (DRF makes nested fields optional there): half a range means nothing.
        # A missing end is named beside a malformed one.
        missing: dict[str, list[str]] = {}
        if isinstance(data, dict):
            missing = {
                name: ['Quiet hours need both "start" and "end".'] for name in ("start", "end") if name not in data
            }
        return validated_together(missing, super().to_internal_value, data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["start"] == attrs["end"]:
            raise serializers.ValidationError(gettext("Quiet hours start and end at different times."))
        return attrs


class ReminderSettingSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReminderKind.choices)
    enabled = serializers.BooleanField()
    channels = serializers.ListField(child=serializers.ChoiceField(choices=ALL_CHANNELS))
    quiet_hours = QuietHoursSerializer(allow_null=True)
    next_reminder_at = AwareDateTimeField(
        allow_null=True, help_text="When the next reminder of this kind goes out, in the patient's zone."
    )


class ReminderSettingListSerializer(serializers.Serializer):
    """Every kind on one page, in the shape of the API's other lists."""

    next = serializers.CharField(allow_null=True, help_text="Always null: one page holds every kind.")
    previous = serializers.CharField(allow_null=True, help_text="Always null.")
    results = ReminderSettingSerializer(many=True)


class ReminderSettingInputSerializer(RejectUnknownFields, serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=ALL_CHANNELS),
        required=False,
        allow_empty=True,
        help_text='Any of "push", "email", "inbox"; an empty list keeps the reminder but sends it nowhere.',
    )
    quiet_hours = QuietHoursSerializer(
        required=False, allow_null=True, help_text="Reminders due in these local hours wait until they end."
    )


class ReminderSettingCreateSerializer(ReminderSettingInputSerializer):
    kind = serializers.ChoiceField(choices=ReminderKind.choices)


# --- Reminder settings ---------------------------------------------------------------------------


def settings_answer(patient: Patient, kinds: list[str] | None = None) -> list[dict[str, Any]]:
    """The shape of `reminder_overview`: quiet hours as one object, or null."""
    return [
        {
            "kind": row.setting.kind,
            "enabled": row.setting.enabled,
            "channels": list(row.setting.channels),
            "quiet_hours": (
                {"start": row.setting.quiet_hours_start, "end": row.setting.quiet_hours_end}
                if row.setting.quiet_hours_start is not None
                else None
            ),
            "next_reminder_at": row.next_reminder_at,
        }
        for row in reminder_overview(patient, kinds)
    ]


def zone_context(patient: Patient) -> dict[str, Any]:
    return {"clock": PatientClock(current=patient.timezone)}


def apply_setting(patient: Patient, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    quiet: tuple[datetime.time, datetime.time] | bool | None = False
    if "quiet_hours" in data:
        quiet = None if data["quiet_hours"] is None else (data["quiet_hours"]["start"], data["quiet_hours"]["end"])
    reminder_setting_update(
        patient=patient, kind=kind, enabled=data.get("enabled"), channels=data.get("channels"), quiet_hours=quiet
    )
    return ReminderSettingSerializer(settings_answer(patient, [kind])[0], context=zone_context(patient)).data


KIND = OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=ReminderKind.values, description="Which reminder.")


def reminder_kind(kind: str) -> str:
    if kind not in ReminderKind.values:
        raise Http404
    return kind


class ReminderListApi(APIView):
    @extend_schema(
        operation_id="reminders_list",
        responses=read_responses({200: ReminderSettingListSerializer}),
        summary="The patient's reminder settings, one per kind (defaults included), and when each next fires",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_for_request(request, patient_id)
        results = ReminderSettingSerializer(settings_answer(patient), many=True, context=zone_context(patient)).data
        return Response({"next": None, "previous": None, "results": results})

    @extend_schema(
        operation_id="reminders_set",
        request=ReminderSettingCreateSerializer,
        responses=write_responses({200: ReminderSettingSerializer}),
        summary="Set one kind's reminder: on/off, channels, quiet hours (fields left out keep their value)",
    )
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_for_request(request, patient_id, to_act=True)
        serializer = ReminderSettingCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        return Response(apply_setting(patient, data.pop("kind"), data))


class ReminderDetailApi(APIView):
    @extend_schema(
        operation_id="reminders_retrieve",
        parameters=[KIND],
        responses=read_responses({200: ReminderSettingSerializer}),
        summary="One kind's reminder setting",
    )
    def get(self, request: Request, patient_id: uuid.UUID, kind: str) -> Response:
        patient = patient_for_request(request, patient_id)
        answer = settings_answer(patient, [reminder_kind(kind)])[0]
        return Response(ReminderSettingSerializer(answer, context=zone_context(patient)).data)

    @extend_schema(
        operation_id="reminders_partial_update",
        parameters=[KIND],
        request=ReminderSettingInputSerializer,
        responses=write_responses({200: ReminderSettingSerializer}),
        summary="Change one kind's reminder setting",
    )
    def patch(self, request: Request, patient_id: uuid.UUID, kind: str) -> Response:
        patient = patient_for_request(request, patient_id, to_act=True)
        kind = reminder_kind(kind)
        serializer = ReminderSettingInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(apply_setting(patient, kind, dict(serializer.validated_data)))
