"""Regimens, logs, sync and adherence under /api/v1/patients/{patient}/. Thin: validate, call one
service or selector, answer. Who may see or act for the patient is decided by `patient_for_request`."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, cast

from django.db.models import prefetch_related_objects
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import patient_for_request
from accounts.clock import PatientClock
from accounts.models import Patient, User
from tacro_topical.errors import errors_by_field_path
from tacro_topical.pagination import NewestFirstCursorPagination
from tacro_topical.schema import FORBIDDEN, NOT_FOUND, UNAUTHENTICATED, VALIDATION_ERROR, ErrorSerializer
from tracking import rules, selectors, services
from tracking import serializers as shapes
from tracking.models import Application, PoemEntry, Regimen, SkinCheck, Symptom
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


def context_for(patient: Patient) -> dict[str, Any]:
    """Serializer context: the patient's clock, so times are echoed on their own wall clock."""
    return {"clock": PatientClock.for_patient(patient)}


def patient_with_clock(request: Request, patient_id: uuid.UUID, *, to_act: bool = False) -> Patient:
    """`patient_for_request`, with the zone history read now, once: the service's PatientClock and the
    answer's share it. Only for views that never change the patient's zone, which would leave it stale."""
    patient = patient_for_request(request, patient_id, to_act=to_act)
    prefetch_related_objects([patient], "timezone_changes")
    return patient


# --- Regimens ------------------------------------------------------------------------------------


class RegimenPagination(NewestFirstCursorPagination):
    ordering = ("-start_date", "-created_at", "-id")  # type: ignore[assignment]


def regimen_answer(regimen: Regimen, patient: Patient) -> dict[str, Any]:
    annotated = selectors.regimens_for(patient).get(pk=regimen.pk)
    return shapes.RegimenSerializer(selectors.attach_usage([annotated], patient)[0]).data


class RegimenListApi(APIView):
    pagination_class = RegimenPagination

    @extend_schema(
        operation_id="regimens_list",
        responses={
            200: shapes.RegimenSerializer(many=True),
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
        },
        summary="The patient's regimens, newest first, stepped-down ones included",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_for_request(request, patient_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.regimens_for(patient), request, view=self)
        regimens = selectors.attach_usage(list(page or []), patient)
        return paginator.get_paginated_response(shapes.RegimenSerializer(regimens, many=True).data)

    @extend_schema(
        operation_id="regimens_create",
        request=shapes.RegimenCreateSerializer,
        responses={
            201: shapes.RegimenSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        summary="Record a prescription the patient follows",
    )
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_for_request(request, patient_id, to_act=True)
        serializer = shapes.RegimenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        regimen = services.regimen_prescribe(
            patient=patient,
            created_by=request.user,  # type: ignore[arg-type]
            **serializer.validated_data,
        )
        return Response(regimen_answer(regimen, patient), status=status.HTTP_201_CREATED)


def regimen_for_request(
    request: Request, patient_id: uuid.UUID, regimen_id: uuid.UUID, *, to_act: bool = False
) -> tuple[Patient, Regimen]:
    patient = patient_for_request(request, patient_id, to_act=to_act)
    regimen = Regimen.objects.filter(patient=patient, pk=regimen_id).select_related("patient").first()
    if regimen is None:
        raise Http404
    return patient, regimen


class RegimenDetailApi(APIView):
    @extend_schema(
        operation_id="regimens_retrieve",
        responses={200: shapes.RegimenSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary="One regimen, with its FTU suggestion and tube estimate",
    )
    def get(self, request: Request, patient_id: uuid.UUID, regimen_id: uuid.UUID) -> Response:
        patient, regimen = regimen_for_request(request, patient_id, regimen_id)
        return Response(regimen_answer(regimen, patient))

    @extend_schema(
        operation_id="regimens_partial_update",
        request=shapes.RegimenUpdateSerializer,
        responses={
            200: shapes.RegimenSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        summary="Change areas, times, weekdays, end date or tube (drug, strength and phase step down)",
    )
    def patch(self, request: Request, patient_id: uuid.UUID, regimen_id: uuid.UUID) -> Response:
        patient, regimen = regimen_for_request(request, patient_id, regimen_id, to_act=True)
        serializer = shapes.RegimenUpdateSerializer(data=request.data, partial=True, context={"regimen": regimen})
        serializer.is_valid(raise_exception=True)
        regimen = services.regimen_update(regimen=regimen, **serializer.validated_data)
        return Response(regimen_answer(regimen, patient))


class RegimenStepDownApi(APIView):
    @extend_schema(
        operation_id="regimens_step_down",
        request=shapes.RegimenStepDownSerializer,
        responses={
            201: shapes.RegimenSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        summary="Step down (0.1% to 0.03%, or treatment to maintenance): end this regimen, start the next",
    )
    def post(self, request: Request, patient_id: uuid.UUID, regimen_id: uuid.UUID) -> Response:
        patient, regimen = regimen_for_request(request, patient_id, regimen_id, to_act=True)
        serializer = shapes.RegimenStepDownSerializer(data=request.data, context={"regimen": regimen})
        serializer.is_valid(raise_exception=True)
        following = services.regimen_step_down(
            regimen=regimen,
            created_by=request.user,  # type: ignore[arg-type]
            **serializer.validated_data,
        )
        return Response(regimen_answer(following, patient), status=status.HTTP_201_CREATED)


# --- Logs ----------------------------------------------------------------------------------------


class LogFilterSerializer(serializers.Serializer):
    since = shapes.AwareDateTimeField(required=False, help_text="Only logs at or after this time (with offset).")
    until = shapes.AwareDateTimeField(required=False, help_text="Only logs at or before this time (with offset).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("since") and attrs.get("until") and attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"until": "until must not be before since."})
        return attrs


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

    def answer(self, entry: PatientLog, patient: Patient, **kwargs: Any) -> Response:
        return Response(self.output_serializer(entry, context=context_for(patient)).data, **kwargs)


def result_response(result: LogResult, output: type[serializers.Serializer], patient: Patient) -> Response:
    """201 for a new log, 200 with the stored entry for a replay, 409 for a changed or foreign id."""
    context = context_for(patient)
    if result.outcome == Outcome.CREATED:
        return Response(output(result.entry, context=context).data, status=status.HTTP_201_CREATED)
    if result.outcome == Outcome.DUPLICATE:
        return Response(output(result.entry, context=context).data, status=status.HTTP_200_OK)
    body: dict[str, Any] = {"detail": result.detail}
    if result.entry is not None:
        body["stored"] = output(result.entry, context=context).data
    return Response(body, status=status.HTTP_409_CONFLICT)


class LogListApi(LogApi):
    pagination_class = NewestFirstCursorPagination

    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_with_clock(request, patient_id)
        filters = LogFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        paginator.ordering = (f"-{self.model.EVENT_TIME}", "-id")
        logs = selectors.logs_for(self.model, patient, **filters.validated_data)
        page = paginator.paginate_queryset(logs, request, view=self)
        data = self.output_serializer(page, many=True, context=context_for(patient)).data
        return paginator.get_paginated_response(data)

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
        return result_response(result, self.output_serializer, patient)


class LogDetailApi(LogApi):
    def entry(
        self, request: Request, patient_id: uuid.UUID, log_id: uuid.UUID, *, to_act: bool = False, clock: bool = True
    ) -> tuple[Patient, PatientLog]:
        find = patient_with_clock if clock else patient_for_request
        patient = find(request, patient_id, to_act=to_act)
        entry = selectors.logs_for(self.model, patient).filter(pk=log_id).first()
        if entry is None:
            raise Http404
        return patient, entry

    def get(self, request: Request, patient_id: uuid.UUID, log_id: uuid.UUID) -> Response:
        patient, entry = self.entry(request, patient_id, log_id)
        return self.answer(entry, patient)

    def patch(self, request: Request, patient_id: uuid.UUID, log_id: uuid.UUID) -> Response:
        patient, entry = self.entry(request, patient_id, log_id, to_act=True)
        serializer = self.correction_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        entry = services.log_correct(entry=entry, user=request.user, changes=dict(serializer.validated_data))  # type: ignore[arg-type]
        return self.answer(entry, patient)

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
        responses={200: output_serializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary=f"The patient's {what}, newest first; times in the patient's zone",
    )
    list_methods["post"] = documented(
        LogListApi.post,
        operation_id=f"{name}_create",
        request=input_serializer,
        responses={
            201: OpenApiResponse(output_serializer, description="Stored."),
            200: OpenApiResponse(output_serializer, description="Already stored with the same content: the entry."),
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: conflict_response(output_serializer),
        },
        summary=f"Log one of the patient's {what} (idempotent on the client's id)",
    )

    detail_methods = {}
    detail_methods["get"] = documented(
        LogDetailApi.get,
        operation_id=f"{name}_retrieve",
        responses={200: output_serializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary=f"One of the patient's {what}",
    )
    detail_methods["patch"] = documented(
        LogDetailApi.patch,
        operation_id=f"{name}_partial_update",
        request=correction_serializer,
        responses={
            200: output_serializer,
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: OpenApiResponse(
                ErrorSerializer, description="Not the creator, a clinician, or past 24 hours (then only the note)."
            ),
            404: NOT_FOUND,
        },
        summary="Correct a log within 24 hours of logging it; after that, only its note",
    )
    detail_methods["delete"] = documented(
        LogDetailApi.delete,
        operation_id=f"{name}_destroy",
        responses={
            204: OpenApiResponse(description="Deleted."),
            401: UNAUTHENTICATED,
            403: OpenApiResponse(ErrorSerializer, description="Not the creator, a clinician, or past 24 hours."),
            404: NOT_FOUND,
        },
        summary="Delete a log within 24 hours of logging it (its id cannot be reused)",
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


# --- Sync ----------------------------------------------------------------------------------------

SYNC_KINDS: tuple[tuple[str, type[PatientLog], type[serializers.Serializer]], ...] = (
    # Applications first: a symptom in the same batch may link to one of them.
    ("applications", Application, shapes.ApplicationInputSerializer),
    ("symptoms", Symptom, shapes.SymptomInputSerializer),
    ("poem", PoemEntry, shapes.PoemInputSerializer),
    ("skin_checks", SkinCheck, shapes.SkinCheckInputSerializer),
)


class SyncItemResultSerializer(serializers.Serializer):
    id = serializers.CharField(allow_null=True, help_text="The item's id as sent (null when it had none).")
    status = serializers.ChoiceField(choices=[outcome.value for outcome in Outcome])
    errors = serializers.DictField(  # type: ignore[assignment]  # a field here, not Serializer.errors
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="For an invalid item: each offending field by its path within the item (`body_areas[1]`), "
        "with what is wrong and what is allowed. For a conflict: `detail`.",
    )


class SyncBatchSerializer(serializers.Serializer):
    """Logs written offline, by type; any key may be left out. Each item is checked and stored on its own."""

    applications = shapes.ApplicationInputSerializer(many=True, required=False)
    symptoms = shapes.SymptomInputSerializer(many=True, required=False)
    poem = shapes.PoemInputSerializer(many=True, required=False)
    skin_checks = shapes.SkinCheckInputSerializer(many=True, required=False)


class SyncResponseSerializer(serializers.Serializer):
    applications = SyncItemResultSerializer(many=True, required=False)
    symptoms = SyncItemResultSerializer(many=True, required=False)
    poem = SyncItemResultSerializer(many=True, required=False)
    skin_checks = SyncItemResultSerializer(many=True, required=False)


class SyncApi(APIView):
    @extend_schema(
        operation_id="sync",
        request=SyncBatchSerializer,
        responses={
            200: SyncResponseSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        summary="Store a batch written offline: each item on its own, a status per item in request order",
    )
    def post(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_with_clock(request, patient_id, to_act=True)
        batches = sync_batches(request.data)
        answer: dict[str, list[dict[str, Any]]] = {}
        for key, model, input_serializer in SYNC_KINDS:
            if key in batches:
                answer[key] = sync_kind(batches[key], model, input_serializer, patient, request.user)  # type: ignore[arg-type]
        return Response(answer)


def sync_batches(data: Any) -> dict[str, list[Any]]:
    """The lists in a sync body; a wrong shape or an oversized batch is a 400 for the whole request."""
    known = {key for key, _model, _serializer in SYNC_KINDS}
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Send a JSON object: {applications: [...], ...}."]})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(data) - known):
        errors[key] = [f"Unknown key. Allowed: {', '.join(sorted(known))}."]
    for key in known & set(data):
        if not isinstance(data[key], list):
            errors[key] = ["A list of items."]
    if errors:
        raise serializers.ValidationError(errors)
    total = sum(len(data[key]) for key in known & set(data))
    if total > rules.SYNC_MAX_ITEMS:
        raise serializers.ValidationError(
            {"non_field_errors": [f"At most {rules.SYNC_MAX_ITEMS} items per request ({total} sent); split the batch."]}
        )
    return {key: data[key] for key in known & set(data)}


def sync_kind(
    items: list[Any],
    model: type[PatientLog],
    input_serializer: type[serializers.Serializer],
    patient: Patient,
    user: User,
) -> list[dict[str, Any]]:
    """Validate each item alone, store the valid ones in one go, and answer in request order."""
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
        answers[position] = answer
    return answers  # type: ignore[return-value]


# --- Adherence -----------------------------------------------------------------------------------

# A month inside the calendar's ends: every zone's day around these dates, and the 28-day default
# before them, stay representable (a date in year 1 or 9999 must be a 400, not a 500).
ADHERENCE_EARLIEST = datetime.date(1, 2, 1)
ADHERENCE_LATEST = datetime.date(9999, 11, 30)
ADHERENCE_RANGE_MESSAGE = f"Give a date from {ADHERENCE_EARLIEST} to {ADHERENCE_LATEST}."


class AdherenceQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword: the field is declared under it through the fields dict below.
    to = serializers.DateField(required=False, help_text="Last local date, included; default today.")

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False, help_text="First local date; default 27 days before to.")
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        patient: Patient = self.context["patient"]
        outside = [
            name
            for name in ("from", "to")
            if name in attrs and not ADHERENCE_EARLIEST <= attrs[name] <= ADHERENCE_LATEST
        ]
        if outside:
            raise serializers.ValidationError(dict.fromkeys(outside, ADHERENCE_RANGE_MESSAGE))
        last = attrs.get("to") or patient.local_today()
        first = attrs.get("from") or last - datetime.timedelta(days=27)
        if first > last:
            raise serializers.ValidationError({"from": "from must not be after to."})
        if (last - first).days + 1 > rules.MAX_ADHERENCE_DAYS:
            raise serializers.ValidationError(
                {"from": f"At most {rules.MAX_ADHERENCE_DAYS} days per request; ask for a shorter range."}
            )
        return {"first": first, "last": last}


class AdherenceDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    expected = serializers.IntegerField()
    logged = serializers.IntegerField()


class AdherenceSerializer(serializers.Serializer):
    to = serializers.DateField(source="last")
    expected_doses = serializers.IntegerField()
    logged_doses = serializers.IntegerField()
    adherence_pct = serializers.FloatField(allow_null=True, help_text="Null when no dose was due.")
    current_streak_days = serializers.IntegerField(help_text="Fully adherent days in a row, up to today.")
    days = AdherenceDaySerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields = {"from": serializers.DateField(source="first"), **fields}
        return fields


class AdherenceApi(APIView):
    @extend_schema(
        operation_id="adherence",
        parameters=[
            OpenApiParameter("from", datetime.date, description="First local date (YYYY-MM-DD); default to - 27 days."),
            OpenApiParameter("to", datetime.date, description="Last local date, included; default today."),
        ],
        responses={200: AdherenceSerializer, 400: VALIDATION_ERROR, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary="Logged over expected doses per local date, and the current streak",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_for_request(request, patient_id)
        query = AdherenceQuerySerializer(data=request.query_params, context={"patient": patient})
        query.is_valid(raise_exception=True)
        report = selectors.adherence_for(patient, **query.validated_data)
        return Response(AdherenceSerializer(report).data)
