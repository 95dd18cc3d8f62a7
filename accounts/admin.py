"""Admin for accounts: users by role, patients scoped by `patients_visible_to`, care-team join codes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, ClassVar, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.forms import ModelForm
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.text import capfirst

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


# --- Who manages which account -------------------------------------------------------------------

# The roles clinic staff give and manage: each grants no more than clinic staff hold themselves
# (accounts/backends.py). Clinic staff accounts, superusers and anything beyond are a superuser's.
STAFF_MANAGED_ROLES = (Role.PATIENT, Role.CAREGIVER, Role.DERMATOLOGIST)


def users_managed_by(user: Any, users: QuerySet[User] | None = None) -> QuerySet[User]:
    """The accounts `user` may see and change in the admin (of `users`, default all).

    A superuser: every account. Anyone else (clinic staff): patients, caregivers and dermatologists
    whose powers come from their role alone; never a superuser, other clinic staff, or an account a
    superuser gave groups or permissions, which may hold more than the staff member does.
    """
    users = User.objects.all() if users is None else users
    if user.is_superuser:
        return users
    return users.filter(is_superuser=False, role__in=STAFF_MANAGED_ROLES, groups=None, user_permissions=None)


def staff_status_for(role: str) -> bool:
    """Admin access for an account clinic staff set up: dermatologists review in the admin; nobody else."""
    return role == Role.DERMATOLOGIST


# --- The audit of changes to who may do what ----------------------------------------------------------

# Fields that grant or take away access, with their names in the log: their old and new values go into
# the admin's log (LogEntry).
ACCESS_FIELDS = {"role": "Role", "is_staff": "Staff status", "is_superuser": "Superuser status", "is_active": "Active"}


def _label(name: str) -> str:
    return ACCESS_FIELDS[name]


def _form_label(name: str) -> str:
    """The field's name as Django's own change message has it (from the model's verbose_name)."""
    return str(capfirst(User._meta.get_field(name).verbose_name))  # type: ignore[union-attr]


def _shown(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def access_snapshot(user: User) -> dict[str, Any]:
    return {name: getattr(user, name) for name in ACCESS_FIELDS}


def access_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Each access field that changed, as `Role (patient → dermatologist)`: roles and flags, no personal data."""
    return [
        f"{_label(name)} ({_shown(before[name])} → {_shown(after[name])})"
        for name in ACCESS_FIELDS
        if before[name] != after[name]
    ]


def with_changed_fields(message: Any, replaced: Iterable[str], described: list[str]) -> Any:
    """The admin's change message with the plain labels of `replaced` fields swapped for `described` ones.

    Django's message names the fields a form changed ("Changed Role."); the audit wants old and new
    values too, and fields a rule changed outside the form (staff status follows the role).
    """
    if not described or not isinstance(message, list):
        return message
    replaced = set(replaced)
    kept: list[Any] = []
    fields: list[str] = []
    for item in message:
        changed = item.get("changed") if isinstance(item, dict) else None
        if changed is not None and "name" not in changed:
            fields = [label for label in changed["fields"] if label not in replaced]
        else:
            kept.append(item)
    return [*kept, {"changed": {"fields": [*fields, *described]}}]


def log_admin_change(request: HttpRequest, obj: Any, message: str) -> LogEntry:
    """One row in the admin's log (LogEntry), e.g. for an action that changes no field."""
    entry = LogEntry.objects.log_actions(
        user_id=cast(int, request.user.pk),
        queryset=[obj],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )
    return without_name(entry, obj)


def without_name(entry: Any, obj: Any) -> Any:
    """The log entry names its object by id, not by str(): a patient's or an account's name is personal data."""
    if isinstance(entry, LogEntry):
        entry.object_repr = f"{obj._meta.verbose_name} {obj.pk}"
        LogEntry.objects.filter(pk=entry.pk).update(object_repr=entry.object_repr)
    return entry


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
        granted = ", ".join(f"{_label(name)} {_shown(value)}" for name, value in access_snapshot(obj).items())
        return without_name(super().log_addition(request, obj, f"Added with {granted}."), obj)

    def log_change(self, request: HttpRequest, obj: User, message: Any) -> Any:
        described = getattr(request, "_access_changes", [])
        message = with_changed_fields(message, [_form_label(name) for name in ACCESS_FIELDS], described)
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
            cast(forms.ModelMultipleChoiceField, form.base_fields["caregivers"]).queryset = self.caregiver_choices(
                request, obj
            )
        return form

    @staticmethod
    def caregiver_choices(request: HttpRequest, patient: Patient | None) -> QuerySet[User]:
        """Who may be made this patient's caregiver: active caregiver accounts the caller manages.

        The patient's current caregivers stay listed, so saving the page never drops one silently.
        """
        managed = users_managed_by(request.user).filter(role=Role.CAREGIVER, is_active=True)
        current = Q(dependents=patient) if patient is not None and patient.pk else Q(pk__in=[])
        return User.objects.filter(Q(pk__in=managed.values("pk")) | current).distinct()

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


class ReadOnlyAdmin(admin.ModelAdmin):
    """An audit trail in the admin: browsed, never added to, changed or deleted by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessRecord)
class AccessRecordAdmin(ReadOnlyAdmin):
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


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """The admin's own log: who changed which account's role or access, or a patient's caregivers, and when.

    Superusers browse it (no role grants it); nobody edits it. Objects are named by id, not by name.
    """

    list_display = ("action_time", "user", "content_type", "object_repr", "action_flag", "message")
    list_filter = ("action_flag", "content_type")
    search_fields = ("user__email", "object_id", "object_repr")
    list_select_related = ("user", "content_type")
    date_hierarchy = "action_time"

    @admin.display(description="change")
    def message(self, entry: LogEntry) -> str:
        return entry.get_change_message()
