"""The Celery app. Tasks live in each app's tasks.py, and in each concern's within tracking, found by autodiscovery."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tacro_topical.settings")

app = Celery("tacro_topical")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# tracking is one app split by concern (shared/DESIGN.md, Layout): each concern keeps its tasks beside its services.
app.autodiscover_tasks(["tracking.reminders", "tracking.notifications", "tracking.alerts"])


def ensure_filesystem_broker_folders(celery_app: Celery = app) -> None:
    """Create the folders kombu's filesystem transport needs; it does not create them itself."""
    options = celery_app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@app.on_after_configure.connect
def _prepare_filesystem_broker(sender: Celery, **kwargs: object) -> None:
    if str(sender.conf.broker_url).startswith("filesystem://"):
        ensure_filesystem_broker_folders(sender)
