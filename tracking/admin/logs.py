"""Patients' regimens and logs, read only: a clinician reads them; only the patient or a caregiver writes.

Each list is scoped by `patients_visible_to` and audited (accounts.admin.PatientDataAdmin). There
is no filter by patient: its choices would list every patient in the clinic.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import PatientDataAdmin
from tracking import rules
from tracking.models import Application, PoemEntry, Regimen, SkinCheck, Symptom

# The skin self-check's answers, each a column (yes, no, or not answered) and a filter.
ANSWERS = rules.SKIN_CHECK_ANSWERS


class ReadOnlyPatientDataAdmin(PatientDataAdmin):
    list_select_related: ClassVar[tuple[str, ...]] = ("patient",)
    search_fields = ("patient__first_name", "patient__last_name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # not even a superuser rewrites what a patient logged

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Regimen)
class RegimenAdmin(ReadOnlyPatientDataAdmin):
    list_display = ("patient", "drug", "strength", "phase", "start_date", "end_date", "tube_grams")
    list_filter = ("drug", "strength", "phase")
    date_hierarchy = "start_date"


@admin.register(Application)
class ApplicationAdmin(ReadOnlyPatientDataAdmin):
    list_display = ("applied_at", "patient", "regimen", "body_areas", "amount_ftu", "deleted_at")
    list_select_related = ("patient", "regimen")
    date_hierarchy = "applied_at"


@admin.register(Symptom)
class SymptomAdmin(ReadOnlyPatientDataAdmin):
    list_display = ("recorded_at", "patient", "burning", "itch", "flare_severity", "body_areas", "deleted_at")
    list_filter = ("flare_severity",)
    date_hierarchy = "recorded_at"


@admin.register(PoemEntry)
class PoemEntryAdmin(ReadOnlyPatientDataAdmin):
    list_display = ("recorded_at", "patient", "score", "band", "deleted_at")
    list_filter = ("band",)
    date_hierarchy = "recorded_at"


@admin.register(SkinCheck)
class SkinCheckAdmin(ReadOnlyPatientDataAdmin):
    list_display = ("performed_at", "patient", "performed_by", "concerning", "urgent", *ANSWERS, "deleted_at")
    list_filter = ("concerning", "performed_by", *ANSWERS)
    date_hierarchy = "performed_at"

    @admin.display(boolean=True, description="urgent")
    def urgent(self, check: SkinCheck) -> bool:
        """Reported a sign that needs same-day care (rules.skin_check_urgent_signs)."""
        return check.is_urgent
