"""The dermatologist's patient list and review page, the CSV export and the printable visit report.

The list reads each patient's `PatientSummary` (one join), so it sorts by open alerts and lowest
adherence across thousands of patients in SQL, with a query count that does not grow with the page.
The review page, the export and the report read live (tracking/review/).
"""

from __future__ import annotations

import csv
import datetime
import re
from typing import Any
from zoneinfo import ZoneInfo

import django
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from accounts.admin import PatientAdmin
from accounts.models import Condition, Patient
from tracking import rules
from tracking.models import PatientSummary, Phase
from tracking.review import charts
from tracking.review.exports import EXPORT_COLUMNS, EXPORT_MAX_DAYS, csv_safe, export_rows
from tracking.review.selectors import (
    REVIEW_WEEKS,
    SUMMARY_DAYS,
    TIMELINE_DAYS_DEFAULT,
    TIMELINE_DAYS_MAX,
    Review,
    burning_trend,
    patient_review,
)

NOTHING = "—"
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


def adherence_cuts() -> tuple[int, int]:
    """The list's two adherence bands: below the care team's alert threshold (settings.ALERT_THRESHOLDS,
    where a deployment may change it), and below the usual "adherent" cut-off (rules.ADHERENT_PCT)."""
    return settings.ALERT_THRESHOLDS["low_adherence_pct"], rules.ADHERENT_PCT


class AdherenceFilter(admin.SimpleListFilter):
    title = f"adherence ({SUMMARY_DAYS} days)"
    parameter_name = "adherence"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*((f"lt{cut}", f"below {cut}%") for cut in adherence_cuts()), ("none_due", "no doses due")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        for cut in adherence_cuts():
            if self.value() == f"lt{cut}":
                return queryset.filter(summary__adherence_pct__lt=cut)
        if self.value() == "none_due":
            return queryset.filter(summary__adherence_pct__isnull=True)
        return queryset


class OpenAlertsFilter(admin.SimpleListFilter):
    title = "open alerts"
    parameter_name = "open_alerts"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "with open alerts"), ("no", "none open")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        if self.value() == "yes":
            return queryset.filter(summary__open_alerts__gt=0)
        if self.value() == "no":
            return queryset.exclude(summary__open_alerts__gt=0)
        return queryset


class StrengthFilter(admin.SimpleListFilter):
    title = "current strength"
    parameter_name = "strength"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (f"{drug.value}:{strength}", f"{drug.value} {strength}%")
            for drug, strengths in rules.STRENGTHS_BY_DRUG.items()
            for strength in strengths
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        drug, _, strength = (self.value() or "").partition(":")
        if not strength:
            return queryset
        return queryset.filter(summary__current_regimen__drug=drug, summary__current_regimen__strength=strength)


class PhaseFilter(admin.SimpleListFilter):
    title = "current phase"
    parameter_name = "phase"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(phase.value, phase.value) for phase in Phase]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        if self.value() in Phase.values:
            return queryset.filter(summary__current_regimen__phase=self.value())
        return queryset


EXPORT_EARLIEST, EXPORT_LATEST = datetime.date(1900, 1, 1), datetime.date(2100, 12, 31)


class ExportForm(forms.Form):
    # The browser's own date picker, in ISO dates like the rest of the page.
    since = forms.DateField(
        label="From (local date)", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    until = forms.DateField(label="To (local date)", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        for name, date in (("since", since), ("until", until)):
            if date and not EXPORT_EARLIEST <= date <= EXPORT_LATEST:
                self.add_error(name, f"Choose a date from {EXPORT_EARLIEST} to {EXPORT_LATEST}.")
                return data
        if since and until:
            if until < since:
                raise forms.ValidationError("The end date is before the start date.")
            if (until - since).days >= EXPORT_MAX_DAYS:
                raise forms.ValidationError(f"Export at most {EXPORT_MAX_DAYS} days at a time.")
        return data


def summary_of(patient: Patient) -> PatientSummary | None:
    try:
        return patient.summary
    except PatientSummary.DoesNotExist:
        return None  # registered since the last refresh: the hourly sweep summarises them


def regimen_label(regimen: Any) -> str:
    return f"{regimen.drug} {regimen.strength}% · {regimen.phase}" if regimen else NOTHING


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
        low, adherent = adherence_cuts()
        level = "low" if summary.adherence_pct < low else "mid" if summary.adherence_pct < adherent else ""
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
        writer = csv.writer(response)
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows(csv_safe(row) for row in export_rows(patient, first=since, last=until))
        filename = f"tacro-topical-{str(patient.pk)[:8]}-{since}-{until}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def report_view(self, request: HttpRequest, object_id: Any) -> HttpResponse:
        patient = self.reviewed_patient(request, object_id)
        review = patient_review(patient, timeline_days=14)
        # Drawn narrower than on screen: two charts share a line of A4, and their text must stay legible.
        context = {**review_context(review, chart_width=440), "viewer": request.user, "generated_at": timezone.now()}
        return TemplateResponse(request, "admin/accounts/patient/report.html", context)


def review_context(review: Review, *, chart_width: float = charts.LINE_W) -> dict[str, Any]:
    """The review's figures and its charts, as the review page and the visit report show them.

    POEM is an eczema measure: its chart is left out for a patient without atopic dermatitis
    unless they logged one anyway.
    """
    zone = ZoneInfo(review.patient.timezone)
    start, end = review.start, review.now
    symptoms = review.symptoms
    burning = [(symptom.recorded_at, float(symptom.burning)) for symptom in symptoms if symptom.burning is not None]
    itch = [(symptom.recorded_at, float(symptom.itch)) for symptom in symptoms if symptom.itch is not None]
    flare = [
        (symptom.recorded_at, float(symptom.flare_severity))
        for symptom in symptoms
        if symptom.flare_severity is not None
    ]
    poem = [(entry.recorded_at, float(entry.score)) for entry in review.poems if entry.score is not None]
    weeks = f"last {REVIEW_WEEKS} weeks"
    chart_svgs: dict[str, SafeString] = {
        "heatmap": charts.adherence_heatmap(review.days, today=review.today, weeks=REVIEW_WEEKS),
        "burning_itch": charts.line_chart(
            [charts.Series("Burning (NRS 0-10)", burning), charts.Series("Itch (NRS 0-10)", itch, dashed=True)],
            start=start,
            end=end,
            y_min=rules.NRS_MIN,
            y_max=rules.NRS_MAX,
            y_ticks=(0, 2, 4, 6, 8, 10),
            title=f"Burning and itch, {weeks}",
            zone=zone,
            width=chart_width,
        ),
        "flare": charts.line_chart(
            [charts.Series("Flare severity (0 clear - 4 severe)", flare)],
            start=start,
            end=end,
            y_min=rules.FLARE_SEVERITY_MIN,
            y_max=rules.FLARE_SEVERITY_MAX,
            y_ticks=tuple(range(rules.FLARE_SEVERITY_MIN, rules.FLARE_SEVERITY_MAX + 1)),
            title=f"Flare severity, {weeks}",
            zone=zone,
            width=chart_width,
        ),
        "areas": charts.bar_chart(
            [
                charts.Bar(
                    label=use.area,
                    value=use.applications,
                    note=area_note(use.measured_ftu, use.measured_applications, use.table_ftu),
                )
                for use in review.areas
            ],
            title=f"Where it was applied, {weeks}",
            unit="applications",
        ),
    }
    if review.patient.condition == Condition.ATOPIC_DERMATITIS or review.poems:
        chart_svgs["poem"] = charts.line_chart(
            [charts.Series("POEM (0-28)", poem)],
            start=start,
            end=end,
            y_min=0,
            y_max=28,
            y_ticks=(0, 7, 14, 21, 28),
            title=f"POEM, {weeks}",
            # Scores are whole numbers: bands meet half-way between one band's top and the next's bottom.
            bands=[
                charts.Band(max(0, lowest - 0.5), min(28, highest + 0.5), band.replace("_", " "))
                for band, lowest, highest in rules.POEM_BANDS
            ],
            zone=zone,
            width=chart_width,
        )
    latest_poem = next((entry for entry in reversed(review.poems) if entry.score is not None), None)
    return {
        "review": review,
        "patient": review.patient,
        "charts": chart_svgs,
        "latest_poem": latest_poem,
        "latest_poem_band": latest_poem.band.replace("_", " ") if latest_poem else "",
        "current_regimen_label": regimen_label(review.current_regimen),
        "zone": zone,
        "weekdays": {regimen.pk: weekdays_label(regimen.weekdays) for regimen in review.regimens},
    }


WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def weekdays_label(weekdays: list[int]) -> str:
    """ "daily", or the ISO weekday numbers as names ("Mon, Thu")."""
    if sorted(weekdays) == [1, 2, 3, 4, 5, 6, 7]:
        return "daily"
    return ", ".join(WEEKDAY_NAMES[day - 1] for day in sorted(weekdays))


def area_note(measured_ftu: Any, measured_applications: int, table_ftu: Any) -> str:
    parts = []
    if measured_applications:
        # One amount covers all of an application's areas: say so, rather than split it by guesswork.
        mean = measured_ftu / measured_applications
        parts.append(f"mean {mean:.1f} FTU per application (all its areas), {measured_applications} with an amount")
    else:
        parts.append("no amount logged")
    if table_ftu is not None:
        parts.append(f"FTU table {table_ftu} FTU")
    return "; ".join(parts)


admin.site.register(Patient, PatientReviewAdmin)
