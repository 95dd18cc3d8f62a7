"""Events other apps react to. accounts knows nothing of reminders; tracking listens for these."""

from django.dispatch import Signal

# Sent with `patient` after a patient's time zone changed and was saved: schedules follow the new zone.
patient_timezone_changed = Signal()
