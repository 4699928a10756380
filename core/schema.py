"""OpenAPI descriptions of the error bodies every endpoint can answer with
(``core.api.exception_handler`` produces them), so that each operation lists
its error codes with one shared shape per kind of error."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.serializers import BaseSerializer


class ErrorDetailSerializer(serializers.Serializer):
    """The body of 401, 403, 404, 405 and 429 answers."""

    detail = serializers.CharField()


class ConflictSerializer(serializers.Serializer):
    """409 body: what conflicts, and the id of the object it conflicts with
    (the open record already on the account, the edited record) when there is one."""

    detail = serializers.CharField()
    existing = serializers.IntegerField(required=False)


class RowErrorSerializer(serializers.Serializer):
    """One bad row of a bulk upload (core.imports.RowError)."""

    row = serializers.IntegerField(
        allow_null=True, help_text="Index of the row in the list sent (0-based), or null."
    )
    field = serializers.CharField(allow_null=True, help_text="The row's field, or null.")
    message = serializers.CharField()


class IngestErrorsSerializer(serializers.Serializer):
    """400 body of a bulk upload (core.imports.RowErrors): nothing was written."""

    errors = RowErrorSerializer(many=True)


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
    """The documented answer ``code`` with its body's shape."""
    if code == 400:
        body: object = FIELD_ERRORS_SCHEMA
    elif code == 409:
        body = ConflictSerializer
    else:
        body = ErrorDetailSerializer
    return OpenApiResponse(response=body, description=description or DESCRIPTIONS[code])


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: error(code) for code in codes}


def crud_schema(noun: str, serializer: type[BaseSerializer], *, filtered: bool) -> Any:
    """Summaries, bodies and error codes of the five operations of a resource."""
    plural = f"{noun}s" if not noun.endswith("y") else f"{noun[:-1]}ies"
    list_errors = (400, 401, 404) if filtered else (401, 404)
    a_noun = f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"
    return extend_schema_view(
        list=extend_schema(
            summary=f"List {plural}",
            responses={200: serializer(many=True), **errors(*list_errors)},
        ),
        retrieve=extend_schema(
            summary=f"One {noun}", responses={200: serializer, **errors(401, 404)}
        ),
        create=extend_schema(
            summary=f"Create {a_noun}",
            request=serializer,
            responses={201: serializer, **errors(400, 401, 403)},
        ),
        update=extend_schema(
            summary=f"Replace {a_noun}",
            request=serializer,
            responses={200: serializer, **errors(400, 401, 403, 404)},
        ),
        partial_update=extend_schema(
            summary=f"Change some fields of {a_noun}",
            request=serializer,
            responses={200: serializer, **errors(400, 401, 403, 404)},
        ),
        destroy=extend_schema(
            summary=f"Delete {a_noun}",
            responses={
                204: OpenApiResponse(description="Deleted."),
                **errors(401, 403, 404),
                409: error(409, f"The {noun} is still referred to by other records; kept."),
            },
        ),
    )
