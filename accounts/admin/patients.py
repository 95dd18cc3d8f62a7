"""Patients (who they are and who cares for them) and care-team join codes in the admin."""

from __future__ import annotations

from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from accounts import services
from accounts.admin.audit import with_changed_fields, without_name
from accounts.admin.patient_data import PatientDataAdmin, record_admin_access
from accounts.models import CareTeamJoinCode, CareTeamMembership, Patient, Role
from accounts.selectors import (
    caregivers_assignable_by,
    dermatologists_able_to_review,
    join_codes_visible_to,
    patients_visible_to,
)
from accounts.services import PATIENT_EDITABLE_FIELDS


class CareTeamMembershipInline(admin.TabularInline):
    model = CareTeamMembership
    extra = 0
    autocomplete_fields = ("clinician",)
    fields = ("clinician", "joined_at")


class PatientAdmin(PatientDataAdmin):
    """Who the patient is and who cares for them; tracking.admin adds the clinical review to it."""

    patient_field = ""
    list_display: Any = ("__str__", "birth_date", "condition", "timezone", "created_at")
    list_filter: ClassVar[tuple[Any, ...]] = ("condition",)
    search_fields: ClassVar[tuple[str, ...]] = ("first_name", "last_name", "user__email")
    readonly_fields = ("id", "user", "created_at", "updated_at")
    fields = ("id", "user", "first_name", "last_name", "birth_date", "timezone", "condition", "caregivers")
    filter_horizontal = ("caregivers",)
    inlines = (CareTeamMembershipInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        # The one place access is decided: a dermatologist sees only their care teams' patients.
        return super().get_queryset(request).select_related("user")

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if "caregivers" in form.base_fields:
            caregivers = cast(forms.ModelMultipleChoiceField, form.base_fields["caregivers"])
            caregivers.queryset = caregivers_assignable_by(request.user, obj)
        return form

    def save_related(self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool) -> None:
        before = set(form.instance.caregivers.values_list("pk", flat=True)) if change else set()
        super().save_related(request, form, formsets, change)
        after = set(form.instance.caregivers.values_list("pk", flat=True))
        # User ids only: the log says who was added or removed without naming anyone.
        parts = []
        if after - before:
            parts.append("added user " + ", ".join(str(pk) for pk in sorted(after - before)))
        if before - after:
            parts.append("removed user " + ", ".join(str(pk) for pk in sorted(before - after)))
        request._caregiver_changes = [f"Caregivers ({'; '.join(parts)})"] if parts else []  # type: ignore[attr-defined]

    def log_addition(self, request: HttpRequest, obj: Patient, message: Any) -> Any:
        return without_name(super().log_addition(request, obj, message), obj)

    def log_change(self, request: HttpRequest, obj: Patient, message: Any) -> Any:
        described = getattr(request, "_caregiver_changes", [])
        return without_name(
            super().log_change(request, obj, with_changed_fields(message, ["Caregivers"], described)), obj
        )

    def save_model(self, request: HttpRequest, obj: Patient, form: ModelForm, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Through the service, as the API does: a new zone keeps the old one in the history (old
        # logs keep their local dates) and moves the reminders. Caregivers are saved by the admin.
        changed = {name: form.cleaned_data[name] for name in form.changed_data if name in PATIENT_EDITABLE_FIELDS}
        services.patient_update(patient=Patient.objects.get(pk=obj.pk), **changed)


@admin.register(CareTeamJoinCode)
class CareTeamJoinCodeAdmin(admin.ModelAdmin):
    """Issue a code in clinic; the patient types it into the app to add the dermatologist."""

    list_display = ("code", "dermatologist", "created_at", "expires_at", "used_at")
    readonly_fields = ("code", "created_at", "expires_at", "used_at", "used_for", "used_for_elsewhere")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CareTeamJoinCode]:
        return join_codes_visible_to(request.user)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("dermatologist",) if request.user.role != Role.DERMATOLOGIST else ()  # type: ignore[union-attr]
        # The patient who used the code, while the viewer may still see them (they may have left the team).
        used_for = "used_for" if self._may_see_used_for(request, obj) else "used_for_elsewhere"
        return ("code", "dermatologist", "created_at", "expires_at", "used_at", used_for)

    @staticmethod
    def _may_see_used_for(request: HttpRequest, code: CareTeamJoinCode) -> bool:
        return code.used_for_id is None or patients_visible_to(request.user).filter(pk=code.used_for_id).exists()

    @admin.display(description="used for")
    def used_for_elsewhere(self, code: CareTeamJoinCode) -> str:
        return "a patient who is not on your care team any more"

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        code = super().get_object(request, object_id, from_field)
        if code is not None and code.used_for_id is not None and self._may_see_used_for(request, code):
            record_admin_access(request, [code.used_for_id])  # the page names the patient
        return code

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a code is issued, used or left to expire; never edited

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "dermatologist":  # only active ones: an inactive login cannot review anyone
            kwargs["queryset"] = dermatologists_able_to_review()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: CareTeamJoinCode, form: ModelForm, change: bool) -> None:
        dermatologist = obj.dermatologist if obj.dermatologist_id else request.user
        # The form offers only active dermatologists, and a dermatologist only themselves,
        # so the service's own checks cannot fail here.
        issued = services.join_code_issue(dermatologist=dermatologist, created_by=request.user)  # type: ignore[arg-type]
        # The admin goes on to show `obj`; give it the saved row's identity.
        obj.pk, obj.code, obj.dermatologist = issued.pk, issued.code, issued.dermatologist
        obj.created_at, obj.expires_at = issued.created_at, issued.expires_at
        messages.success(
            request,
            f"Join code {issued.code} for {issued.dermatologist}: valid until "
            f"{issued.expires_at:%H:%M} UTC, for one patient.",
        )
