"""The three reports in the API (docs/api.md): ``reports/outcomes/``,
``reports/open-risk/`` and ``reports/trend/``, as JSON or, with
``?format=csv``, as a CSV download with the same columns as the UI's.

The views only parse the query string and render what ``reports.selectors``
computes; a bad parameter is its ``InvalidInput``, a 400 naming what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.csv_files import csv_download
from core.exceptions import InvalidInput
from core.schema import FIELD_ERRORS_SCHEMA, ErrorDetailSerializer

from . import selectors as reports

FORMATS = ("json", "csv")


# --- representations ------------------------------------------------------------------------


def money_field() -> serializers.DecimalField:
    # max_digits=None: a sum over many records may pass the 14 digits of one amount.
    return serializers.DecimalField(max_digits=None, decimal_places=2)


def rate_field(help_text: str) -> serializers.FloatField:
    """A rate of the learning reports: a JSON number, or null."""
    return serializers.FloatField(allow_null=True, help_text=help_text)


def as_float(value: Any) -> float | None:
    """A rate as a JSON number, rounded as the report rounded it."""
    return None if value is None else float(value)


@extend_schema_field(
    {
        "oneOf": [{"type": "string"}, {"type": "integer"}],
        "nullable": True,
        "description": (
            "What the row groups by: a cause code (null: no secondary cause), a "
            "category slug, a region or segment code, the highest tier, the CSM's "
            "user id, a month `YYYY-MM` or a quarter `YYYY-Qn`. Null on the totals."
        ),
    }
)
class GroupKeyField(serializers.Field):
    def to_representation(self, value: Any) -> Any:
        return value


class OutcomeRowSerializer(serializers.Serializer):
    key = GroupKeyField()
    label = serializers.CharField()
    saved = serializers.IntegerField()
    churned = serializers.IntegerField()
    withdrawn = serializers.IntegerField()
    save_rate = serializers.FloatField(
        allow_null=True,
        help_text="saved / (saved + churned), four places; null when both are 0.",
    )
    arr_saved = money_field()
    arr_lost = money_field()
    median_days_to_close = serializers.FloatField(
        allow_null=True,
        help_text="Median of closed_at - opened_at in days, one place; null without records.",
    )

    def to_representation(self, instance: reports.OutcomeRow) -> dict[str, Any]:
        data = super().to_representation(instance)
        # Floats for JSON numbers, rounded as the report rounded them.
        data["save_rate"] = None if instance.save_rate is None else float(instance.save_rate)
        data["median_days_to_close"] = (
            None if instance.median_days_to_close is None else float(instance.median_days_to_close)
        )
        return data


class OutcomesSerializer(serializers.Serializer):
    group_by = serializers.ChoiceField(choices=list(reports.GROUP_BY))
    rows = OutcomeRowSerializer(many=True)
    totals = OutcomeRowSerializer()


class OpenRiskRowSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="Renewal month `YYYY-MM` or quarter `YYYY-Qn`.")
    tier = serializers.IntegerField()
    count = serializers.IntegerField()
    arr_at_risk = money_field()


class TierTotalSerializer(serializers.Serializer):
    tier = serializers.IntegerField()
    count = serializers.IntegerField()
    arr_at_risk = money_field()


class OpenRiskTotalsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    arr_at_risk = money_field()


class OpenRiskSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=list(reports.PERIODS))
    periods = serializers.ListField(child=serializers.CharField())
    rows = OpenRiskRowSerializer(many=True)
    by_tier = TierTotalSerializer(many=True)
    totals = OpenRiskTotalsSerializer()


class TrendRowSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="Month closed, `YYYY-MM`.")
    category = serializers.CharField()
    category_label = serializers.CharField()
    saved = serializers.IntegerField()
    churned = serializers.IntegerField()
    arr_saved = money_field()
    arr_lost = money_field()


class TrendCategorySerializer(serializers.Serializer):
    category = serializers.CharField()
    label = serializers.CharField()


class TrendSerializer(serializers.Serializer):
    months = serializers.ListField(
        child=serializers.CharField(), help_text="First to last month, without gaps."
    )
    categories = TrendCategorySerializer(many=True)
    rows = TrendRowSerializer(many=True)


# --- schema pieces ---------------------------------------------------------------------------


def query_parameter(
    name: str,
    description: str,
    *,
    type: Any = OpenApiTypes.STR,
    enum: Iterable[str] | None = None,
) -> OpenApiParameter:
    return OpenApiParameter(
        name=name,
        type=type,
        location=OpenApiParameter.QUERY,
        description=description,
        enum=list(enum) if enum is not None else None,
    )


FILTER_PARAMETERS = [
    query_parameter("region", "Region code; only accounts of that region."),
    query_parameter("segment", "Segment code; only accounts of that segment."),
]
CLOSED_PARAMETERS = [
    query_parameter(
        "closed_after",
        "Closed on or after this date (YYYY-MM-DD, server time zone).",
        type=OpenApiTypes.DATE,
    ),
    query_parameter(
        "closed_before",
        "Closed on or before this date (YYYY-MM-DD, server time zone).",
        type=OpenApiTypes.DATE,
    ),
]
FORMAT_PARAMETER = query_parameter(
    "format", "`csv` for a CSV download with the same columns; JSON by default.", enum=FORMATS
)
BAD_QUERY = OpenApiResponse(
    FIELD_ERRORS_SCHEMA,
    description="A parameter is not valid; the message says what is allowed.",
)
UNAUTHENTICATED = OpenApiResponse(ErrorDetailSerializer, description="Not signed in.")


def report_responses(serializer: type[serializers.Serializer], csv_description: str) -> dict:
    return {
        (200, "application/json"): serializer,
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=csv_description),
        (400, "application/json"): BAD_QUERY,
        (401, "application/json"): UNAUTHENTICATED,
    }


def _filters_only(query: Mapping[str, str]) -> tuple[str, reports.ReportFilters]:
    return reports.parse_report_query(query, allow_group_by=False)


# --- views ----------------------------------------------------------------------------------


class ReportView(APIView):
    """GET only. JSON unless ``?format=csv``. DRF would read ``format`` for
    content negotiation (and answer 404 for an unknown one); here JSON is the
    only renderer and the view answers ``format=csv`` itself, so errors stay
    JSON even for a CSV request."""

    permission_classes = [IsAuthenticated]
    filename = "report"

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    def parse(
        self, request: Request, *parsers: Callable[[Mapping[str, str]], Any]
    ) -> tuple[bool, list[Any]]:
        """Whether CSV is asked for, and what each parser makes of the query
        string; every bad parameter is reported in one 400."""
        errors: dict[str, list[str]] = {}
        value = (request.query_params.get("format") or "json").strip()
        if value not in FORMATS:
            errors["format"] = [f"Unknown format {value!r}; use one of: json, csv."]
        parsed = []
        for parser in parsers:
            try:
                parsed.append(parser(request.query_params))
            except InvalidInput as invalid:
                errors.update(invalid.errors)
        if errors:
            raise InvalidInput(errors)
        return value == "csv", parsed

    def csv_response(self, lines: Iterable[list[str]], filename: str) -> HttpResponse:
        return csv_download(lines, filename)


class OutcomesReportView(ReportView):
    @extend_schema(
        summary="Outcomes report: saves, churn and withdrawals of closed records",
        description=(
            "Records closed in the period, one row per group, sorted by key, and a "
            "totals row. `arr_lost` counts the ARR of churned records and what a "
            "downsell gave up (`arr_at_risk - arr_retained` of saved ones); withdrawn "
            "records count in neither nor in `save_rate`."
        ),
        parameters=[
            query_parameter(
                "group_by",
                "What a row groups by (default `primary_cause`).",
                enum=list(reports.GROUP_BY),
            ),
            *CLOSED_PARAMETERS,
            *FILTER_PARAMETERS,
            FORMAT_PARAMETER,
        ],
        responses=report_responses(
            OutcomesSerializer,
            "Columns key, label, saved, churned, withdrawn, save_rate, arr_saved, "
            "arr_lost, median_days_to_close; the last line is the totals.",
        ),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        as_csv, [(group_by, filters)] = self.parse(request, reports.parse_report_query)
        report = reports.outcomes_report(group_by=group_by, filters=filters)
        if as_csv:
            return self.csv_response(
                reports.outcomes_csv_rows(report), f"outcomes-by-{group_by}.csv"
            )
        return Response(OutcomesSerializer(report).data)


class OpenRiskReportView(ReportView):
    @extend_schema(
        summary="Open-risk report: open records and ARR at risk by renewal period and tier",
        parameters=[
            query_parameter(
                "period",
                "Group by the account's renewal month (default) or quarter.",
                enum=list(reports.PERIODS),
            ),
            *FILTER_PARAMETERS,
            FORMAT_PARAMETER,
        ],
        responses=report_responses(
            OpenRiskSerializer,
            "Columns period, tier, count, arr_at_risk; the last line is the totals.",
        ),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        as_csv, [period, (_, filters)] = self.parse(request, reports.parse_period, _filters_only)
        report = reports.open_risk_report(period=period, filters=filters)
        if as_csv:
            return self.csv_response(reports.open_risk_csv_rows(report), f"open-risk-{period}.csv")
        return Response(
            OpenRiskSerializer(
                {
                    "period": report.period,
                    "periods": report.periods,
                    "rows": report.rows,
                    "by_tier": [total._asdict() for total in report.by_tier],
                    "totals": report.totals._asdict(),
                }
            ).data
        )


class TrendReportView(ReportView):
    @extend_schema(
        summary="Trend report: saves and churn per month closed and cause category",
        description="Withdrawn records are neither a save nor churn and are left out.",
        parameters=[*CLOSED_PARAMETERS, *FILTER_PARAMETERS, FORMAT_PARAMETER],
        responses=report_responses(
            TrendSerializer,
            "Columns month, category, category_label, saved, churned, arr_saved, arr_lost.",
        ),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        as_csv, [(_, filters)] = self.parse(request, _filters_only)
        report = reports.trend_report(filters=filters)
        if as_csv:
            return self.csv_response(reports.trend_csv_rows(report), "trend.csv")
        return Response(
            TrendSerializer(
                {
                    "months": report.months,
                    "categories": [
                        {"category": slug, "label": label} for slug, label in report.categories
                    ],
                    "rows": report.rows,
                }
            ).data
        )
