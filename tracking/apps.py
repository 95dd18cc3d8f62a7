from typing import Any

from django.apps import AppConfig


class TrackingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tracking"
    verbose_name = "Treatment tracking"

    def ready(self) -> None:
        from accounts.signals import patient_timezone_changed

        patient_timezone_changed.connect(_follow_new_timezone, dispatch_uid="tracking.schedules_follow_timezone")


def _follow_new_timezone(sender: type, *, patient: Any, **kwargs: Any) -> None:
    """Reminders stay on the patient's wall clock: recompute every schedule in the new zone.

    The patient list's summary follows too: its 14 days are the patient's local days.
    """
    from tracking.reminders.services import schedules_refresh
    from tracking.review.services import summary_refresh

    schedules_refresh(patient=patient)
    summary_refresh(patient)
