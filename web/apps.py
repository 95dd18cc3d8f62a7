from django.apps import AppConfig


class WebConfig(AppConfig):
    """The patient web app (issue #16): static ES modules served by Django under /app/, no build step."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "web"
    verbose_name = "Patient web app"
