"""The base of every admin page over patient data: scoped by `patients_visible_to`, every page audited."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from accounts import services
from accounts.models import AccessChannel
from accounts.selectors import patients_visible_to


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
