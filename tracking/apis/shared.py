"""What the tracking routes under /api/v1/patients/{patient}/ share: the serializer context with the
patient's clock, the patient with their zone history read once, and the documented answers of a
read and of a write (reminders/apis.py uses these too)."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework.request import Request

from accounts.apis import patient_for_request
from accounts.auth_apis import language_of
from accounts.clock import PatientClock
from accounts.models import Language, Patient
from tacro_topical.schema import FORBIDDEN, NOT_FOUND, UNAUTHENTICATED, VALIDATION_ERROR
from tracking import selectors


def context_for(patient: Patient, request: Request | None = None) -> dict[str, Any]:
    """Serializer context: the patient's clock, so times are echoed on their own wall clock; with the
    request, the caller's language for what the answer says in words (a skin check's advice)."""
    context: dict[str, Any] = {"clock": PatientClock.for_patient(patient)}
    if request is not None:
        context["language"] = caller_language(request)
    return context


def caller_language(request: Request) -> str:
    """The language the caller reads: User.language, or, while that is still the default (English), the
    first language of settings.LANGUAGES their Accept-Language asks for (API.md, PATCH me)."""
    chosen = getattr(request.user, "language", Language.ENGLISH)
    return chosen if chosen != Language.ENGLISH else language_of(request)


def patient_with_clock(request: Request, patient_id: uuid.UUID, *, to_act: bool = False) -> Patient:
    """`patient_for_request`, with the zone history read now, once: the service's PatientClock and the
    answer's share it. Only for views that never change the patient's zone, which would leave it stale."""
    return selectors.zone_history_read(patient_for_request(request, patient_id, to_act=to_act))


def read_responses(answers: dict[int, Any], *, with_query: bool = False) -> dict[int, Any]:
    """A read's documented answers: its own (`answers`), then 401 and 404 (a patient the caller may not see);
    `with_query` adds 400 for query parameters (filters, a cursor)."""
    return {**answers, **({400: VALIDATION_ERROR} if with_query else {}), 401: UNAUTHENTICATED, 404: NOT_FOUND}


def write_responses(answers: dict[int, Any]) -> dict[int, Any]:
    """A write's documented answers: its own (`answers`), then 400, 401, 403 (a caller who may see the patient
    but not act for them, such as a reviewing clinician) and 404."""
    return {**answers, 400: VALIDATION_ERROR, 401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND}
