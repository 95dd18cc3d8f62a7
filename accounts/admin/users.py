"""Accounts in the admin: a superuser manages all; clinic staff the accounts `users_managed_by` gives them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse

from accounts import services
from accounts.admin.audit import (
    access_changes,
    access_form_labels,
    access_granted,
    access_snapshot,
    log_admin_change,
    with_changed_fields,
    without_name,
)
from accounts.models import (
    STAFF_MANAGED_ROLES,
    Role,
    User,
    staff_status_for,
)
from accounts.selectors import users_managed_by


class EmailUserCreationForm(AdminUserCreationForm):
    """A superuser's: with a password they choose and staff status."""

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "role")


class StaffAccountCreationForm(forms.ModelForm):
    """Clinic staff's: no password. The owner gets an e-mail to choose one (UserAdmin.save_model)."""

    class Meta:
        model = User
        fields = ("email", "first_name", "last_name", "role")

    def save(self, commit: bool = True) -> User:
        user: User = super().save(commit=False)
        user.set_unusable_password()
        if commit:
            user.save()
        return user


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Clinic staff set up patients', caregivers' and dermatologists' accounts; the rest is a superuser's.

    Clinic staff never see a superuser or another member of clinic staff (their pages are 404s), never
    set a password (they send a reset link), and never grant staff or superuser status, groups or
    permissions: a dermatologist's admin access follows from the role. Changes to roles and access
    flags are written to the admin's log with their old and new values.
    """

    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ("email",)
    list_display = ("email", "first_name", "last_name", "role", "is_staff", "is_active")
    list_filter = ("role", "is_staff", "is_active")
    search_fields = ("email", "first_name", "last_name")
    actions = ("send_password_reset_link",)
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
    staff_fieldsets = (
        (None, {"fields": ("email",)}),
        ("Person", {"fields": ("first_name", "last_name", "role")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    staff_add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "first_name", "last_name", "role"),
                "description": "The new account's owner gets an e-mail with a link to choose a password. "
                "A dermatologist can sign in to this admin; patients and caregivers use the app.",
            },
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return users_managed_by(request.user, super().get_queryset(request))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Not a redirect to the index: an account outside the caller's reach is as absent as a missing one.
            raise Http404("No such account, or not one you manage.")
        return obj

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.staff_fieldsets if obj is not None else self.staff_add_fieldsets

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None and not request.user.is_superuser:
            kwargs["form"] = StaffAccountCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = ["last_login", "date_joined"]
        if not request.user.is_superuser:
            # Clinic staff manage accounts but hand out no access of their own choosing.
            readonly += ["is_staff", "is_superuser", "groups", "user_permissions"]
            if obj is not None:
                # The address is where reset links go: staff who could change it could send one to
                # themselves and sign in as the patient. A person changes their address with a superuser.
                readonly.append("email")
        return readonly

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "role" and not request.user.is_superuser:
            kwargs["choices"] = [(value, label) for value, label in Role.choices if value in STAFF_MANAGED_ROLES]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        # Whoever sets a password can sign in as its owner: clinic staff send a reset link instead.
        if not request.user.is_superuser:
            raise PermissionDenied("Send the account a password-reset link instead.")
        return super().user_change_password(request, id, form_url)

    def save_model(self, request: HttpRequest, obj: User, form: ModelForm, change: bool) -> None:
        if not request.user.is_superuser and (not change or "role" in form.changed_data):
            obj.is_staff = staff_status_for(obj.role)
        before = access_snapshot(User.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        # The log entry is written after save_model; what changed is kept for it on the request.
        request._access_changes = (  # type: ignore[attr-defined]
            access_changes(before, access_snapshot(obj)) if before is not None else []
        )
        if not change and not obj.has_usable_password():
            # Its owner chooses the password, through the link of a password reset (sent after the commit).
            services.user_password_reset_request(email=obj.email)

    def log_addition(self, request: HttpRequest, obj: User, message: Any) -> Any:
        return without_name(super().log_addition(request, obj, f"Added with {access_granted(obj)}."), obj)

    def log_change(self, request: HttpRequest, obj: User, message: Any) -> Any:
        described = getattr(request, "_access_changes", [])
        message = with_changed_fields(message, access_form_labels(), described)
        return without_name(super().log_change(request, obj, message), obj)

    @admin.action(description="Send a password-reset link by e-mail")
    def send_password_reset_link(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        # The queryset is the changelist's: only accounts the caller manages.
        users = list(queryset.filter(is_active=True))
        for user in users:
            # The same link and e-mail as POST auth/password/reset/ (accounts.services owns both).
            services.user_password_reset_request(email=user.email)
            log_admin_change(request, user, "Sent a password-reset link.")
        skipped = queryset.count() - len(users)
        note = f" ({skipped} inactive left out)" if skipped else ""
        self.message_user(request, f"Sent {len(users)} password-reset link(s){note}.", messages.SUCCESS)
