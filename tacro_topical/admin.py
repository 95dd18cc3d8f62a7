"""The admin site: Django's own, with autocomplete answers audited like every other view of patient data."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.http import HttpRequest, HttpResponse

from accounts.models import Patient


class AuditedAutocompleteJsonView(AutocompleteJsonView):
    """Autocomplete answers with patients' names: record which patients a clinician was shown."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.shown_patient_ids: list[Any] = []
        response = super().get(request, *args, **kwargs)
        if self.shown_patient_ids:
            # Imported here: accounts.admin registers on this site, so it cannot be imported before it.
            from accounts.admin import record_admin_access

            record_admin_access(request, self.shown_patient_ids, what="autocomplete")
        return response

    def serialize_result(self, obj: Any, to_field_name: str) -> dict[str, str]:
        if isinstance(obj, Patient):
            self.shown_patient_ids.append(obj.pk)
        elif getattr(obj, "patient_id", None) is not None:
            self.shown_patient_ids.append(obj.patient_id)
        return super().serialize_result(obj, to_field_name)


class CareTeamAdminSite(admin.AdminSite):
    site_header = "tacro-topical: care team review"
    site_title = "tacro-topical"
    index_title = "Patients, logs and alerts"

    def autocomplete_view(self, request: HttpRequest) -> HttpResponse:
        return cast(HttpResponse, AuditedAutocompleteJsonView.as_view(admin_site=self)(request))
