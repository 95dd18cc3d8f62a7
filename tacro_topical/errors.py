"""One shape for API errors: 400s name each field by its path, nothing under /api/ answers with HTML."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import server_error
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler with one body shape for every error (the schema's `Error`).

    A 400 maps each offending field's path to its messages (`errors_by_field_path`); Django
    ValidationErrors from services become such 400s. Any other error is `{"detail": "..."}`:
    simplejwt's 401s also carry `code` and `messages`, which no client contract declares.
    """
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, exceptions.ParseError):
        exc = exceptions.ParseError(
            gettext(
                "The request body is not valid JSON ({problem}). "
                "Send a JSON object with Content-Type: application/json."
            ).format(problem=exc.detail)
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = errors_by_field_path(response.data)
    elif isinstance(response.data, dict) and set(response.data) != {"detail"}:
        response.data = {"detail": str(response.data.get("detail", gettext("The request was refused.")))}
    return response


def errors_by_field_path(detail: Any, path: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as one flat map: each offending field's path to its messages.

    `{"times": {1: [...]}}` becomes `{"times[1]": [...]}`, a list serializer's third item
    `items[2].amount_ftu`, a nested object's field `quiet_hours.start`. Errors about an object as a
    whole are filed under the object's own path, or `non_field_errors` at the top.
    """
    if isinstance(detail, dict):
        found: dict[str, list[str]] = {}
        for key, inner in detail.items():
            found |= errors_by_field_path(inner, _field_path(path, key))
        return found
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        found = {}
        for position, inner in enumerate(detail):
            found |= errors_by_field_path(inner, f"{path}[{position}]")
        return found
    messages = detail if isinstance(detail, list) else [detail]
    if not messages:
        return {}
    return {path or api_settings.NON_FIELD_ERRORS_KEY: [str(message) for message in messages]}


def _field_path(parent: str, key: Any) -> str:
    if key in (NON_FIELD_ERRORS, api_settings.NON_FIELD_ERRORS_KEY):
        return parent  # about the object itself: its own path, or non_field_errors at the top
    if isinstance(key, int) or (parent and str(key).isdigit()):
        return f"{parent}[{key}]"  # a list item; DRF keys a ListField's errors by position
    return f"{parent}.{key}" if parent else str(key)


@csrf_exempt  # it changes nothing; without this a POST to an unknown route would get CSRF's HTML 403
def api_not_found(request: HttpRequest, unmatched: str = "") -> JsonResponse:
    """Unknown routes under /api/ answer JSON, like every other API error."""
    return JsonResponse({"detail": gettext("Not found: no API route matches this path.")}, status=404)


def server_error_handler(request: HttpRequest) -> HttpResponse:
    """Should an unexpected error ever escape, API clients still get JSON, and no stack trace."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": gettext("Internal server error. The error was logged.")}, status=500)
    return server_error(request)
