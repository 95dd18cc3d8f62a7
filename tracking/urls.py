from django.urls import URLPattern, path
from rest_framework.views import APIView

from tracking import apis
from tracking.notifications import apis as notification_apis
from tracking.reminders import apis as reminder_apis

PATIENT = "patients/<uuid:patient_id>/"


def log_paths(segment: str, name: str, list_api: type[APIView], detail_api: type[APIView]) -> list[URLPattern]:
    return [
        path(f"{PATIENT}{segment}/", list_api.as_view(), name=f"{name}-list"),
        path(f"{PATIENT}{segment}/<uuid:log_id>/", detail_api.as_view(), name=f"{name}-detail"),
    ]


urlpatterns = [
    path(f"{PATIENT}regimens/", apis.RegimenListApi.as_view(), name="regimen-list"),
    path(f"{PATIENT}regimens/<uuid:regimen_id>/", apis.RegimenDetailApi.as_view(), name="regimen-detail"),
    path(
        f"{PATIENT}regimens/<uuid:regimen_id>/step-down/",
        apis.RegimenStepDownApi.as_view(),
        name="regimen-step-down",
    ),
    *log_paths("applications", "application", apis.ApplicationListApi, apis.ApplicationDetailApi),
    *log_paths("symptoms", "symptom", apis.SymptomListApi, apis.SymptomDetailApi),
    *log_paths("poem", "poem", apis.PoemListApi, apis.PoemDetailApi),
    *log_paths("skin-checks", "skin-check", apis.SkinCheckListApi, apis.SkinCheckDetailApi),
    path(f"{PATIENT}sync/", apis.SyncApi.as_view(), name="sync"),
    path(f"{PATIENT}adherence/", apis.AdherenceApi.as_view(), name="adherence"),
    path(f"{PATIENT}reminders/", reminder_apis.ReminderListApi.as_view(), name="reminder-list"),
    path(f"{PATIENT}reminders/<str:kind>/", reminder_apis.ReminderDetailApi.as_view(), name="reminder-detail"),
    path("notifications/", notification_apis.NotificationListApi.as_view(), name="notification-list"),
    path(
        "notifications/<uuid:notification_id>/ack/",
        notification_apis.NotificationAckApi.as_view(),
        name="notification-ack",
    ),
    path(
        "notifications/<uuid:notification_id>/snooze/",
        notification_apis.NotificationSnoozeApi.as_view(),
        name="notification-snooze",
    ),
    path("push/vapid-public-key/", notification_apis.VapidPublicKeyApi.as_view(), name="push-vapid-public-key"),
    path("devices/", notification_apis.DeviceListApi.as_view(), name="device-list"),
    path("devices/<uuid:device_id>/", notification_apis.DeviceDetailApi.as_view(), name="device-detail"),
    path("devices/<uuid:device_id>/test/", notification_apis.DeviceTestApi.as_view(), name="device-test"),
]
