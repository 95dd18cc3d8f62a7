"""The API's request parser."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, with a body nested too deeply for Python's parser a 400, not a 500.

    json.loads recurses once per level and raises RecursionError near a thousand levels; no body
    this API takes is nested more than a few levels deep.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(gettext("the body is nested too deeply")) from None
