"""Viewsets of measures, scorecard lines, observations and health scores, and
an account's health as of a day (docs/api.md).

Everyone signed in reads everything here, as they read every account. CS
operations admins write measures and lines, upload observations and compute
scores now. The views parse the request, call ``health.services`` (or the
importer) and render; refusals are the services' exceptions, which
``core.api.exception_handler`` turns into 400 / 403 / 409.
"""

from __future__ import annotations

from typing import Any

from celery.result import EagerResult
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Account, HealthBand
from core.api import SignedInReadsAdminWrites
from core.imports import RowErrors
from core.schema import IngestErrorsSerializer, crud_schema, error, errors

from .. import services
from ..ingest import MAX_ROWS, ingest_observations
from ..models import HealthScore, Measure, Observation, Threshold
from .filters import HealthScoreFilter, MeasureFilter, ObservationFilter, ThresholdFilter
from .serializers import (
    AccountHealthSerializer,
    AsOfQuerySerializer,
    ComputeJobSerializer,
    ComputeSerializer,
    HealthScoreSerializer,
    IngestResultSerializer,
    MeasureSerializer,
    ObservationRowSerializer,
    ObservationSerializer,
    ThresholdSerializer,
)


def _list(serializer: type, summary: str) -> Any:
    return extend_schema(
        summary=summary, responses={200: serializer(many=True), **errors(400, 401, 404)}
    )


def _one(serializer: type, summary: str) -> Any:
    return extend_schema(summary=summary, responses={200: serializer, **errors(401, 404)})


# --- measures and scorecard lines ---------------------------------------------------------


@crud_schema("measure", MeasureSerializer, filtered=True)
class MeasureViewSet(viewsets.ModelViewSet):
    """Measures: everyone signed in reads; CS operations admins write.

    A measure with observations is never deleted (409): deactivate it."""

    serializer_class = MeasureSerializer
    permission_classes = [SignedInReadsAdminWrites]
    filterset_class = MeasureFilter

    def get_queryset(self) -> QuerySet[Measure]:
        return Measure.objects.select_related("suggested_cause")

    def perform_create(self, serializer: MeasureSerializer) -> None:
        serializer.instance = services.measure_create(
            user=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: MeasureSerializer) -> None:
        serializer.instance = services.measure_update(
            user=self.request.user, measure=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Measure) -> None:
        services.measure_delete(user=self.request.user, measure=instance)


@crud_schema("threshold", ThresholdSerializer, filtered=True)
class ThresholdViewSet(viewsets.ModelViewSet):
    """Scorecard lines: everyone signed in reads; CS operations admins write."""

    serializer_class = ThresholdSerializer
    permission_classes = [SignedInReadsAdminWrites]
    filterset_class = ThresholdFilter

    def get_queryset(self) -> QuerySet[Threshold]:
        return Threshold.objects.select_related("measure", "segment")

    def perform_create(self, serializer: ThresholdSerializer) -> None:
        serializer.instance = services.threshold_create(
            user=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: ThresholdSerializer) -> None:
        serializer.instance = services.threshold_update(
            user=self.request.user, threshold=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Threshold) -> None:
        services.threshold_delete(user=self.request.user, threshold=instance)


# --- observations -------------------------------------------------------------------------


@extend_schema_view(list=_list(ObservationSerializer, "List observations, newest day first"))
class ObservationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Observations: everyone signed in reads; CS operations admins upload."""

    serializer_class = ObservationSerializer
    permission_classes = [SignedInReadsAdminWrites]
    filterset_class = ObservationFilter

    def get_queryset(self) -> QuerySet[Observation]:
        return Observation.objects.select_related("measure")

    @extend_schema(
        summary="Upload observations in bulk (admins)",
        description=(
            f"A JSON list of at most {MAX_ROWS:,} rows. All or nothing: any bad row and "
            "nothing is written, and every bad row is reported. A row of an (account, "
            "measure, observed_on) already known updates its value. The accounts touched "
            "are rescored as of today once the upload is saved."
        ),
        request=ObservationRowSerializer(many=True),
        responses={
            200: IngestResultSerializer,
            400: OpenApiResponse(
                IngestErrorsSerializer,
                description="Nothing was written: every error, by row (0-based) and field.",
                examples=[
                    OpenApiExample(
                        "An unknown measure",
                        value={
                            "errors": [
                                {"row": 3, "field": "measure", "message": "No measure nps2."}
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
            counts = ingest_observations(request.data, source="api")
        except RowErrors as failure:
            return Response({"errors": failure.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(IngestResultSerializer(counts).data)


# --- health scores ------------------------------------------------------------------------


@extend_schema_view(
    list=_list(HealthScoreSerializer, "List stored health scores, newest day first"),
    retrieve=_one(HealthScoreSerializer, "One stored health score"),
)
class HealthScoreViewSet(viewsets.ReadOnlyModelViewSet):
    """Every account's scores by day: everyone signed in reads."""

    serializer_class = HealthScoreSerializer
    filterset_class = HealthScoreFilter

    def get_queryset(self) -> QuerySet[HealthScore]:
        return HealthScore.objects.all()

    def filter_queryset(self, queryset: QuerySet[HealthScore]) -> QuerySet[HealthScore]:
        # The filters narrow the list; a score's own URL finds it whatever the
        # query string says.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(
        summary="Score every account now (admins)",
        description=(
            "Runs the daily scoring for `as_of` (today, UTC, by default; a later day is "
            "refused) at once. 202 with the job: `done` when tasks run in-process (it "
            "finished before the answer), else `queued` for a worker."
        ),
        request=ComputeSerializer,
        responses={202: ComputeJobSerializer, **errors(400, 401, 403)},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def compute(self, request: Request) -> Response:
        body = ComputeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result, day = services.scores_compute(
            user=request.user, as_of=body.validated_data.get("as_of")
        )
        job = {
            "task_id": result.id,
            "status": "done" if isinstance(result, EagerResult) else "queued",
            "as_of": day,
        }
        return Response(ComputeJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class AccountHealthView(APIView):
    """GET /accounts/{id}/health/?as_of=: the account's newest score on or
    before the day. Everyone signed in reads, as for the account itself."""

    @extend_schema(
        summary="An account's health as of a day",
        description=(
            "The newest stored score with `as_of` on or before the day asked for (today, "
            "UTC, by default). An account never scored by then answers 200 with `as_of` "
            "null, `score` null, band `unknown`, `coverage` null and no parts."
        ),
        parameters=[
            OpenApiParameter(
                "as_of",
                OpenApiTypes.DATE,
                description="YYYY-MM-DD; today (UTC) when left out.",
            )
        ],
        responses={
            200: AccountHealthSerializer,
            **errors(400, 401),
            404: error(404, "No such account."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        query = AsOfQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        day = query.validated_data.get("as_of") or timezone.localdate()
        score = HealthScore.objects.filter(account_id=pk, as_of__lte=day).order_by("-as_of").first()
        if score is None:
            if not Account.objects.filter(pk=pk).exists():
                raise NotFound("No such account.")
            score = HealthScore(
                account_id=pk, as_of=None, score=None, band=HealthBand.UNKNOWN, parts={}
            )
            score.coverage = None
            score.computed_at = None
        return Response(AccountHealthSerializer(score).data)
