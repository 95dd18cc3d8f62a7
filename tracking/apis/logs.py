"""The four log types under /api/v1/patients/{patient}/: applications, symptoms, POEM and skin checks,
each with a list/create and a detail route (read, correct, delete)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, cast

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import patient_for_request
from accounts.models import Patient
from tacro_topical.pagination import NewestFirstCursorPagination, PagedApi
from tacro_topical.schema import NOT_FOUND, UNAUTHENTICATED, ErrorSerializer
from tracking import rules, selectors, services
from tracking import serializers as shapes
from tracking.apis.shared import context_for, patient_with_clock, read_responses, write_responses
from tracking.models import Application, PoemEntry, SkinCheck, Symptom
from tracking.models.logs import PatientLog
from tracking.services import LogResult, Outcome


def conflict_response(output_serializer: type[serializers.Serializer]) -> OpenApiResponse:
    """A 409: the error shape's `detail`, and `stored`, typed as the log type's own answer."""
    name = output_serializer.__name__.removesuffix("Serializer")
    return OpenApiResponse(
        inline_serializer(
            f"{name}Conflict",
            {
                "detail": serializers.CharField(help_text="What went wrong, in plain words."),
                "stored": output_serializer(required=False, help_text="The entry as kept, when it is this patient's."),
            },
        ),
        description="The id is already used with different content (or by another log); `stored` is the entry "
        "as kept, when it is this patient's.",
    )


HOURS = rules.LOG_CORRECTION_HOURS  # a log's creator may correct or delete it for this long

LOG_FILTERS = [
    OpenApiParameter("since", datetime.datetime, description="ISO 8601 with offset: logs at or after it."),
    OpenApiParameter("until", datetime.datetime, description="ISO 8601 with offset: logs at or before it."),
]


class LogApi(APIView):
    # What the four log routes share; each subclass names its model and shapes. (A comment, not a
    # docstring: drf-spectacular would show a docstring to API clients as every route's description.)

    model: ClassVar[type[PatientLog]]
    input_serializer: ClassVar[type[serializers.Serializer]]
    correction_serializer: ClassVar[type[serializers.Serializer]]
    output_serializer: ClassVar[type[serializers.Serializer]]

    def answer(self, request: Request, entry: PatientLog, patient: Patient, **kwargs: Any) -> Response:
        return Response(self.output_serializer(entry, context=context_for(patient, request)).data, **kwargs)


def result_response(
    request: Request, result: LogResult, output: type[serializers.Serializer], patient: Patient
) -> Response:
    """201 for a new log, 200 with the stored entry for a replay, 409 for a changed or foreign id."""
    context = context_for(patient, request)
    if result.outcome == Outcome.CREATED:
        return Response(output(result.entry, context=context).data, status=status.HTTP_201_CREATED)
    if result.outcome == Outcome.DUPLICATE:
        return Response(output(result.entry, context=context).data, status=status.HTTP_200_OK)
    body: dict[str, Any] = {"detail": result.detail}
    if result.entry is not None:
        body["stored"] = output(result.entry, context=context).data
    return Response(body, status=status.HTTP_409_CONFLICT)


class EventTimePagination(NewestFirstCursorPagination):
    """Newest first by when it happened: the view's log type names that field (`EVENT_TIME`)."""

    def get_ordering(self, request: Request, queryset: QuerySet, view: APIView | None) -> tuple[str, ...]:
        model: type[PatientLog] = view.model  # type: ignore[union-attr]
        return (f"-{model.EVENT_TIME}", "-id")


class LogListApi(LogApi, PagedApi):
    pagination_class = EventTimePagination

    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_with_clock(request, patient_id)
        filters = shapes.LogFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.logs_for(self.model, patient, **filters.validated_data))
        context = context_for(patient, request)
        return self.get_paginated_response(self.output_serializer(page, many=True, context=context).data)

    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_with_clock(request, patient_id, to_act=True)
        serializer = self.input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.log_record(
            model=self.model,
            patient=patient,
            created_by=request.user,  # type: ignore[arg-type]
            item=dict(serializer.validated_data),
        )
        return result_response(request, result, self.output_serializer, patient)


class LogDetailApi(LogApi):
    def entry(
        self, request: Request, patient_id: uuid.UUID, log_id: uuid.UUID, *, to_act: bool = False, clock: bool = True
    ) -> tuple[Patient, PatientLog]:
        find = patient_with_clock if clock else patient_for_request
        patient = find(request, patient_id, to_act=to_act)
        entry = selectors.log_of(self.model, patient, log_id)
        if entry is None:
            raise Http404
        return patient, entry

    def get(self, request: Request, patient_id: uuid.UUID, log_id: uuid.UUID) -> Response:
        patient, entry = self.entry(request, patient_id, log_id)
        return self.answer(request, entry, patient)

    def patch(self, request: Request, patient_id: uuid.UUID, log_id: uuid.UUID) -> Response:
        patient, entry = self.entry(request, patient_id, log_id, to_act=True)
        serializer = self.correction_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        entry = services.log_correct(entry=entry, user=request.user, changes=dict(serializer.validated_data))  # type: ignore[arg-type]
        return self.answer(request, entry, patient)

    def delete(self, request: Request, patient_id: uuid.UUID, log_id: uuid.UUID) -> Response:
        _patient, entry = self.entry(request, patient_id, log_id, to_act=True, clock=False)  # no answer to build
        services.log_delete(entry=entry, user=request.user)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)


def documented(method: Callable[..., Response], **schema: Any) -> Callable[..., Response]:
    """A copy of a shared view method carrying one route's schema: extend_schema marks the
    function it is given, so each log type needs its own function object."""

    def view_method(self: APIView, *args: Any, **kwargs: Any) -> Response:
        return method(self, *args, **kwargs)

    view_method.__name__ = method.__name__
    return extend_schema(**schema)(view_method)


def log_routes(
    name: str,
    model: type[PatientLog],
    input_serializer: type[serializers.Serializer],
    correction_serializer: type[serializers.Serializer],
    output_serializer: type[serializers.Serializer],
    what: str,
) -> tuple[type[LogListApi], type[LogDetailApi]]:
    """The list/create and detail views of one log type, with their OpenAPI documentation."""
    attrs: dict[str, Any] = {
        "model": model,
        "input_serializer": input_serializer,
        "correction_serializer": correction_serializer,
        "output_serializer": output_serializer,
    }
    list_methods = {}
    list_methods["get"] = documented(
        LogListApi.get,
        operation_id=f"{name}_list",
        parameters=LOG_FILTERS,
        responses=read_responses({200: output_serializer(many=True)}, with_query=True),
        summary=f"The patient's {what}, newest first; times in the patient's zone",
    )
    list_methods["post"] = documented(
        LogListApi.post,
        operation_id=f"{name}_create",
        request=input_serializer,
        responses={
            **write_responses(
                {
                    201: OpenApiResponse(output_serializer, description="Stored."),
                    200: OpenApiResponse(
                        output_serializer, description="Already stored with the same content: the entry."
                    ),
                }
            ),
            409: conflict_response(output_serializer),
        },
        summary=f"Log one of the patient's {what} (idempotent on the client's id)",
    )

    detail_methods = {}
    detail_methods["get"] = documented(
        LogDetailApi.get,
        operation_id=f"{name}_retrieve",
        responses=read_responses({200: output_serializer}),
        summary=f"One of the patient's {what}",
    )
    detail_methods["patch"] = documented(
        LogDetailApi.patch,
        operation_id=f"{name}_partial_update",
        request=correction_serializer,
        responses={
            **write_responses({200: output_serializer}),
            403: OpenApiResponse(
                ErrorSerializer,
                description=f"Not the creator, a clinician, or past {HOURS} hours (then only the note).",
            ),
        },
        summary=f"Correct a log within {HOURS} hours of logging it; after that, only its note",
    )
    detail_methods["delete"] = documented(
        LogDetailApi.delete,
        operation_id=f"{name}_destroy",
        responses={
            204: OpenApiResponse(description="Deleted."),
            401: UNAUTHENTICATED,
            403: OpenApiResponse(ErrorSerializer, description=f"Not the creator, a clinician, or past {HOURS} hours."),
            404: NOT_FOUND,
        },
        summary=f"Delete a log within {HOURS} hours of logging it (its id cannot be reused)",
    )
    list_api = cast(type[LogListApi], type(f"{model.__name__}ListApi", (LogListApi,), attrs | list_methods))
    detail_api = cast(type[LogDetailApi], type(f"{model.__name__}DetailApi", (LogDetailApi,), attrs | detail_methods))
    return list_api, detail_api


ApplicationListApi, ApplicationDetailApi = log_routes(
    "applications",
    Application,
    shapes.ApplicationInputSerializer,
    shapes.ApplicationCorrectionSerializer,
    shapes.ApplicationSerializer,
    "ointment applications",
)
SymptomListApi, SymptomDetailApi = log_routes(
    "symptoms",
    Symptom,
    shapes.SymptomInputSerializer,
    shapes.SymptomCorrectionSerializer,
    shapes.SymptomSerializer,
    "symptom scores (burning, itch, flare severity)",
)
PoemListApi, PoemDetailApi = log_routes(
    "poem",
    PoemEntry,
    shapes.PoemInputSerializer,
    shapes.PoemCorrectionSerializer,
    shapes.PoemSerializer,
    "POEM entries",
)
SkinCheckListApi, SkinCheckDetailApi = log_routes(
    "skin_checks",
    SkinCheck,
    shapes.SkinCheckInputSerializer,
    shapes.SkinCheckCorrectionSerializer,
    shapes.SkinCheckSerializer,
    "skin self-checks",
)
