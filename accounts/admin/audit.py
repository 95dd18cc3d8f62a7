"""The admin's audit: changes to who may do what in the admin's log, and the two read-only trails
(access records, the admin log)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import capfirst

from accounts.models import AccessRecord, User

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


def access_granted(user: User) -> str:
    """The access a new account starts with, as `Role patient, Staff status off, ...`."""
    return ", ".join(f"{_label(name)} {_shown(value)}" for name, value in access_snapshot(user).items())


def access_form_labels() -> list[str]:
    """The access fields as Django's change message names them, to be replaced by their old and new values."""
    return [_form_label(name) for name in ACCESS_FIELDS]


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
