"""OpenAPI documentation that drf-spectacular cannot infer: the one error shape, and where a 429 can come from."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import build_mock_request
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

ERROR = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "The body of every error. `detail` says in plain words what went wrong (401, 403, 404, 429, and a "
        "400 whose body could not be read). A 400 about the request's fields names each offending field "
        "by its path instead (`email`, `times[1]`, `quiet_hours.start`, `applications[3].amount_ftu`), each "
        "with what is wrong and what is allowed; `non_field_errors` is about the body as a whole."
    ),
    "properties": {"detail": {"type": "string", "description": "What went wrong, in plain words."}},
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


class ErrorSerializer(serializers.Serializer):
    """Stands for an error body in the schema (see ERROR_SCHEMA); never used on data."""


class ErrorExtension(OpenApiSerializerExtension):
    """A 400 is keyed by whatever fields the request had, so no plain serializer can describe it."""

    target_class = ErrorSerializer

    def get_name(self, auto_schema: Any, direction: str) -> str:
        return ERROR

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return ERROR_SCHEMA


VALIDATION_ERROR = OpenApiResponse(
    ErrorSerializer, description="Each offending field by its path, with what is wrong and what is allowed."
)
UNAUTHENTICATED = OpenApiResponse(ErrorSerializer, description="No valid credentials.")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="The caller's role does not allow this.")
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such object, or the caller may not see it.")
THROTTLED = OpenApiResponse(ErrorSerializer, description="Too many requests; see Retry-After.")
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}}


def lib_doc_excludes() -> list[type]:
    """Base classes whose docstrings speak to developers, not API clients: drf-spectacular stops
    there when it looks for a component's or an operation's description."""
    from drf_spectacular.plumbing import get_lib_doc_excludes

    from tacro_topical.serializers import ModelSerializer, RejectUnknownFields

    return [*get_lib_doc_excludes(), ModelSerializer, RejectUnknownFields]


def document_throttling(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: a 429 on every operation that one of its view's throttles may refuse,
    and the Retry-After header on every 429, so the schema follows the throttles as they change.
    Also `security: []` on the operations anyone may call."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(ERROR, ERROR_SCHEMA)
    for path, _path_regex, method, callback in generator.endpoints:
        operation = result["paths"].get(path, {}).get(method.lower())
        if operation is None:
            continue
        view = generator.create_view(callback, method, request)
        if all(isinstance(permission, AllowAny) for permission in view.get_permissions()):
            # Anyone may call it: no security requirement, so generated clients need no token for it.
            operation["security"] = []
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
