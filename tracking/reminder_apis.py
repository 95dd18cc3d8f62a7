"""Reminder settings under /patients/{patient}/reminders/, and the caller-wide inbox and devices.

Thin: validate, call one service or selector, answer. Settings belong to the patient (their login
and caregivers change them; their care team reads them); notifications and devices belong to
the caller alone, and anyone else's are a 404.
"""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any, cast

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import patient_for_request
from accounts.clock import PatientClock
from accounts.models import Patient, User
from tacro_topical.pagination import NewestFirstCursorPagination
from tacro_topical.schema import FORBIDDEN, NOT_FOUND, UNAUTHENTICATED, VALIDATION_ERROR
from tacro_topical.serializers import RejectUnknownFields, validated_together
from tracking import notifications, reminders, rules
from tracking.models import Device, Notification, Platform, ReminderKind
from tracking.models.reminders import ALL_CHANNELS
from tracking.schedules import zone_named
from tracking.serializers import TIME_OF_DAY, AwareDateTimeField, rfc3339

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
            raise serializers.ValidationError("Quiet hours start and end at different times.")
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


class NotificationSerializer(serializers.ModelSerializer):
    """Times are echoed in the zone of the patient the notification is about."""

    occurrence = serializers.UUIDField(source="occurrence_id", help_text="Also the push collapse key.")
    patient = serializers.UUIDField(source="patient_id")

    class Meta:
        model = Notification
        fields = ("id", "occurrence", "patient", "kind", "title", "body", "created_at", "acked_at", "snoozed_until")

    def to_representation(self, instance: Notification) -> dict[str, Any]:
        data = super().to_representation(instance)
        zone = zone_named(instance.patient.timezone)
        for name in ("created_at", "acked_at", "snoozed_until"):
            value = getattr(instance, name)
            data[name] = rfc3339(value.astimezone(zone)) if value else None
        return data


class SnoozeSerializer(RejectUnknownFields, serializers.Serializer):
    minutes = serializers.IntegerField(
        min_value=rules.SNOOZE_MIN_MINUTES,
        max_value=rules.SNOOZE_MAX_MINUTES,
        help_text=f"{rules.SNOOZE_MIN_MINUTES} to {rules.SNOOZE_MAX_MINUTES}.",
    )


class DeviceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ("id", "platform", "active", "deactivated_reason", "created_at")


class DeviceInputSerializer(RejectUnknownFields, serializers.Serializer):
    platform = serializers.ChoiceField(choices=Platform.choices)
    token = serializers.CharField(
        max_length=4096,
        help_text=(
            "The FCM or APNs token; for webpush, the PushSubscription as JSON, its endpoint an https URL of a"
            " browser push service (FCM, Mozilla, Apple or Windows)."
        ),
    )

    def to_internal_value(self, data: Any) -> Any:
        # A browser hands the subscription over as an object; store it as the JSON it is.
        if isinstance(data, dict) and isinstance(data.get("token"), dict):
            data = {**data, "token": json.dumps(data["token"], separators=(",", ":"), sort_keys=True)}
        return super().to_internal_value(data)


# --- Reminder settings ---------------------------------------------------------------------------


def settings_answer(patient: Patient, kinds: list[str] | None = None) -> list[dict[str, Any]]:
    """The shape of `reminders.reminder_overview`: quiet hours as one object, or null."""
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
        for row in reminders.reminder_overview(patient, kinds)
    ]


def zone_context(patient: Patient) -> dict[str, Any]:
    return {"clock": PatientClock(current=patient.timezone)}


def apply_setting(patient: Patient, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    quiet: tuple[datetime.time, datetime.time] | bool | None = False
    if "quiet_hours" in data:
        quiet = None if data["quiet_hours"] is None else (data["quiet_hours"]["start"], data["quiet_hours"]["end"])
    reminders.reminder_setting_update(
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
        responses={200: ReminderSettingListSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary="The patient's reminder settings, one per kind (defaults included), and when each next fires",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_for_request(request, patient_id)
        results = ReminderSettingSerializer(settings_answer(patient), many=True, context=zone_context(patient)).data
        return Response({"next": None, "previous": None, "results": results})

    @extend_schema(
        operation_id="reminders_set",
        request=ReminderSettingCreateSerializer,
        responses={
            200: ReminderSettingSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
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
        responses={200: ReminderSettingSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
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
        responses={
            200: ReminderSettingSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        summary="Change one kind's reminder setting",
    )
    def patch(self, request: Request, patient_id: uuid.UUID, kind: str) -> Response:
        patient = patient_for_request(request, patient_id, to_act=True)
        kind = reminder_kind(kind)
        serializer = ReminderSettingInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        return Response(apply_setting(patient, kind, dict(serializer.validated_data)))


# --- Notifications -------------------------------------------------------------------------------


def caller(request: Request) -> User:
    """The signed-in user: every route here requires authentication (the default permission)."""
    return cast(User, request.user)


def own_notification(request: Request, notification_id: uuid.UUID) -> Notification:
    notification = (
        Notification.objects.filter(pk=notification_id, recipient=caller(request)).select_related("patient").first()
    )
    if notification is None:
        raise Http404
    return notification


class NotificationListApi(APIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        operation_id="notifications_list",
        responses={200: NotificationSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHENTICATED},
        summary="The caller's inbox, newest first",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        inbox = Notification.objects.filter(recipient=caller(request), in_inbox=True).select_related("patient")
        page = paginator.paginate_queryset(inbox, request, view=self)
        return paginator.get_paginated_response(NotificationSerializer(page, many=True).data)


class NotificationAckApi(APIView):
    @extend_schema(
        operation_id="notifications_ack",
        request=None,
        responses={200: NotificationSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary="Mark a notification read and acted on (a missed-dose follow-up is then not sent)",
    )
    def post(self, request: Request, notification_id: uuid.UUID) -> Response:
        notification = notifications.notification_ack(notification=own_notification(request, notification_id))
        return Response(NotificationSerializer(notification).data)


class NotificationSnoozeApi(APIView):
    @extend_schema(
        operation_id="notifications_snooze",
        request=SnoozeSerializer,
        responses={200: NotificationSerializer, 400: VALIDATION_ERROR, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary="Remind the caller again in 5-240 minutes",
    )
    def post(self, request: Request, notification_id: uuid.UUID) -> Response:
        notification = own_notification(request, notification_id)
        serializer = SnoozeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        notification = notifications.notification_snooze(
            notification=notification, minutes=serializer.validated_data["minutes"]
        )
        return Response(NotificationSerializer(notification).data)


# --- Devices -------------------------------------------------------------------------------------


class DeviceListApi(APIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        operation_id="devices_list",
        responses={200: DeviceSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHENTICATED},
        summary="The caller's push devices, deactivated ones included with the reason",
    )
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(Device.objects.filter(user=caller(request)), request, view=self)
        return paginator.get_paginated_response(DeviceSerializer(page, many=True).data)

    @extend_schema(
        operation_id="devices_register",
        request=DeviceInputSerializer,
        responses={
            201: DeviceSerializer,
            200: OpenApiResponse(DeviceSerializer, description="Already registered; re-activated for the caller."),
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
        },
        summary="Register where the caller receives push",
    )
    def post(self, request: Request) -> Response:
        serializer = DeviceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        device, created = notifications.device_register(user=caller(request), **serializer.validated_data)
        return Response(
            DeviceSerializer(device).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class DeviceDetailApi(APIView):
    @extend_schema(
        operation_id="devices_delete",
        responses={204: None, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary="Stop sending push to this device",
    )
    def delete(self, request: Request, device_id: uuid.UUID) -> Response:
        device = Device.objects.filter(pk=device_id, user=caller(request)).first()
        if device is None:
            raise Http404
        notifications.device_remove(device=device, user=caller(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
