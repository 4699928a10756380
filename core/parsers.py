"""The API's request parser. A module of its own: DRF loads it from the
settings while other API modules are still being imported."""

from __future__ import annotations

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested too deeply for Python's parser is a
    400 like any other malformed JSON, not a RecursionError (a 500); and so is a
    NUL character in any string, which PostgreSQL would refuse."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        if _has_nul(data):
            raise ParseError("The request contains a NUL character, which no field accepts.")
        return data


def _has_nul(data: Any) -> bool:
    """Any NUL in the strings (keys too) of a parsed JSON document. Iterative:
    a deep document must not hit the recursion limit here either."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
