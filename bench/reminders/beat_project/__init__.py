"""A minimal Django project for the django-celery-beat baseline; runs only in bench/reminders/.venv-beat."""
