"""Viewsets of people, regions, segments and renewals (docs/api.md).

Everyone signed in reads everything. Admins write people, regions and
segments, and upload renewals (through the renewal importer, like a CSV
file). Customer accounts are served by ``risks.api``.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts import selectors, services
from accounts.ingest import MAX_ROWS, ingest_renewals
from accounts.models import Region, Renewal, Segment, User
from core.api import SignedInReadsAdminWrites
from core.imports import RowErrors
from core.schema import IngestErrorsSerializer, crud_schema, errors

from .filters import RenewalFilter, UserFilter
from .serializers import (
    RegionSerializer,
    RenewalIngestResultSerializer,
    RenewalRowSerializer,
    RenewalSerializer,
    SegmentSerializer,
    UserSerializer,
)


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


@extend_schema_view(
    list=extend_schema(
        summary="List renewals, newest renewal date first",
        responses={200: RenewalSerializer(many=True), **errors(400, 401, 404)},
    )
)
class RenewalViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Renewals: everyone signed in reads; CS operations admins upload."""

    serializer_class = RenewalSerializer
    permission_classes = [SignedInReadsAdminWrites]
    filterset_class = RenewalFilter

    def get_queryset(self) -> QuerySet[Renewal]:
        return selectors.renewal_list()

    @extend_schema(
        summary="Upload renewals in bulk (admins)",
        description=(
            f"A JSON list of at most {MAX_ROWS:,} rows. All or nothing: any bad row and "
            "nothing is written, and every bad row is reported. A row of an (account, "
            "renewal_date) already known replaces that renewal. A churn that is its "
            "account's newest renewal marks the account churned as of the renewal date, "
            "in the same transaction; its risk records are left as they are."
        ),
        request=RenewalRowSerializer(many=True),
        responses={
            200: RenewalIngestResultSerializer,
            400: OpenApiResponse(
                IngestErrorsSerializer,
                description="Nothing was written: every error, by row (0-based) and field.",
                examples=[
                    OpenApiExample(
                        "A downsell that kept its ARR",
                        value={
                            "errors": [
                                {
                                    "row": 2,
                                    "field": "arr_after",
                                    "message": "A downsell ends below the ARR before: arr_after "
                                    "(80000) must be less than arr_before (80000).",
                                }
                            ]
                        },
                        status_codes=["400"],
                    )
                ],
            ),
            **errors(401, 403),
        },
    )
    def create(self, request: Request) -> Response:
        # The importer checks the body as a whole too (a list, at most
        # MAX_ROWS rows) and answers with the same error shape.
        try:
            counts = ingest_renewals(request.data, source="api")
        except RowErrors as failure:
            return Response({"errors": failure.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(RenewalIngestResultSerializer(counts).data)
