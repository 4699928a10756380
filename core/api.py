"""Conventions every API endpoint shares: pagination, the error format, the
mapping of the services' refusals to status codes, and the fields for codes
and money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import ProtectedError
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.relations import SlugRelatedField
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .exceptions import Conflict, InvalidInput, NotAllowed, RowErrors
from .money import MAX_MONEY, MONEY_DIGITS, MONEY_MESSAGE, MONEY_PLACES, InvalidMoney, parse_money


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """InvalidInput → 400 ``{field: [messages]}`` (RowErrors, a batch's bad
    rows: 400 ``{"errors": [{row, field, message}, …]}``); NotAllowed → 403 and
    Conflict → 409, both ``{"detail": …}``; everything else as DRF does it."""
    if isinstance(exc, RowErrors):
        return Response({"errors": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
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


def optional_user_id_field(help_text: str) -> serializers.IntegerField:
    """An optional user id in a request body (null when left out). A number
    beyond bigint is no id: refused here, before the database would fail on it."""
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=2**63 - 1,
        help_text=help_text,
    )


class MoneyField(serializers.DecimalField):
    """An amount of money as a decimal string with two places, checked by
    ``core.money`` (the services' rule) with its one message."""

    default_error_messages = {"invalid": MONEY_MESSAGE}

    def __init__(self, **kwargs: Any) -> None:
        # The bounds are for the schema: parse_money refuses what is outside them.
        super().__init__(
            max_digits=MONEY_DIGITS,
            decimal_places=MONEY_PLACES,
            min_value=Decimal("0"),
            max_value=MAX_MONEY,
            **kwargs,
        )

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return parse_money(data)
        except InvalidMoney:
            self.fail("invalid")


class SignedInReadsAdminWrites(BasePermission):
    """Everyone signed in reads; only CS operations admins (the admin role or a
    superuser) write: people, regions, segments, the root-cause taxonomy."""

    message = "Only CS operations admins may change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_cs_admin
