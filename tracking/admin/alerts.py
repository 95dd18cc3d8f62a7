"""Alert triage: one list of the open alerts across my patients, most severe and newest first.

An open alert is resolved by saving a note; the alert keeps who resolved it and when.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.admin import PatientDataAdmin
from tracking.alerts.selectors import alerts_by_status
from tracking.alerts.services import alert_resolve
from tracking.models import Alert

ALERT_FIELDS = (
    "patient",
    "kind",
    "severity",
    "summary",
    "evidence_shown",
    "regimen",
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
        if self.value() in ("open", "resolved"):
            return alerts_by_status(queryset, is_open=self.value() == "open")
        return queryset


class AlertForm(forms.ModelForm):
    class Meta:
        model = Alert
        fields = ("resolution_note",)

    def clean_resolution_note(self) -> str:
        # The note is what resolves: the only thing saving this form does.
        note: str = (self.cleaned_data.get("resolution_note") or "").strip()
        if self.instance.is_open and not note:
            raise ValidationError(
                "Write a short note on what was done or decided (for example, 'reviewed in clinic') to resolve it."
            )
        return note


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

    @admin.display(description="evidence")
    def evidence_shown(self, alert: Alert) -> str:
        """The rule's figures as a list a clinician reads, not raw JSON."""
        items = [(key.replace("_", " "), value) for key, value in (alert.evidence or {}).items()]
        return format_html_join("", "<div><strong>{}</strong>: {}</div>", items) or "—"

    def refuse(self, request: HttpRequest, message: str) -> None:
        """Say why nothing was saved, and keep the admin from saying it was changed successfully."""
        messages.error(request, message)
        request.alert_not_saved = True  # type: ignore[attr-defined]  # read by message_user, this request only

    def message_user(
        self, request: HttpRequest, message: Any, level: int | str = messages.INFO, *args: Any, **kwargs: Any
    ) -> None:
        if level == messages.SUCCESS and getattr(request, "alert_not_saved", False):
            return
        super().message_user(request, message, level, *args, **kwargs)

    def response_change(self, request: HttpRequest, obj: Alert) -> HttpResponse:
        # Resolved from a patient's review page: go back there, where the work was.
        if request.GET.get("from") == "review" and "_continue" not in request.POST:
            if not getattr(request, "alert_not_saved", False) and obj.resolved_by_id == request.user.pk:
                messages.success(request, f"Resolved: {obj}. The note is kept with your name and the time.")
            return HttpResponseRedirect(reverse("admin:accounts_patient_review", args=[obj.patient_id]))
        return super().response_change(request, obj)

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
        note = form.cleaned_data.get("resolution_note", "") if obj.is_open else ""
        if not obj.is_open:
            # Resolved by someone else between this page's loading and its saving: the form no longer
            # takes a note, so keep the one typed from being lost in silence.
            typed = request.POST.get("resolution_note", "").strip()
            by = f" by {obj.resolved_by}" if obj.resolved_by else ""
            kept = f' Your note was not saved: "{typed}"' if typed else ""
            self.refuse(request, f"This alert was already resolved{by} at {obj.resolved_at:%Y-%m-%d %H:%M} UTC.{kept}")
            return
        try:
            resolved = alert_resolve(alert=obj, resolved_by=request.user, note=note)  # type: ignore[arg-type]
        except ValidationError as error:
            # Another clinician resolved it a moment ago: say so rather than fail.
            self.refuse(request, " ".join(error.messages))
            return
        # The admin goes on with `obj` (messages, redirect): give it what was saved.
        obj.resolved_at, obj.resolved_by, obj.resolution_note = (
            resolved.resolved_at,
            resolved.resolved_by,
            resolved.resolution_note,
        )
