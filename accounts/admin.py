"""Admin for accounts: users by role, patients scoped by `patients_visible_to`, care-team join codes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest

from accounts import services
from accounts.models import AccessChannel, AccessRecord, CareTeamJoinCode, CareTeamMembership, Patient, Role, User
from accounts.selectors import patients_visible_to
from accounts.services import PATIENT_EDITABLE_FIELDS


def record_admin_access(request: HttpRequest, patient_ids: Iterable[Any], what: str = "") -> None:
    """Audit a clinician's admin page on these patients' data; `what` defaults to the page's URL name."""
    match = request.resolver_match
    services.access_record(
        viewer=request.user,
        patient_ids=patient_ids,
        channel=AccessChannel.ADMIN,
        what=what or (match.url_name if match and match.url_name else request.path),
        path=services.audited_path(request),
    )


class PatientDataAdmin(admin.ModelAdmin):
    """An admin over patient data: only the patients the user may see, and every page of it audited.

    `patient_field` names the model's link to its patient ("" for Patient itself). The queryset
    starts from `patients_visible_to`, so changelists, change pages, history, search and
    autocomplete are all scoped by it; an object outside it is a 404.
    """

    patient_field = "patient"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        visible = patients_visible_to(request.user)
        if not self.patient_field:
            return visible
        return super().get_queryset(request).filter(**{f"{self.patient_field}__in": visible})

    def patient_id_of(self, obj: Any) -> Any:
        return obj.pk if not self.patient_field else getattr(obj, f"{self.patient_field}_id")

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # Iterating result_list fills its cache: the page renders from the same rows, no query more.
        record_admin_access(request, [self.patient_id_of(obj) for obj in changelist.result_list])
        return changelist

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Django's admin redirects to the index for a missing object; someone else's patient
            # is as absent as a deleted one, and says so with a plain 404.
            raise Http404("No such record, or it is not one of your patients.")
        record_admin_access(request, [self.patient_id_of(obj)])
        return obj


class EmailUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "role")


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Clinic staff create dermatologist and staff accounts here; only superusers grant superpowers."""

    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "role", "is_staff", "is_active")
    list_filter = ("role", "is_staff", "is_active")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "role")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "first_name", "last_name", "role", "is_staff", "password1", "password2"),
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = ["last_login", "date_joined"]
        if not request.user.is_superuser:
            # Clinic staff manage accounts but cannot hand out superuser rights or raw permissions.
            readonly += ["is_superuser", "groups", "user_permissions"]
        return readonly


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
        codes = super().get_queryset(request).select_related("dermatologist", "used_for")
        if request.user.is_superuser or request.user.role == Role.CLINIC_STAFF:  # type: ignore[union-attr]
            return codes
        return codes.filter(dermatologist=request.user)

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
            kwargs["queryset"] = User.objects.filter(role=Role.DERMATOLOGIST, is_active=True)
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


@admin.register(AccessRecord)
class AccessRecordAdmin(admin.ModelAdmin):
    """Who viewed which patient's data, what and when. Clinic staff browse it; nobody edits it."""

    list_display = ("viewed_at", "viewer", "patient_id", "channel", "what", "path")
    list_filter = ("channel", "viewed_at")
    search_fields = ("viewer__email", "what", "path")
    list_select_related = ("viewer",)
    # The patient by id only: browsing the audit is not itself a look at anyone's record.
    fields = ("viewed_at", "viewer", "patient_id", "channel", "what", "path")
    readonly_fields = fields
    date_hierarchy = "viewed_at"
    show_full_result_count = False  # the table only grows; counting all of it on every page is waste

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AccessRecord], search_term: str
    ) -> tuple[QuerySet[AccessRecord], bool]:
        # A patient's id finds every record about them, lists and API lists included (no id in their path).
        try:
            return queryset.filter(patient_id=uuid.UUID(search_term.strip())), False
        except ValueError:
            return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
