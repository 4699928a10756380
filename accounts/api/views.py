"""Viewsets of people, regions, segments and customer accounts (design.md §6).

Everyone signed in reads everything (§3). Admins write people, regions and
segments; accounts are written by admins and, for their own team, by managers
(accounts/rules.py).
"""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.serializers import BaseSerializer

from accounts import rules
from accounts.filters import AccountFilter
from accounts.models import Account, Region, Segment, User
from risks.models import RiskRecord, RiskStatus

from .filters import UserFilter
from .schema import error, errors
from .serializers import AccountSerializer, RegionSerializer, SegmentSerializer, UserSerializer


class SignedInReadsAdminWrites(permissions.BasePermission):
    message = "Only CS operations admins may change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or user.is_cs_admin


class AccountPermission(permissions.BasePermission):
    """accounts/rules.py decides; this only asks it at the right moments."""

    message = "Only CS operations admins and managers may change customer accounts."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or rules.may_write_accounts(user)

    def has_object_permission(self, request: Request, view: Any, obj: Account) -> bool:
        if request.method in permissions.SAFE_METHODS or rules.may_change_account(
            request.user, obj
        ):
            return True
        self.message = "Managers may only change the accounts of their own team."
        return False


class ApiViewSet(viewsets.ModelViewSet):
    """Base of the accounts-side viewsets (authentication as in REST_FRAMEWORK)."""


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


@crud_schema("user", UserSerializer, filtered=True)
class UserViewSet(ApiViewSet):
    """People: everyone signed in reads; CS operations admins write."""

    serializer_class = UserSerializer
    permission_classes = [SignedInReadsAdminWrites]
    filterset_class = UserFilter

    def get_queryset(self) -> QuerySet[User]:
        return User.objects.select_related("region").order_by("username", "pk")

    def perform_destroy(self, instance: User) -> None:
        # An admin deleting their own user would lose access in mid-session,
        # possibly leaving no admin at all; another admin has to do it.
        if instance.pk == self.request.user.pk:
            raise PermissionDenied("You cannot delete yourself.")
        instance.delete()


@crud_schema("region", RegionSerializer, filtered=False)
class RegionViewSet(ApiViewSet):
    """Regions and their weekly review slot: everyone reads; admins write."""

    serializer_class = RegionSerializer
    permission_classes = [SignedInReadsAdminWrites]

    def get_queryset(self) -> QuerySet[Region]:
        return Region.objects.order_by("code", "pk")


@crud_schema("segment", SegmentSerializer, filtered=False)
class SegmentViewSet(ApiViewSet):
    """Customer segments: everyone reads; admins write."""

    serializer_class = SegmentSerializer
    permission_classes = [SignedInReadsAdminWrites]

    def get_queryset(self) -> QuerySet[Segment]:
        return Segment.objects.order_by("name", "pk")


def account_api_queryset() -> QuerySet[Account]:
    """Accounts with their region, segment and CSM joined, and ``open_risk_id``
    annotated by a subquery (at most one open record exists per account)."""
    open_risk = RiskRecord.objects.filter(account=OuterRef("pk"), status=RiskStatus.OPEN)
    return Account.objects.select_related("region", "segment", "csm").annotate(
        open_risk_id=Subquery(open_risk.values("pk")[:1])
    )


@crud_schema("account", AccountSerializer, filtered=True)
class AccountViewSet(ApiViewSet):
    """Customer accounts: everyone signed in reads; admins write any account.

    A manager may create, change and delete only the accounts owned by
    themselves or by their team (people whose manager they are), and may only
    make themselves or a team member the CSM; anything else is 403. CSMs and
    reviewers only read.
    """

    # The rule itself is accounts/rules.py; AccountPermission and _check_csm ask it.

    serializer_class = AccountSerializer
    permission_classes = [AccountPermission]
    filterset_class = AccountFilter

    def get_queryset(self) -> QuerySet[Account]:
        return account_api_queryset()

    def _check_csm(self, serializer: BaseSerializer) -> None:
        csm = serializer.validated_data.get("csm")
        if csm is not None and not rules.may_assign_csm(self.request.user, csm):
            raise PermissionDenied("Managers may only give accounts to themselves or their team.")

    def perform_create(self, serializer: BaseSerializer) -> None:
        self._check_csm(serializer)
        serializer.save()

    def perform_update(self, serializer: BaseSerializer) -> None:
        self._check_csm(serializer)
        serializer.save()
