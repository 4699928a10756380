"""OpenAPI descriptions of the error bodies every endpoint can answer with
(config/api.py produces them), so that each operation lists its error codes."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    """The body of 401, 403, 404, 405, 409 and 429 answers."""

    detail = serializers.CharField()


# 400: {field: [messages]}, with "non_field_errors" for errors of no single
# field. A body that cannot be parsed answers {"detail": "…"} instead.
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": 'Field name → list of messages ("non_field_errors" for the whole input).',
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
    },
}

DESCRIPTIONS = {
    400: "Invalid input: messages per field.",
    401: "Not signed in: send a session cookie or `Authorization: Token <key>`.",
    403: "Signed in, but your role may not do this (or the CSRF token is missing).",
    404: "No such object (or no such page).",
    409: "Conflict: the object is still referred to by other records.",
}


def error(code: int, description: str | None = None) -> OpenApiResponse:
    body = FIELD_ERRORS_SCHEMA if code == 400 else ErrorDetailSerializer
    return OpenApiResponse(response=body, description=description or DESCRIPTIONS[code])


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: error(code) for code in codes}
