"""Cursor pagination, newest first: stable pages while new rows keep arriving from offline sync."""

from functools import cached_property
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request: Request) -> Cursor | None:
        """A cursor this API did not hand out is a 400 naming the parameter, not DRF's 404 (no object is missing)."""
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError(
                {
                    self.cursor_query_param: [
                        gettext("Not a cursor from this list; follow a page's next or previous link.")
                    ]
                }
            ) from None

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Every page carries all three keys; `next` and `previous` are null at the ends."""
        link = {
            "type": "string",
            "format": "uri",
            "nullable": True,
            "description": "Another page's URL; null at the end.",
        }
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }


class PagedApi(APIView):
    # A view whose GET answers one page through the project's paginator (`pagination_class`:
    # NewestFirstCursorPagination, or a subclass with its own ordering), with GenericAPIView's method names.
    # Not GenericAPIView itself: DRF's OPTIONS answer would then ask it for a serializer it has none of (a 500).
    # (A comment, not a docstring: drf-spectacular would show a docstring as every route's description.)

    pagination_class: type[NewestFirstCursorPagination] = NewestFirstCursorPagination

    @cached_property
    def paginator(self) -> NewestFirstCursorPagination:
        return self.pagination_class()

    def paginate_queryset(self, rows: QuerySet) -> list[Any]:
        return list(self.paginator.paginate_queryset(rows, self.request, view=self) or [])

    def get_paginated_response(self, data: Any) -> Response:
        return self.paginator.get_paginated_response(data)
