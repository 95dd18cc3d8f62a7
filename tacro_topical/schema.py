"""OpenAPI documentation that drf-spectacular cannot infer: the shape of a 400, and where a 429 can come from."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import build_mock_request
from rest_framework import serializers
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

FIELD_ERRORS = "FieldErrors"
FIELD_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "Each offending field, with what is wrong and what is allowed. A nested field or a list item "
        "carries its own errors under its name or position; `non_field_errors` is about the whole body; "
        "`detail` alone when the body is not JSON."
    ),
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {"type": "string"}},
            {"$ref": f"#/components/schemas/{FIELD_ERRORS}"},
        ]
    },
}


class FieldErrorsSerializer(serializers.Serializer):
    """Stands for the body of a 400 in the schema (see FIELD_ERRORS_SCHEMA); never used on data."""


class FieldErrorsExtension(OpenApiSerializerExtension):
    """A 400 is keyed by whatever fields the request had, so no serializer can describe it."""

    target_class = FieldErrorsSerializer

    def get_name(self, auto_schema: Any, direction: str) -> str:
        return FIELD_ERRORS

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return FIELD_ERRORS_SCHEMA


ERROR = "Error"  # accounts.serializers.ErrorSerializer's component
ERROR_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}


def document_throttling(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: a 429 on every operation that one of its view's throttles may refuse,
    and the Retry-After header on every 429, so the schema follows the throttles as they change."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(ERROR, ERROR_SCHEMA)
    for path, _path_regex, method, callback in generator.endpoints:
        operation = result["paths"].get(path, {}).get(method.lower())
        if operation is None:
            continue
        view = generator.create_view(callback, method, request)
        if any(may_refuse(throttle, view, method, path) for throttle in view.get_throttles()):
            operation["responses"].setdefault(
                "429",
                {
                    "description": "Too many requests; see Retry-After.",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}},
                },
            )
    for operations in result["paths"].values():
        for operation in operations.values():
            throttled = operation.get("responses", {}).get("429")
            if throttled is not None:
                throttled.setdefault("headers", {}).update(RETRY_AFTER)
    return result


def may_refuse(throttle: BaseThrottle, view: APIView, method: str, path: str) -> bool:
    """Whether `throttle` counts some request to this operation, signed in or not.

    A SimpleRateThrottle says so through get_cache_key, which answers None for a request it lets
    through uncounted (DRF's contract for it); any other throttle may refuse anything.
    """
    if isinstance(throttle, ScopedRateThrottle):
        return getattr(view, throttle.scope_attr, None) is not None
    if not isinstance(throttle, SimpleRateThrottle):
        return True
    for user in (AnonymousUser(), get_user_model()()):
        request = build_mock_request(method, path, view, None)
        request.user = user
        if throttle.get_cache_key(request, view) is not None:
            return True
    return False
