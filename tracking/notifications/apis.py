"""The caller's inbox (list, ack, snooze) and push devices (and a test push to one): /notifications/ and
/devices/; and the server's VAPID public key for Web Push subscriptions: /push/vapid-public-key/ (anyone
may read it).

Thin: validate, call one service or selector, answer. Notifications and devices belong to the
caller alone, and anyone else's are a 404.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.http import Http404
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.auth_apis import AnonymousApi
from accounts.models import User
from tacro_topical.pagination import PagedApi
from tacro_topical.schema import NOT_FOUND, UNAUTHENTICATED, VALIDATION_ERROR, ErrorSerializer
from tacro_topical.serializers import RejectUnknownFields
from tacro_topical.task_sending import enqueue
from tracking import rules
from tracking.models import Device, Notification, Platform
from tracking.notifications import selectors
from tracking.notifications.services import (
    device_register,
    device_remove,
    device_unavailable_reason,
    notification_ack,
    notification_snooze,
)
from tracking.notifications.tasks import send_test_push
from tracking.notifications.transports.webpush import subscription_json
from tracking.notifications.vapid import VapidKeyUnavailableError, vapid_public_key
from tracking.reminders.schedules import zone_named
from tracking.serializers import rfc3339

# --- Shapes --------------------------------------------------------------------------------------


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
        # A browser hands its subscription over as an object: a Web Push token may come so, as the
        # text it is stored as (an FCM or APNs token is text only). The service checks it.
        if isinstance(data, dict) and data.get("platform") == Platform.WEBPUSH and isinstance(data.get("token"), dict):
            data = {**data, "token": subscription_json(data["token"])}
        return super().to_internal_value(data)


class VapidPublicKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="The server's VAPID public key: the uncompressed P-256 point (65 bytes) in base64url without"
        " padding, as PushManager.subscribe takes it for applicationServerKey."
    )


# --- Notifications -------------------------------------------------------------------------------


def caller(request: Request) -> User:
    """The signed-in user: every route here requires authentication (the default permission)."""
    return cast(User, request.user)


def own_notification(request: Request, notification_id: uuid.UUID) -> Notification:
    notification = selectors.notification_of(caller(request), notification_id)
    if notification is None:
        raise Http404
    return notification


class NotificationListApi(PagedApi):
    @extend_schema(
        operation_id="notifications_list",
        responses={200: NotificationSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHENTICATED},
        summary="The caller's inbox, newest first",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.inbox_of(caller(request)))
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)


class NotificationAckApi(APIView):
    @extend_schema(
        operation_id="notifications_ack",
        request=None,
        responses={200: NotificationSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary="Mark a notification read and acted on (a missed-dose follow-up is then not sent)",
    )
    def post(self, request: Request, notification_id: uuid.UUID) -> Response:
        notification = notification_ack(notification=own_notification(request, notification_id))
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
        notification = notification_snooze(notification=notification, minutes=serializer.validated_data["minutes"])
        return Response(NotificationSerializer(notification).data)


# --- Devices -------------------------------------------------------------------------------------


class DeviceListApi(PagedApi):
    @extend_schema(
        operation_id="devices_list",
        responses={200: DeviceSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHENTICATED},
        summary="The caller's push devices, deactivated ones included with the reason",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.devices_of(caller(request)))
        return self.get_paginated_response(DeviceSerializer(page, many=True).data)

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
        device, created = device_register(user=caller(request), **serializer.validated_data)
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
        device = selectors.device_of(caller(request), device_id)
        if device is None:
            raise Http404
        device_remove(device=device, user=caller(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# A broker that did not take the task: long enough for a restart, short enough for a person waiting.
TEST_PUSH_RETRY_AFTER_SECONDS = 30


class DeviceTestApi(APIView):
    @extend_schema(
        operation_id="devices_test",
        request=None,
        responses={
            202: OpenApiResponse(description="A test push is on its way to the device."),
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
            409: OpenApiResponse(
                ErrorSerializer,
                description="This device cannot get push now: it was deactivated (the reason says why) or its"
                " platform is not configured on this server.",
            ),
            503: OpenApiResponse(
                ErrorSerializer, description="The task could not be queued (the broker is down); see Retry-After."
            ),
        },
        summary="Send the caller's device a test push",
        description="A harmless push in the caller's language (kind `test`, nothing about anyone's health), sent by"
        " a worker through the device's push service; nothing is written to the inbox. A device its push service"
        " says is gone is deactivated, as with a reminder.",
    )
    def post(self, request: Request, device_id: uuid.UUID) -> Response:
        device = selectors.device_of(caller(request), device_id)
        if device is None:
            raise Http404
        unavailable = device_unavailable_reason(device)
        if unavailable is not None:
            return Response({"detail": unavailable}, status=status.HTTP_409_CONFLICT)
        # As every task sent from a request: one try on a kept connection, never holding the request up.
        if not enqueue(send_test_push, str(device.pk)):
            return Response(
                {"detail": gettext("The test cannot be sent just now. Try again in a minute.")},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={"Retry-After": str(TEST_PUSH_RETRY_AFTER_SECONDS)},
            )
        return Response(status=status.HTTP_202_ACCEPTED)


# --- Web Push key --------------------------------------------------------------------------------


class VapidPublicKeyApi(AnonymousApi):
    """Anyone may read it (a public key): a browser subscribes with it before or after signing in."""

    @extend_schema(
        operation_id="push_vapid_public_key",
        responses={
            200: VapidPublicKeySerializer,
            404: OpenApiResponse(
                ErrorSerializer, description="Web Push is not available here: no VAPID key is configured."
            ),
        },
        summary="The server's VAPID public key, for subscribing to Web Push",
        description="Subscribe with it, then register the subscription with POST /api/v1/devices/ "
        "(platform webpush). A subscription made with another key receives nothing: subscribe again when it changes.",
    )
    def get(self, request: Request) -> Response:
        try:
            public_key = vapid_public_key()
        except VapidKeyUnavailableError as unavailable:
            return Response({"detail": str(unavailable)}, status=status.HTTP_404_NOT_FOUND)
        return Response({"public_key": public_key})
