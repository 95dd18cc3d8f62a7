"""Cursor pagination, newest first: stable pages while new rows keep arriving from offline sync."""

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request


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
                {self.cursor_query_param: ["Not a cursor from this list; follow a page's next or previous link."]}
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
