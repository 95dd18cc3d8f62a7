"""One shape for API errors: 400s name each field, nothing under /api/ answers with HTML."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import server_error
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus Django ValidationErrors from services turned into field-keyed 400s."""
    if isinstance(exc, DjangoValidationError):
        detail = as_serializer_error(exc)
        # Django files errors about the whole object under "__all__"; clients know DRF's key.
        if NON_FIELD_ERRORS in detail:
            detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, exceptions.ParseError):
        exc = exceptions.ParseError(
            f"The request body is not valid JSON ({exc.detail}). "
            "Send a JSON object with Content-Type: application/json."
        )
    return exception_handler(exc, context)


@csrf_exempt  # it changes nothing; without this a POST to an unknown route would get CSRF's HTML 403
def api_not_found(request: HttpRequest, unmatched: str = "") -> JsonResponse:
    """Unknown routes under /api/ answer JSON, like every other API error."""
    return JsonResponse({"detail": "Not found: no API route matches this path."}, status=404)


def server_error_handler(request: HttpRequest) -> HttpResponse:
    """Should an unexpected error ever escape, API clients still get JSON, and no stack trace."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Internal server error. The error was logged."}, status=500)
    return server_error(request)
