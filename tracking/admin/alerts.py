"""Alert triage: one list of the open alerts across my patients, most severe and newest first.

An open alert is resolved by saving a note; the alert keeps who resolved it and when.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin import PatientDataAdmin
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
        return [("open", "open"), ("resolved", "resolved"), ("all", "all")]

    def value(self) -> str:
        # Triage starts at what is open: no choice made means "open".
        return super().value() or "open"

    def choices(self, changelist: Any) -> Any:
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

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
class AlertAdmin(PatientDataAdmin):
    """Alerts of the patients the clinician may see; an open one is resolved by saving a note."""

    form = AlertForm
    list_display = ("severity_label", "opened_at", "patient_review", "kind", "summary", "resolved")
    list_display_links = ("severity_label", "kind")
    list_filter = (AlertStatusFilter, "severity", "kind")
    list_select_related = ("patient", "resolved_by")
    search_fields = ("patient__first_name", "patient__last_name", "summary")
    fields = ALERT_FIELDS
    ordering = ("-severity", "-opened_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        return super().get_queryset(request).select_related("patient", "regimen", "resolved_by")

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # The patient list links "open alerts" here for one patient; the queryset still scopes it.
        return lookup == "patient__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="severity", ordering="-severity")
    def severity_label(self, alert: Alert) -> str:
        return format_html('<span class="alert-severity s{}">{}</span>', alert.severity, alert.get_severity_display())

    @admin.display(description="patient", ordering="patient__last_name")
    def patient_review(self, alert: Alert) -> str:
        url = reverse("admin:accounts_patient_review", args=[alert.patient_id])
        return format_html('<a href="{}">{}</a>', url, alert.patient)

    @admin.display(description="resolved")
    def resolved(self, alert: Alert) -> str:
        if alert.resolved_at is None:
            return "open"
        return f"{alert.resolved_at:%Y-%m-%d %H:%M} UTC by {alert.resolved_by or 'a removed user'}"

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
