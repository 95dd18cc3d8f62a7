"""What the tracking routes under /api/v1/patients/{patient}/ share: the serializer context with the
patient's clock, and the patient with their zone history read once."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework.request import Request

from accounts.apis import patient_for_request
from accounts.clock import PatientClock
from accounts.models import Patient
from tracking import selectors


def context_for(patient: Patient) -> dict[str, Any]:
    """Serializer context: the patient's clock, so times are echoed on their own wall clock."""
    return {"clock": PatientClock.for_patient(patient)}


def patient_with_clock(request: Request, patient_id: uuid.UUID, *, to_act: bool = False) -> Patient:
    """`patient_for_request`, with the zone history read now, once: the service's PatientClock and the
    answer's share it. Only for views that never change the patient's zone, which would leave it stale."""
    return selectors.zone_history_read(patient_for_request(request, patient_id, to_act=to_act))
