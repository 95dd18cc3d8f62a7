"""Tracking models: regimens, the logs patients write against them, reminders and alerts."""

from tracking.models.alerts import IMMEDIATE_ALERT_KINDS, Alert, AlertDigest, AlertKind, AlertSeverity
from tracking.models.logs import Application, PerformedBy, PoemEntry, SkinCheck, Symptom
from tracking.models.regimens import Phase, Regimen
from tracking.models.reminders import (
    Channel,
    Delivery,
    DeliveryStatus,
    Device,
    Notification,
    Occurrence,
    OccurrenceState,
    Platform,
    ReminderKind,
    ReminderSetting,
    Schedule,
    ScheduleKind,
)
from tracking.models.review import PatientSummary

__all__ = [
    "IMMEDIATE_ALERT_KINDS",
    "Alert",
    "AlertDigest",
    "AlertKind",
    "AlertSeverity",
    "Application",
    "Channel",
    "Delivery",
    "DeliveryStatus",
    "Device",
    "Notification",
    "Occurrence",
    "OccurrenceState",
    "PatientSummary",
    "PerformedBy",
    "Phase",
    "Platform",
    "PoemEntry",
    "Regimen",
    "ReminderKind",
    "ReminderSetting",
    "Schedule",
    "ScheduleKind",
    "SkinCheck",
    "Symptom",
]
