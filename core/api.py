"""Conventions every API endpoint shares (design.md §6): pagination, the error
format, and the mapping of the services' refusals to status codes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.pagination import PageNumberPagination
from rest_framework.relations import SlugRelatedField
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import Conflict, InvalidInput, NotAllowed


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """InvalidInput → 400 ``{field: [messages]}``; NotAllowed → 403 and
    Conflict → 409, both ``{"detail": …}``; everything else as DRF does it."""
    if isinstance(exc, InvalidInput):
        errors = {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.errors.items()
        }
        return Response(errors, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, NotAllowed):
        return Response({"detail": exc.message}, status=status.HTTP_403_FORBIDDEN)
    if isinstance(exc, Conflict):
        body: dict[str, Any] = {"detail": exc.message}
        existing = getattr(exc.existing, "pk", None)
        if existing is not None:
            body["existing"] = existing
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ProtectedError):
        return Response(
            {"detail": "It is still referred to by other records and cannot be deleted."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, PermissionDenied) and str(exc):
        return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
    return drf_exception_handler(exc, context)


class CodeRelatedField(SlugRelatedField):
    """A related object named by its code (region, segment, cause). A value that
    cannot be a code is refused before the query: PostgreSQL fails on strings
    with NUL bytes instead of finding nothing."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        if "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)
