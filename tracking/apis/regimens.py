"""Regimens under /api/v1/patients/{patient}/regimens/: list, prescribe, read, change, step down."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import patient_for_request
from accounts.models import Patient
from tacro_topical.pagination import NewestFirstCursorPagination, PagedApi
from tracking import selectors, services
from tracking import serializers as shapes
from tracking.apis.shared import read_responses, write_responses
from tracking.models import Regimen


class RegimenPagination(NewestFirstCursorPagination):
    ordering = ("-start_date", "-created_at", "-id")  # type: ignore[assignment]


def regimen_answer(regimen: Regimen, patient: Patient) -> dict[str, Any]:
    return shapes.RegimenSerializer(selectors.regimen_with_usage(patient, regimen.pk)).data


class RegimenListApi(PagedApi):
    pagination_class = RegimenPagination

    @extend_schema(
        operation_id="regimens_list",
        responses=read_responses({200: shapes.RegimenSerializer(many=True)}, with_query=True),
        summary="The patient's regimens, newest first, stepped-down ones included",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_for_request(request, patient_id)
        page = self.paginate_queryset(selectors.regimens_for(patient))
        regimens = selectors.attach_usage(page, patient)
        return self.get_paginated_response(shapes.RegimenSerializer(regimens, many=True).data)

    @extend_schema(
        operation_id="regimens_create",
        request=shapes.RegimenCreateSerializer,
        responses=write_responses({201: shapes.RegimenSerializer}),
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
    regimen = selectors.regimen_of(patient, regimen_id)
    if regimen is None:
        raise Http404
    return patient, regimen


def regimen_change(
    request: Request, patient_id: uuid.UUID, regimen_id: uuid.UUID, shape: type[serializers.Serializer], **options: Any
) -> tuple[Patient, Regimen, dict[str, Any]]:
    """The regimen the caller acts on, and the body validated by `shape`, which reads the regimen from its context."""
    patient, regimen = regimen_for_request(request, patient_id, regimen_id, to_act=True)
    serializer = shape(data=request.data, context={"regimen": regimen}, **options)
    serializer.is_valid(raise_exception=True)
    return patient, regimen, serializer.validated_data


class RegimenDetailApi(APIView):
    @extend_schema(
        operation_id="regimens_retrieve",
        responses=read_responses({200: shapes.RegimenSerializer}),
        summary="One regimen, with its FTU suggestion and tube estimate",
    )
    def get(self, request: Request, patient_id: uuid.UUID, regimen_id: uuid.UUID) -> Response:
        patient, regimen = regimen_for_request(request, patient_id, regimen_id)
        return Response(regimen_answer(regimen, patient))

    @extend_schema(
        operation_id="regimens_partial_update",
        request=shapes.RegimenUpdateSerializer,
        responses=write_responses({200: shapes.RegimenSerializer}),
        summary="Change areas, times, weekdays, end date or tube (drug, strength and phase step down)",
    )
    def patch(self, request: Request, patient_id: uuid.UUID, regimen_id: uuid.UUID) -> Response:
        patient, regimen, changes = regimen_change(
            request, patient_id, regimen_id, shapes.RegimenUpdateSerializer, partial=True
        )
        regimen = services.regimen_update(regimen=regimen, **changes)
        return Response(regimen_answer(regimen, patient))


class RegimenStepDownApi(APIView):
    @extend_schema(
        operation_id="regimens_step_down",
        request=shapes.RegimenStepDownSerializer,
        responses=write_responses({201: shapes.RegimenSerializer}),
        summary="Step down (0.1% to 0.03%, or treatment to maintenance): end this regimen, start the next",
    )
    def post(self, request: Request, patient_id: uuid.UUID, regimen_id: uuid.UUID) -> Response:
        patient, regimen, changes = regimen_change(request, patient_id, regimen_id, shapes.RegimenStepDownSerializer)
        following = services.regimen_step_down(
            regimen=regimen,
            created_by=request.user,  # type: ignore[arg-type]
            **changes,
        )
        return Response(regimen_answer(following, patient), status=status.HTTP_201_CREATED)
