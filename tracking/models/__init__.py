"""Tracking models: regimens, and the logs patients write against them."""

from tracking.models.logs import Application, PerformedBy, PoemEntry, SkinCheck, Symptom
from tracking.models.regimens import Phase, Regimen

__all__ = ["Application", "PerformedBy", "Phase", "PoemEntry", "Regimen", "SkinCheck", "Symptom"]
