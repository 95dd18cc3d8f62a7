"""Me, patients and care-team endpoints, and the door every /patients/{patient}/ route goes through.

Thin: validate, call one service or selector, answer. Sign-in and passwords are accounts/auth_apis.py's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.http import Http404
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import AccessChannel, Patient, Role, User
from accounts.selectors import patient_visible_to, patients_actable_by, patients_visible_to
from accounts.serializers import (
    CareTeamJoinSerializer,
    CareTeamMemberSerializer,
    DependentCreateSerializer,
    MeUpdateSerializer,
    PatientSerializer,
    PatientUpdateSerializer,
    UserSerializer,
)
from tacro_topical.pagination import NewestFirstCursorPagination, PagedApi
from tacro_topical.schema import (
    FORBIDDEN,
    NOT_FOUND,
    THROTTLED,
    UNAUTHENTICATED,
    VALIDATION_ERROR,
)
from tacro_topical.throttles import ScopedRateThrottle


def patient_for_request(request: Request, patient_id: uuid.UUID, *, to_act: bool = False) -> Patient:
    """The patient a /patients/{patient}/ route names, or 404 if the caller may not see them.

    With `to_act`, a caller who may see but not act for the patient (a reviewing clinician) gets 403.
    """
    found = patient_visible_to(request.user, patient_id)
    if found is None:
        raise Http404
    patient, may_act = found
    if to_act and not may_act:
        raise exceptions.PermissionDenied(gettext("Only the patient or their caregivers may change this."))
    record_api_access(request, [patient.pk])
    return patient


def record_api_access(request: Request, patient_ids: Iterable[uuid.UUID]) -> None:
    """Audit a clinician's request on these patients' data: the operation and the path."""
    match = request.resolver_match
    operation = f"{request.method} {match.view_name if match else request.path}"
    services.access_record(
        viewer=request.user,
        patient_ids=patient_ids,
        channel=AccessChannel.API,
        what=operation,
        path=services.audited_path(request),
    )


def user_answer(user: User, request: Request) -> dict[str, Any]:
    actable = patients_actable_by(user).order_by("created_at")
    return UserSerializer(user, context={"request": request, "actable_patients": actable}).data


class MeApi(APIView):
    @extend_schema(
        operation_id="me",
        responses={200: UserSerializer, 401: UNAUTHENTICATED},
        summary="The signed-in user, their role and the patients they may act for",
    )
    def get(self, request: Request) -> Response:
        return Response(user_answer(request.user, request))  # type: ignore[arg-type]

    @extend_schema(
        operation_id="me_partial_update",
        request=MeUpdateSerializer,
        responses={200: UserSerializer, 400: VALIDATION_ERROR, 401: UNAUTHENTICATED},
        summary="Change the signed-in user's names or language",
        description="E-mails to the account are written in `language` (`en` or `ar`).",
    )
    def patch(self, request: Request) -> Response:
        serializer = MeUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(user=request.user, **serializer.validated_data)  # type: ignore[arg-type]
        return Response(user_answer(user, request))


class PatientPagination(NewestFirstCursorPagination):
    ordering = ("created_at", "id")


class PatientListApi(PagedApi):
    pagination_class = PatientPagination

    @extend_schema(
        operation_id="patients_list",
        responses={200: PatientSerializer(many=True), 400: VALIDATION_ERROR, 401: UNAUTHENTICATED},
        summary="The patients the caller may act for or review",
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(patients_visible_to(request.user))
        record_api_access(request, [patient.pk for patient in page])
        return self.get_paginated_response(PatientSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_create_dependent",
        request=DependentCreateSerializer,
        responses={201: PatientSerializer, 400: VALIDATION_ERROR, 401: UNAUTHENTICATED, 403: FORBIDDEN},
        summary="A caregiver adds a dependent (a child without a login)",
    )
    def post(self, request: Request) -> Response:
        if getattr(request.user, "role", None) != Role.CAREGIVER:
            raise exceptions.PermissionDenied(gettext("Only caregivers add dependents."))
        serializer = DependentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        patient = services.patient_create_dependent(
            caregiver=request.user,  # type: ignore[arg-type]
            first_name=data["first_name"],
            last_name=data["last_name"],
            birth_date=data["birth_date"],
            timezone_name=data["timezone"],
            condition=data["condition"],
        )
        return Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailApi(APIView):
    @extend_schema(
        operation_id="patients_retrieve",
        responses={200: PatientSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
        summary="One patient",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        return Response(PatientSerializer(patient_for_request(request, patient_id)).data)

    @extend_schema(
        operation_id="patients_partial_update",
        request=PatientUpdateSerializer,
        responses={
            200: PatientSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
        },
        summary="Change a patient's details (the patient or a caregiver)",
    )
    def patch(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_for_request(request, patient_id, to_act=True)
        serializer = PatientUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        patient = services.patient_update(patient=patient, **serializer.validated_data)
        return Response(PatientSerializer(patient).data)


class CareTeamJoinApi(APIView):
    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "care_team_join"

    @extend_schema(
        operation_id="care_team_join",
        request=CareTeamJoinSerializer,
        responses={
            200: CareTeamMemberSerializer,
            400: VALIDATION_ERROR,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            429: THROTTLED,
        },
        summary="Add the dermatologist who issued a join code to a patient's care team",
    )
    def post(self, request: Request) -> Response:
        if getattr(request.user, "role", None) not in (Role.PATIENT, Role.CAREGIVER):
            raise exceptions.PermissionDenied(gettext("Only patients and caregivers join a care team."))
        serializer = CareTeamJoinSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = patient_for_request(request, serializer.validated_data["patient"], to_act=True)
        membership = services.care_team_join(code=serializer.validated_data["code"], patient=patient)
        return Response(CareTeamMemberSerializer(membership).data)
