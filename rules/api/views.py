"""Viewsets of risk rules (with their preview and "evaluate now") and of rule
matches (docs/api.md).

Everyone signed in reads rules, previews and backtests them and reads their matches; CS
operations admins write rules and evaluate them now. The views parse the
request, call ``rules.services`` (and ``rules.evaluation.rule_preview``) and
render; refusals are the services' exceptions, which
``core.api.exception_handler`` turns into 400 / 403 / 409.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import SignedInReadsAdminWrites
from core.schema import FIELD_ERRORS_SCHEMA, error, errors
from health.api.serializers import AsOfQuerySerializer

from .. import selectors, services
from ..backtest import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_MONTHS,
    LISTED,
    MAX_HORIZON_DAYS,
    MAX_MONTHS,
)
from ..evaluation import PREVIEW_LIMIT, rule_preview
from ..models import Rule, RuleMatch
from .filters import RuleFilter, RuleMatchFilter
from .serializers import (
    BacktestSerializer,
    EvaluationSerializer,
    PreviewSerializer,
    RuleMatchSerializer,
    RuleSerializer,
)

ADMINS_ONLY = error(403, "Only CS operations admins change risk rules.")
BAD_RULE = OpenApiResponse(
    FIELD_ERRORS_SCHEMA,
    description=(
        "Field errors: `{field: [messages]}`; a condition's parameter is named "
        "`conditions[i].parameter` (i from 0)."
    ),
    examples=[
        OpenApiExample(
            "A percent out of range, and open_risk without a cause",
            value={
                "conditions[1].percent": ["Enter a number greater than -100 and less than 10000."],
                "primary_cause": ["A rule that opens risk records needs their primary cause."],
            },
            status_codes=["400"],
        )
    ],
)
STALE = error(
    409,
    "Someone saved the rule since the `version` sent (`existing` is the rule): reload it.",
)
RULE_RULES = (
    "Admins only. `name`, `conditions` and `actions` are required; the conditions and "
    "the scope are checked as the rule editor checks them. `open_risk` needs a "
    "`primary_cause`. A new rule is inactive unless `active: true` is sent."
)


@extend_schema_view(
    list=extend_schema(
        summary="List risk rules, active ones first",
        description="Active rules first, then by name; each with its recent and open matches.",
        responses={200: RuleSerializer(many=True), **errors(400, 401, 404)},
    ),
    retrieve=extend_schema(
        summary="Get a risk rule", responses={200: RuleSerializer, **errors(401, 404)}
    ),
    create=extend_schema(
        summary="Add a risk rule (admins)",
        description=RULE_RULES,
        request=RuleSerializer,
        responses={201: RuleSerializer, 400: BAD_RULE, **errors(401), 403: ADMINS_ONLY},
    ),
    update=extend_schema(
        summary="Replace a risk rule (admins)",
        description=RULE_RULES
        + " Fields left out take their defaults (`active` false, no scope, no cause). "
        "With `version`, a stale one is refused (409).",
        request=RuleSerializer,
        responses={
            200: RuleSerializer,
            400: BAD_RULE,
            **errors(401),
            403: ADMINS_ONLY,
            404: error(404),
            409: STALE,
        },
    ),
    partial_update=extend_schema(
        summary="Change some fields of a risk rule (admins)",
        description="Admins only. Fields left out keep their values; `conditions` and "
        '`actions`, when sent, replace the lists. `{"active": false}` switches a rule '
        "off. With `version`, a stale one is refused (409).",
        request=RuleSerializer,
        responses={
            200: RuleSerializer,
            400: BAD_RULE,
            **errors(401),
            403: ADMINS_ONLY,
            404: error(404),
            409: STALE,
        },
    ),
    destroy=extend_schema(
        summary="Delete a risk rule that never matched (admins)",
        description="A rule with matches keeps its history: switch it off instead (409).",
        responses={
            204: OpenApiResponse(description="Deleted."),
            **errors(401),
            403: ADMINS_ONLY,
            404: error(404),
            409: error(409, "The rule has matches: switch it off instead."),
        },
    ),
)
class RuleViewSet(viewsets.ModelViewSet):
    """Risk rules: everyone signed in reads and previews; admins write,
    through ``services.rule_create``, ``rule_update`` and ``rule_delete``."""

    serializer_class = RuleSerializer
    filterset_class = RuleFilter
    permission_classes = [SignedInReadsAdminWrites]

    def get_queryset(self) -> QuerySet[Rule]:
        return selectors.rules_with_counts()

    def filter_queryset(self, queryset: QuerySet[Rule]) -> QuerySet[Rule]:
        # The filters narrow the list; a rule's own URL finds it whatever the
        # query string says.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _parse(self, request: Request, *, partial: bool) -> tuple[dict[str, Any], int | None]:
        body = RuleSerializer(data=request.data, partial=partial)
        body.is_valid(raise_exception=True)
        values = dict(body.validated_data)
        version = values.pop("version", None)
        return values, version

    def _represent(self, rule: Rule, status_code: int = status.HTTP_200_OK) -> Response:
        # Reloaded with its match counts.
        fresh = self.get_queryset().get(pk=rule.pk)
        return Response(RuleSerializer(fresh).data, status=status_code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        values, _ = self._parse(request, partial=False)
        rule = services.rule_create(user=request.user, values=values)
        return self._represent(rule, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        rule = self.get_object()
        values, version = self._parse(request, partial=partial)
        rule = services.rule_update(user=request.user, rule=rule, values=values, version=version)
        return self._represent(rule)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.rule_delete(user=request.user, rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The accounts the rule matches now, with the evidence",
        description=(
            "For every signed-in person, active rule or not (preview a rule before "
            "switching it on). The active accounts in the rule's scope for which every "
            f"condition holds as of `as_of`: how many, and the first {PREVIEW_LIMIT}, the "
            "largest ARR first, each with the figures each condition held on (`evidence`) "
            "and the same in words (`explanation`). Nothing is written."
        ),
        parameters=[AsOfQuerySerializer],
        responses={
            200: PreviewSerializer,
            400: error(400, "`as_of` is not a date (YYYY-MM-DD) between 1900 and 9000."),
            409: error(
                409,
                "The rule cannot run: a measure its conditions test was deleted or changed "
                "kind since it was saved. Edit its conditions.",
            ),
            **errors(401, 404),
        },
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def preview(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()
        query = AsOfQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        preview = rule_preview(rule, as_of=query.validated_data.get("as_of"))
        return Response(PreviewSerializer(preview).data)

    @extend_schema(
        summary="Replay the rule on past dates against the churns that followed",
        description=(
            "For every signed-in person, active rule or not. The rule's conditions are "
            "replayed on a date every week back from today (`weeks` = `months` * 52 // 12 "
            "dates), each with only the data known on that date: observations dated on or "
            "before it, health score rows dated on or before it, the renewal dates known "
            "then, and the accounts in the rule's scope not yet churned. `fired` counts the "
            "accounts matched at least once; `churned_after` those of them that churned "
            "within `horizon_days` after their first match; `precision` = churned_after / "
            "fired; `recall` = the share of the window's churns in scope whose account "
            "matched in the `horizon_days` before the churn; `median_lead_days` the median "
            f"days from first match to churn. The first {LISTED} fired accounts are listed. "
            "Nothing is written."
        ),
        parameters=[
            OpenApiParameter(
                "months",
                OpenApiTypes.INT,
                OpenApiParameter.QUERY,
                description=f"How far back to replay: 1 to {MAX_MONTHS} months "
                f"(default {DEFAULT_MONTHS}).",
            ),
            OpenApiParameter(
                "horizon_days",
                OpenApiTypes.INT,
                OpenApiParameter.QUERY,
                description=f"Days after a match in which a churn counts: 1 to "
                f"{MAX_HORIZON_DAYS} (default {DEFAULT_HORIZON_DAYS}).",
            ),
        ],
        responses={
            200: OpenApiResponse(
                BacktestSerializer,
                examples=[
                    OpenApiExample(
                        "Three months, a 60-day horizon",
                        value={
                            "months": 3,
                            "horizon_days": 60,
                            "end": "2026-06-30",
                            "window_start": "2026-04-07",
                            "weeks": 13,
                            "fired": 4,
                            "churned_after": 2,
                            "precision": "0.5000",
                            "churns_in_window": 4,
                            "recalled": 3,
                            "recall": "0.7500",
                            "median_lead_days": "25.0",
                            "weekly": [
                                {"day": "2026-04-07", "matched": 1},
                                {"day": "2026-04-14", "matched": 1},
                            ],
                            "accounts": [
                                {
                                    "id": 41,
                                    "name": "Acme GmbH",
                                    "first_match": "2026-04-21",
                                    "churn_date": "2026-05-21",
                                    "lead_days": 30,
                                }
                            ],
                        },
                        response_only=True,
                    )
                ],
            ),
            400: error(400, "`months` or `horizon_days` is not a whole number in its range."),
            409: error(
                409,
                "The rule cannot run: a measure its conditions test was deleted or changed "
                "kind since it was saved. Edit its conditions.",
            ),
            **errors(401, 404),
        },
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def backtest(self, request: Request, pk: str | None = None) -> Response:
        rule = self.get_object()
        result = services.rule_backtest(
            rule=rule,
            months=request.query_params.get("months"),
            horizon_days=request.query_params.get("horizon_days"),
        )
        return Response(BacktestSerializer(result).data)

    @extend_schema(
        summary="Evaluate every active rule now (admins)",
        description=(
            "What the daily run does, now: each active rule, as of today, clears the "
            "episodes that stopped holding and matches the accounts it newly holds for. "
            "The new matches' actions are taken once the evaluation is saved (by a worker, "
            "or before the answer when tasks run in-process). Always as of today: rules act "
            "on the current signals. What a rule matched on an earlier day is its "
            "preview's to show (`as_of`). No body."
        ),
        request=None,
        responses={200: EvaluationSerializer, **errors(401), 403: ADMINS_ONLY},
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def evaluate(self, request: Request) -> Response:
        result = services.evaluate_now(user=request.user)
        return Response(EvaluationSerializer(result).data)


@extend_schema_view(
    list=extend_schema(
        summary="List rule matches, newest first",
        responses={200: RuleMatchSerializer(many=True), **errors(400, 401, 404)},
    ),
    retrieve=extend_schema(
        summary="Get a rule match", responses={200: RuleMatchSerializer, **errors(401, 404)}
    ),
)
class RuleMatchViewSet(viewsets.ReadOnlyModelViewSet):
    """Rule matches, for everyone signed in. Only evaluations write them."""

    serializer_class = RuleMatchSerializer
    filterset_class = RuleMatchFilter

    def get_queryset(self) -> QuerySet[RuleMatch]:
        return selectors.matches()

    def filter_queryset(self, queryset: QuerySet[RuleMatch]) -> QuerySet[RuleMatch]:
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)
