"""A database that is down or restarting answers 503 with Retry-After, never a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailableMiddleware:
    """Turn a lost or refused database connection into 503 + Retry-After, so clients retry.

    Django drops a broken connection at the end of the request (CONN_HEALTH_CHECKS and
    close_if_unusable_or_obsolete), so the service recovers by itself once the database is back.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        # The class only: a driver's message can quote the statement, and with it a patient's data.
        logger.warning("database unavailable: %s on %s %s", type(exception).__name__, request.method, request.path)
        message = "The service is briefly unavailable. Retry after a few seconds; nothing you sent was lost."
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse({"detail": message}, status=503)
        else:
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
