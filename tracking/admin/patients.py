"""The dermatologist's patient list and review page, the CSV export and the printable visit report.

The list reads each patient's `PatientSummary` (one join), so it sorts by open alerts and lowest
adherence across thousands of patients in SQL, with a query count that does not grow with the page.
The review page, the export and the report read live (tracking/review/).
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import django
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from accounts.admin import PatientAdmin
from accounts.models import Condition, Patient
from tracking import rules
from tracking.admin.patient_filters import AdherenceFilter, OpenAlertsFilter, PhaseFilter, StrengthFilter
from tracking.review import charts
from tracking.review.exports import export_filename, export_range_problem, export_write
from tracking.review.page import NOTHING, review_context
from tracking.review.selectors import (
    REVIEW_WEEKS,
    SUMMARY_DAYS,
    TIMELINE_DAYS_DEFAULT,
    TIMELINE_DAYS_MAX,
    adherence_level,
    burning_trend,
    patient_review,
    summary_of,
)

# Django 6.1's admin styles breadcrumbs as <ol class="breadcrumbs">; 5.2 (on Python 3.11) as <div>.
BREADCRUMBS_AS_LIST = django.VERSION >= (6, 1)
# Short names keep the patient list on one screen; the full name is the cell's title.
CONDITION_SHORT: dict[str, str] = {
    Condition.ATOPIC_DERMATITIS: "AD",
    Condition.CLE_ACUTE: "ACLE",
    Condition.CLE_SUBACUTE: "SCLE",
    Condition.CLE_DISCOID: "DLE",
    Condition.CLE_OTHER: "CLE",
}


class ExportForm(forms.Form):
    # The browser's own date picker, in ISO dates like the rest of the page.
    since = forms.DateField(
        label="From (local date)", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    until = forms.DateField(label="To (local date)", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        problem = export_range_problem(data.get("since"), data.get("until"))
        if problem is not None:
            field, message = problem
            self.add_error(field, message)
        return data


class PatientReviewAdmin(PatientAdmin):
    """The patient list a dermatologist works from, and the review page behind each name."""

    # What triage sorts by comes first after who, so it shows without scrolling on a laptop.
    list_display = (
        "name",
        "age",
        "condition_short",
        "open_alerts",
        "adherence",
        "last_application",
        "burning",
        "latest_flare",
        "poem",
        "regimen",
    )
    list_display_links = None  # the name links to the review page, not the edit form
    list_filter = ("condition", AdherenceFilter, OpenAlertsFilter, StrengthFilter, PhaseFilter)
    search_fields = ("first_name", "last_name", "user__email", "caregivers__email")
    list_per_page = 100
    # Open alerts first, then the lowest adherence; patients not yet summarised last.
    ordering = (
        F("summary__open_alerts").desc(nulls_last=True),
        F("summary__adherence_pct").asc(nulls_last=True),
        "last_name",
    )
    change_form_template = "admin/accounts/patient/change_form_with_review.html"

    class Media:
        css = {"all": ("tracking/review.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        return super().get_queryset(request).select_related("summary", "summary__current_regimen")

    # --- List columns -----------------------------------------------------------------------------

    @admin.display(description="patient", ordering="last_name")
    def name(self, patient: Patient) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:accounts_patient_review", args=[patient.pk]), patient)

    @admin.display(description="age", ordering="-birth_date")
    def age(self, patient: Patient) -> int:
        return patient.age_on(patient.local_today())

    @admin.display(description="condition", ordering="condition")
    def condition_short(self, patient: Patient) -> str:
        return format_html(
            '<abbr title="{}">{}</abbr>', patient.get_condition_display(), CONDITION_SHORT.get(patient.condition, "")
        )

    @admin.display(description="regimen")
    def regimen(self, patient: Patient) -> str:
        summary = summary_of(patient)
        regimen = summary.current_regimen if summary else None
        if regimen is None:
            return NOTHING
        return format_html('{} {}%<br><span class="quiet">{}</span>', regimen.drug, regimen.strength, regimen.phase)

    @admin.display(description=f"adherence {SUMMARY_DAYS} d", ordering="summary__adherence_pct")
    def adherence(self, patient: Patient) -> str:
        summary = summary_of(patient)
        if summary is None or summary.adherence_pct is None:
            return NOTHING
        level = adherence_level(summary.adherence_pct)
        return format_html('<span class="adherence {}">{}%</span>', level, f"{summary.adherence_pct:.0f}")

    @admin.display(description="last application", ordering="summary__last_application_at")
    def last_application(self, patient: Patient) -> str:
        summary = summary_of(patient)
        if summary is None or summary.last_application_at is None:
            return NOTHING
        return format_html(
            '<time datetime="{}" title="{} UTC">{} ago</time>',
            summary.last_application_at.isoformat(),
            f"{summary.last_application_at:%Y-%m-%d %H:%M}",
            timesince(summary.last_application_at, depth=1),
        )

    @admin.display(description="flare", ordering="summary__latest_flare_severity")
    def latest_flare(self, patient: Patient) -> str:
        summary = summary_of(patient)
        if summary is None or summary.latest_flare_severity is None or summary.latest_flare_at is None:
            return NOTHING
        return format_html(
            '{} <span class="quiet">({} ago)</span>',
            rules.FLARE_SEVERITY_LABELS[summary.latest_flare_severity],
            timesince(summary.latest_flare_at, depth=1),
        )

    @admin.display(description=f"burning {SUMMARY_DAYS} d")
    def burning(self, patient: Patient) -> str:
        summary = summary_of(patient)
        if summary is None:
            return NOTHING
        values = summary.burning_by_day
        return format_html(
            "{} {}",
            charts.sparkline(values, y_max=rules.NRS_MAX, label=f"Highest burning per day, last {SUMMARY_DAYS} days"),
            burning_trend(values),
        )

    @admin.display(description="POEM", ordering="summary__latest_poem_score")
    def poem(self, patient: Patient) -> str:
        summary = summary_of(patient)
        if summary is None or summary.latest_poem_score is None:
            return NOTHING
        return f"{summary.latest_poem_score} · {summary.latest_poem_band.replace('_', ' ')}"

    @admin.display(description="open alerts", ordering="summary__open_alerts")
    def open_alerts(self, patient: Patient) -> str:
        summary = summary_of(patient)
        if summary is None or not summary.open_alerts:
            return "0"
        url = reverse("admin:tracking_alert_changelist") + f"?patient__id__exact={patient.pk}&status=open"
        return format_html('<a class="open-alerts" href="{}">{}</a>', url, summary.open_alerts)

    # --- Review, export, report -------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:object_id>/review/", wrap(self.review_view), name="accounts_patient_review"),
            path("<uuid:object_id>/review/export.csv", wrap(self.export_view), name="accounts_patient_export"),
            path("<uuid:object_id>/review/report/", wrap(self.report_view), name="accounts_patient_report"),
            *super().get_urls(),
        ]

    def reviewed_patient(self, request: HttpRequest, object_id: Any) -> Patient:
        """The patient, if the user may see them (404 otherwise); the view is audited."""
        patient: Patient = self.get_object(request, str(object_id))
        if not self.has_view_permission(request, patient):
            raise PermissionDenied
        return patient

    def review_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        patient = self.reviewed_patient(request, object_id)
        days = request.GET.get("days", str(TIMELINE_DAYS_DEFAULT))
        if not re.fullmatch(r"[0-9]{1,3}", days) or not 1 <= int(days) <= TIMELINE_DAYS_MAX:
            messages.warning(
                request, f"Show 1 to {TIMELINE_DAYS_MAX} days of timeline; showing {TIMELINE_DAYS_DEFAULT}."
            )
            days = str(TIMELINE_DAYS_DEFAULT)
        review = patient_review(patient, timeline_days=int(days))
        default_export = ExportForm(
            initial={"since": review.today - datetime.timedelta(days=REVIEW_WEEKS * 7 - 1), "until": review.today}
        )
        context = {
            **self.admin_site.each_context(request),
            **review_context(review),
            "opts": self.model._meta,
            "title": f"Review: {patient}",
            "export_form": default_export,
            "timeline_choices": (7, 14, 28, 56, TIMELINE_DAYS_MAX),
            "can_change": self.has_change_permission(request, patient),
            "breadcrumbs_as_list": BREADCRUMBS_AS_LIST,
        }
        return TemplateResponse(request, "admin/accounts/patient/review.html", context)

    def export_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        patient = self.reviewed_patient(request, object_id)
        form = ExportForm(request.GET)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Export logs: {patient}",
                "patient": patient,
                "form": form,
                "breadcrumbs_as_list": BREADCRUMBS_AS_LIST,
            }
            return TemplateResponse(request, "admin/accounts/patient/export_form.html", context, status=400)
        since, until = form.cleaned_data["since"], form.cleaned_data["until"]
        # Built before answering (at most a year of one patient's logs), so a failure is an error
        # page rather than a download cut short.
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        export_write(response, patient, first=since, last=until)
        filename = export_filename(patient, first=since, last=until)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def report_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        patient = self.reviewed_patient(request, object_id)
        review = patient_review(patient, timeline_days=14)
        # Drawn narrower than on screen: two charts share a line of A4, and their text must stay legible.
        context = {**review_context(review, chart_width=440), "viewer": request.user, "generated_at": timezone.now()}
        return TemplateResponse(request, "admin/accounts/patient/report.html", context)


admin.site.register(Patient, PatientReviewAdmin)
