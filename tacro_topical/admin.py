"""The admin site: Django's own, with autocomplete answers audited like every other view of patient data,
and a second factor for clinicians (accounts/second_factor.py, accounts/admin_sign_in.py)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from accounts import admin_sign_in, second_factor
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

    def has_permission(self, request: HttpRequest) -> bool:
        # Every admin page asks this: a clinician's session counts only once a code verified it.
        return super().has_permission(request) and second_factor.session_is_verified(request)

    @method_decorator(never_cache)
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Django's admin login (AdminSite.login), whose password is only the first step for a clinician."""
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {
            **self.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        view = admin_sign_in.PasswordStepLoginView.as_view(
            extra_context=context,
            authentication_form=self.login_form or AdminAuthenticationForm,
            template_name=self.login_template or "admin/login.html",
            admin_site=self,
        )
        return cast(HttpResponse, view(request))

    @method_decorator(never_cache)
    @method_decorator(csrf_protect)
    def second_factor(self, request: HttpRequest) -> HttpResponse:
        request.current_app = self.name
        return admin_sign_in.second_factor_view(request, self)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        # Reached before the second factor is given, so not wrapped in admin_view (it would ask for it).
        return [
            path("second-factor/", self.second_factor, name="second_factor"),
            *super().get_urls(),
        ]
