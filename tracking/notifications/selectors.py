"""Reads that deciding and wording a notification need."""

from __future__ import annotations

import datetime

from accounts.models import Patient
from tracking.models import Regimen
from tracking.selectors import regimen_usage, regimens_for


def estimated_empty_date(regimen: Regimen, patient: Patient, on: datetime.date) -> datetime.date | None:
    """The tube estimate as of `on`, from the applications logged by now (one query)."""
    return regimen_usage(regimens_for(patient).get(pk=regimen.pk), patient, on).empty_date
