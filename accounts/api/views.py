"""Viewsets of people, regions, segments and customer accounts (docs/api.md).

Everyone signed in reads everything. Admins write people, regions and
segments; accounts are written by admins and, for their own team, by managers
(accounts/rules.py).
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from accounts import services
from accounts.models import Region, Segment, User
from core.api import SignedInReadsAdminWrites
from core.schema import crud_schema

from .filters import UserFilter
from .serializers import RegionSerializer, SegmentSerializer, UserSerializer


class ApiViewSet(viewsets.ModelViewSet):
    """Base of the accounts-side viewsets (authentication as in REST_FRAMEWORK)."""


@crud_schema("user", UserSerializer, filtered=True)
class UserViewSet(ApiViewSet):
    """People: everyone signed in reads; CS operations admins write."""

    serializer_class = UserSerializer
    permission_classes = [SignedInReadsAdminWrites]
    filterset_class = UserFilter

    def get_queryset(self) -> QuerySet[User]:
        return User.objects.select_related("region").order_by("username", "pk")

    def perform_destroy(self, instance: User) -> None:
        services.user_delete(user=self.request.user, person=instance)

    def perform_update(self, serializer: BaseSerializer) -> None:
        if serializer.validated_data.get("is_active") is False:
            services.ensure_may_deactivate(user=self.request.user, person=serializer.instance)
        serializer.save()


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
