"""The bench's URLs: the floor route first (outside /api/, so the API's catch-all never sees it), then the project's."""

from __future__ import annotations

from typing import cast

from django.urls import URLPattern, URLResolver, path

from bench.api_load import views
from tacro_topical.urls import urlpatterns as project_urlpatterns

FLOOR_PATH = "bench/floor/patients/<uuid:patient_id>/applications/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(FLOOR_PATH, views.floor_application, name="bench-floor-application"),
    *cast("list[URLPattern | URLResolver]", project_urlpatterns),
]

handler500 = "tacro_topical.errors.server_error_handler"
