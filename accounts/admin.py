"""Admin for accounts: users by role, patients scoped by `patients_visible_to`, care-team join codes."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from accounts import services
from accounts.models import CareTeamJoinCode, CareTeamMembership, Patient, Role, User
from accounts.selectors import patients_visible_to


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


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("__str__", "birth_date", "condition", "timezone", "created_at")
    list_filter = ("condition",)
    search_fields = ("first_name", "last_name", "user__email")
    readonly_fields = ("id", "user", "created_at", "updated_at")
    fields = ("id", "user", "first_name", "last_name", "birth_date", "timezone", "condition", "caregivers")
    filter_horizontal = ("caregivers",)
    inlines = (CareTeamMembershipInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        # The one place access is decided: a dermatologist sees only their care teams' patients.
        return patients_visible_to(request.user).select_related("user")


@admin.register(CareTeamJoinCode)
class CareTeamJoinCodeAdmin(admin.ModelAdmin):
    """Issue a code in clinic; the patient types it into the app to add the dermatologist."""

    list_display = ("code", "dermatologist", "created_at", "expires_at", "used_at")
    readonly_fields = ("code", "created_at", "expires_at", "used_at", "used_for")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CareTeamJoinCode]:
        codes = super().get_queryset(request).select_related("dermatologist", "used_for")
        if request.user.is_superuser or request.user.role == Role.CLINIC_STAFF:  # type: ignore[union-attr]
            return codes
        return codes.filter(dermatologist=request.user)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("dermatologist",) if request.user.role != Role.DERMATOLOGIST else ()  # type: ignore[union-attr]
        return ("code", "dermatologist", "created_at", "expires_at", "used_at", "used_for")

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
