"""What is up: the database and the broker, for load balancers and on-call."""

from __future__ import annotations

import functools
import logging
import time

from django.db import DatabaseError, connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tacro_topical.celery import app as celery_app
from tacro_topical.throttles import HealthRateThrottle

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
BROKER_TIMEOUT_SECONDS = 2
# A load balancer polls every few seconds from several nodes: each process asks the broker at most once
# per this many seconds, instead of opening a broker connection for every poll.
BROKER_CHECK_SECONDS = 5


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        logger.warning("health: database unavailable (%s)", type(error).__name__)
        return False
    return True


def broker_ok() -> bool:
    """Whether the broker answered, asked at most once per BROKER_CHECK_SECONDS per broker URL and process."""
    # Wall-clock windows: a clock step only moves one check a little, and tests can travel in time.
    window = int(time.time() // BROKER_CHECK_SECONDS)
    return broker_answered(str(celery_app.conf.broker_url), window)


# One entry: a new window (or another broker URL) replaces the last answer.
@functools.lru_cache(maxsize=1)
def broker_answered(broker_url: str, window: int) -> bool:
    """Whether the broker answers now; `broker_url` and `window` are the memo's key only."""
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as error:  # any transport's own error: the answer is "unavailable" either way
        logger.warning("health: broker unavailable (%s)", type(error).__name__)
        return False
    return True


HealthSerializer = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "degraded"]),
        "database": serializers.CharField(help_text='"ok" or "unavailable"'),
        "broker": serializers.CharField(help_text='"ok" or "unavailable"'),
    },
)


class HealthApi(APIView):
    """200 when the database and the broker answer; 503 with Retry-After when either does not."""

    permission_classes = (AllowAny,)
    authentication_classes = ()
    throttle_classes = (HealthRateThrottle,)

    @extend_schema(
        operation_id="health",
        responses={200: HealthSerializer, 503: HealthSerializer},
        summary="Whether the database and the broker answer",
    )
    def get(self, request: Request) -> Response:
        checks = {"database": database_ok(), "broker": broker_ok()}
        healthy = all(checks.values())
        body = {"status": "ok" if healthy else "degraded"}
        body |= {name: "ok" if up else "unavailable" for name, up in checks.items()}
        headers = {} if healthy else {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return Response(body, status=200 if healthy else 503, headers=headers)
