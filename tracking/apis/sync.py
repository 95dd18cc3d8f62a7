"""Sync under /api/v1/patients/{patient}/sync/: a batch of logs written offline, each item stored on
its own, a status per item in request order."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Patient, User
from tacro_topical.errors import errors_by_field_path
from tracking import rules, services
from tracking import serializers as shapes
from tracking.apis.shared import caller_language, patient_with_clock, write_responses
from tracking.models import Application, PoemEntry, SkinCheck, Symptom
from tracking.models.logs import PatientLog
from tracking.services import Outcome

SYNC_KINDS: tuple[tuple[str, type[PatientLog], type[serializers.Serializer]], ...] = (
    # Applications first: a symptom in the same batch may link to one of them.
    ("applications", Application, shapes.ApplicationInputSerializer),
    ("symptoms", Symptom, shapes.SymptomInputSerializer),
    ("poem", PoemEntry, shapes.PoemInputSerializer),
    ("skin_checks", SkinCheck, shapes.SkinCheckInputSerializer),
)


class SyncApi(APIView):
    @extend_schema(
        operation_id="sync",
        request=shapes.SyncBatchSerializer,
        responses=write_responses({200: shapes.SyncResponseSerializer}),
        summary="Store a batch written offline: each item on its own, a status per item in request order",
    )
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_with_clock(request, patient_id, to_act=True)
        batches = sync_batches(request.data)
        language = caller_language(request)
        answer: dict[str, list[dict[str, Any]]] = {}
        for key, model, input_serializer in SYNC_KINDS:
            if key in batches:
                answer[key] = sync_kind(batches[key], model, input_serializer, patient, request.user, language)  # type: ignore[arg-type]
        return Response(answer)


def sync_batches(data: Any) -> dict[str, list[Any]]:
    """The lists in a sync body; a wrong shape or an oversized batch is a 400 for the whole request."""
    known = {key for key, _model, _serializer in SYNC_KINDS}
    if not isinstance(data, dict):
        raise serializers.ValidationError(
            {"non_field_errors": [gettext("Send a JSON object: {applications: [...], ...}.")]}
        )
    errors: dict[str, list[str]] = {}
    for key in sorted(set(data) - known):
        errors[key] = [gettext("Unknown key. Allowed: {keys}.").format(keys=", ".join(sorted(known)))]
    for key in known & set(data):
        if not isinstance(data[key], list):
            errors[key] = [gettext("A list of items.")]
    if errors:
        raise serializers.ValidationError(errors)
    total = sum(len(data[key]) for key in known & set(data))
    if total > rules.SYNC_MAX_ITEMS:
        raise serializers.ValidationError(
            {
                "non_field_errors": [
                    gettext("At most {most} items per request ({total} sent); split the batch.").format(
                        most=rules.SYNC_MAX_ITEMS, total=total
                    )
                ]
            }
        )
    return {key: data[key] for key in known & set(data)}


def sync_kind(
    items: list[Any],
    model: type[PatientLog],
    input_serializer: type[serializers.Serializer],
    patient: Patient,
    user: User,
    language: str | None = None,
) -> list[dict[str, Any]]:
    """Validate each item alone, store the valid ones in one go, and answer in request order.

    A skin check reporting an urgent sign carries the patient's `advice` (in `language`), as its route answers.
    """
    answers: list[dict[str, Any] | None] = [None] * len(items)
    valid: list[tuple[int, dict[str, Any]]] = []
    for position, item in enumerate(items):
        serializer = input_serializer(data=item)
        if serializer.is_valid():
            valid.append((position, dict(serializer.validated_data)))
        else:
            item_id = item.get("id") if isinstance(item, dict) else None
            answers[position] = {
                "id": str(item_id) if item_id is not None else None,
                "status": Outcome.INVALID.value,
                "errors": errors_by_field_path(serializer.errors),
            }
    results = services.logs_record(model=model, patient=patient, created_by=user, items=[item for _, item in valid])
    for (position, _item), result in zip(valid, results, strict=True):
        answer: dict[str, Any] = {"id": str(result.id), "status": result.outcome.value}
        if result.outcome == Outcome.INVALID:
            answer["errors"] = result.errors
        elif result.outcome == Outcome.CONFLICT:
            answer["errors"] = {"detail": [result.detail]}
        if isinstance(result.entry, SkinCheck) and result.outcome != Outcome.CONFLICT:
            advice = shapes.skin_check_advice(result.entry, language)
            if advice is not None:
                answer["advice"] = advice
        answers[position] = answer
    return answers  # type: ignore[return-value]
