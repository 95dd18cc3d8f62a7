"""Admin for care-team alerts: a clinician sees their patients' alerts and resolves one with a note.

Kept small on purpose; issue #5 builds the full review screens.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.selectors import patients_visible_to
from tracking.alerts import alert_resolve
from tracking.models import Alert

ALERT_FIELDS = (
    "patient",
    "kind",
    "severity",
    "summary",
    "evidence",
    "regimen",
    "episode_key",
    "opened_at",
    "resolved_at",
    "resolved_by",
    "resolution_note",
)


class AlertStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "open"), ("resolved", "resolved")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


class AlertForm(forms.ModelForm):
    class Meta:
        model = Alert
        fields = ("resolution_note",)

    def clean_resolution_note(self) -> str:
        # The note is what resolves: saving an open alert without one changes nothing.
        note: str = self.cleaned_data.get("resolution_note", "")
        return note.strip()


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    """Alerts of the patients the clinician may see; an open one is resolved by saving a note."""

    form = AlertForm
    list_display = ("patient", "kind", "severity", "opened_at", "resolved_at")
    list_filter = ("kind", "severity", AlertStatusFilter)
    list_select_related = ("patient",)
    fields = ALERT_FIELDS
    ordering = ("-severity", "-opened_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        # The one place access is decided: a dermatologist sees only their care teams' patients.
        return (
            super()
            .get_queryset(request)
            .filter(patient__in=patients_visible_to(request.user))
            .select_related("patient", "regimen", "resolved_by")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Alert | None = None) -> Any:
        if obj is not None and not obj.is_open:
            return ALERT_FIELDS  # a resolution is final: its note stays as written
        return tuple(name for name in ALERT_FIELDS if name != "resolution_note")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # alerts are raised by the rules, never by hand

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an alert is resolved with a note, and kept

    def save_model(self, request: HttpRequest, obj: Alert, form: forms.ModelForm, change: bool) -> None:
        note = form.cleaned_data.get("resolution_note", "")
        if not note:
            return  # nothing to record: the alert stays open
        try:
            alert_resolve(alert=obj, resolved_by=request.user, note=note)  # type: ignore[arg-type]
        except ValidationError as error:
            # Another clinician resolved it a moment ago: say so rather than fail.
            messages.error(request, " ".join(error.messages))
