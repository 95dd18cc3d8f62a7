from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from django.urls import include, path, re_path, reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from tacro_topical.errors import api_not_found
from tacro_topical.health import HealthApi


class ApiDocsAccess(BasePermission):
    """The schema and the docs page: anyone when API_DOCS_PUBLIC, else a signed-in clinician or clinic staff.

    Read per request, not at import, so a test can turn it off; off is the production default.
    """

    message = "The API documentation is for signed-in clinicians and clinic staff here: sign in at /admin/ first."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        user = request.user
        return bool(user.is_authenticated and (user.is_staff or user.is_superuser or user.is_clinician))


class DocsPage(SpectacularSwaggerSplitView):
    """Swagger UI; where the docs are not public, a browser that is not signed in is sent to sign in first."""

    # DRF's dispatch passes any HttpResponseBase on (finalize_response checks for that), a redirect included.
    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]
        if isinstance(exc, NotAuthenticated):
            return redirect_to_login(self.request.get_full_path(), login_url=reverse("admin:login"))
        return super().handle_exception(exc)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[ApiDocsAccess]), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path(
        "api/docs/",
        DocsPage.as_view(url_name="schema", permission_classes=[ApiDocsAccess]),
        name="api-docs",
    ),
    path("app/", include("web.urls")),  # the patient web app (issue #16)
    path("api/v1/health/", HealthApi.as_view(), name="health"),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("tracking.urls")),
    # Last: anything else under /api/ is a JSON 404, not Django's HTML page.
    # [\s\S] and \Z: a path with a newline in it is still an API path, and still gets JSON.
    re_path(r"^api/(?P<unmatched>[\s\S]*)\Z", api_not_found),
]

handler500 = "tacro_topical.errors.server_error_handler"
