"""The care team's admin: the patient list and review page, alert triage, and the logs, read only."""

from tracking.admin import alerts, logs, patients

__all__ = ["alerts", "logs", "patients"]
