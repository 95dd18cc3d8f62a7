"""WSGI entry point (gunicorn tacro_topical.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tacro_topical.settings")

application = get_wsgi_application()
