from django.urls import path

from web import views

app_name = "web"

urlpatterns = [
    path("", views.app_shell, name="shell"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
]
