"""The patient list's filters: each offers its choices and narrows the list through tracking/review/selectors.py."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Patient
from tracking import rules
from tracking.models import Phase
from tracking.review.selectors import (
    SUMMARY_DAYS,
    adherence_cuts,
    on_current_regimen,
    with_adherence_below,
    with_no_dose_due,
    with_open_alerts,
)


class AdherenceFilter(admin.SimpleListFilter):
    title = f"adherence ({SUMMARY_DAYS} days)"
    parameter_name = "adherence"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*((f"lt{cut}", f"below {cut}%") for cut in adherence_cuts()), ("none_due", "no doses due")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        for cut in adherence_cuts():
            if self.value() == f"lt{cut}":
                return with_adherence_below(queryset, cut)
        if self.value() == "none_due":
            return with_no_dose_due(queryset)
        return queryset


class OpenAlertsFilter(admin.SimpleListFilter):
    title = "open alerts"
    parameter_name = "open_alerts"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "with open alerts"), ("no", "none open")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        if self.value() in ("yes", "no"):
            return with_open_alerts(queryset, any_open=self.value() == "yes")
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
        return on_current_regimen(queryset, drug=drug, strength=strength)


class PhaseFilter(admin.SimpleListFilter):
    title = "current phase"
    parameter_name = "phase"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(phase.value, phase.value) for phase in Phase]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Patient]) -> QuerySet[Patient]:
        if self.value() in Phase.values:
            return on_current_regimen(queryset, phase=self.value())
        return queryset
