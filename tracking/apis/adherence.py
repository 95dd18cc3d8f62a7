"""Adherence under /api/v1/patients/{patient}/adherence/: logged over expected doses per local date."""

from __future__ import annotations

import datetime
import uuid

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import patient_for_request
from tracking import rules, selectors
from tracking import serializers as shapes
from tracking.apis.shared import read_responses


class AdherenceApi(APIView):
    @extend_schema(
        operation_id="adherence",
        parameters=[
            OpenApiParameter(
                "from",
                datetime.date,
                description=f"First local date (YYYY-MM-DD); default to - {rules.ADHERENCE_DEFAULT_DAYS - 1} days.",
            ),
            OpenApiParameter("to", datetime.date, description="Last local date, included; default today."),
        ],
        responses=read_responses({200: shapes.AdherenceSerializer}, with_query=True),
        summary="Logged over expected doses per local date, and the current streak",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        patient = patient_for_request(request, patient_id)
        query = shapes.AdherenceQuerySerializer(data=request.query_params, context={"patient": patient})
        query.is_valid(raise_exception=True)
        report = selectors.adherence_for(patient, **query.validated_data)
        return Response(shapes.AdherenceSerializer(report).data)
