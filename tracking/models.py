"""Regimens, logs, reminders and alerts arrive here with issue #3 and #4."""
