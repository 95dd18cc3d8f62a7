from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tacro_topical.errors import api_not_found
from tacro_topical.health import HealthApi

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/health/", HealthApi.as_view(), name="health"),
    path("api/v1/", include("accounts.urls")),
    path("api/v1/", include("tracking.urls")),
    # Last: anything else under /api/ is a JSON 404, not Django's HTML page.
    # [\s\S] and \Z: a path with a newline in it is still an API path, and still gets JSON.
    re_path(r"^api/(?P<unmatched>[\s\S]*)\Z", api_not_found),
]

handler500 = "tacro_topical.errors.server_error_handler"
