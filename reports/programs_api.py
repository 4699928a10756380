"""``reports/program-effectiveness/`` and ``reports/flag-coverage/`` in the API
(docs/api.md): JSON or, with ``?format=csv``, the CSV of the page's download.

As for the other reports (``reports.api``), the views only parse the query
string and render what ``reports.programs`` computes; a bad parameter is a 400
naming it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from . import programs
from .api import (
    CLOSED_PARAMETERS,
    FILTER_PARAMETERS,
    FORMAT_PARAMETER,
    ReportView,
    as_float,
    money_field,
    query_parameter,
    rate_field,
    report_responses,
)

# --- Program effectiveness -------------------------------------------------------------


class ProgramGroupSerializer(serializers.Serializer):
    records = serializers.IntegerField(help_text="Saved and churned records of the group.")
    saved = serializers.IntegerField()
    save_rate = rate_field("saved / records, four places; null under 5 records.")
    save_rate_low = rate_field("Lower bound of the Wilson 95% interval; null under 5 records.")
    save_rate_high = rate_field("Upper bound of the Wilson 95% interval; null under 5 records.")
    median_days_to_close = rate_field(
        "Median of closed_at - opened_at in days, one place; null without records."
    )
    note = serializers.CharField(
        allow_null=True, help_text='"Fewer than 5 records" when the rate is left out.'
    )

    def to_representation(self, instance: programs.ProgramGroup) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in ("save_rate", "save_rate_low", "save_rate_high", "median_days_to_close"):
            data[name] = as_float(getattr(instance, name))
        return data


class ProgramRowSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[programs.STEP_KIND, programs.REVIEW_KIND],
        help_text="A playbook step, or the weekly review's action items (the last row).",
    )
    step_id = serializers.IntegerField(allow_null=True, help_text="Null on the review row.")
    label = serializers.CharField(help_text='"<playbook> — <position>. <step title>".')
    on_time = ProgramGroupSerializer(help_text="Records whose task was done by its due date.")
    not_on_time = ProgramGroupSerializer(
        help_text="Records whose task was done late or not at all."
    )


class ProgramEffectivenessSerializer(serializers.Serializer):
    rows = ProgramRowSerializer(many=True)


class ProgramEffectivenessReportView(ReportView):
    @extend_schema(
        summary="Program effectiveness: save rates when playbook and review tasks were on time",
        description=(
            "Saved and churned records closed in the period (withdrawn ones left out): one "
            "row per playbook step over the records with a task of that step, then one row "
            "over the records with a review action item. Each row splits its records into "
            "those whose task was done on or before its due date (for review action items: "
            "all of them) and the others, with the save rate and its Wilson 95% interval. "
            "Correlation, not proof."
        ),
        parameters=[*CLOSED_PARAMETERS, *FILTER_PARAMETERS, FORMAT_PARAMETER],
        responses=report_responses(
            ProgramEffectivenessSerializer,
            "Columns " + ", ".join(programs.PROGRAM_COLUMNS) + ".",
        ),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        as_csv, [filters] = self.parse(request, programs.parse_program_query)
        report = programs.program_effectiveness(filters=filters)
        if as_csv:
            return self.csv_response(programs.program_csv_rows(report), "program-effectiveness.csv")
        return Response(ProgramEffectivenessSerializer(report).data)


# --- Flag coverage --------------------------------------------------------------------------


class CoverageRowSerializer(serializers.Serializer):
    key = serializers.CharField(
        allow_null=True, help_text="Region or segment code; null on totals."
    )
    label = serializers.CharField()
    churns = serializers.IntegerField()
    flagged = serializers.IntegerField(
        help_text="Churns whose account had a record opened 30 to 365 days before."
    )
    coverage = rate_field("flagged / churns, four places; null without churns.")
    arr_churned = money_field()
    arr_flagged = money_field()

    def to_representation(self, instance: programs.CoverageRow) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["coverage"] = as_float(instance.coverage)
        return data


class AccountRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RiskRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    opened_on = serializers.DateField(help_text="The day it opened, server time zone.")


class UnflaggedChurnSerializer(serializers.Serializer):
    renewal_id = serializers.IntegerField()
    account = AccountRefSerializer()
    region = serializers.CharField()
    segment = serializers.CharField()
    churn_date = serializers.DateField()
    arr_before = money_field()
    newest_risk = RiskRefSerializer(
        allow_null=True,
        help_text="The account's newest record opened before the churn date, if any.",
    )

    def to_representation(self, instance: programs.UnflaggedChurn) -> dict[str, Any]:
        return super().to_representation(
            {
                "renewal_id": instance.renewal_id,
                "account": {"id": instance.account_id, "name": instance.account_name},
                "region": instance.region,
                "segment": instance.segment,
                "churn_date": instance.churn_date,
                "arr_before": instance.arr_before,
                "newest_risk": None
                if instance.risk_id is None
                else {"id": instance.risk_id, "opened_on": instance.risk_opened_on},
            }
        )


class FlagCoverageSerializer(serializers.Serializer):
    by_region = CoverageRowSerializer(many=True)
    by_segment = CoverageRowSerializer(many=True)
    totals = CoverageRowSerializer()
    unflagged = UnflaggedChurnSerializer(many=True, help_text="Newest churn first.")


RENEWED_PARAMETERS = [
    query_parameter(
        "renewed_after", "Renewal date on or after this date (YYYY-MM-DD).", type=OpenApiTypes.DATE
    ),
    query_parameter(
        "renewed_before",
        "Renewal date on or before this date (YYYY-MM-DD).",
        type=OpenApiTypes.DATE,
    ),
]


class FlagCoverageReportView(ReportView):
    @extend_schema(
        summary="Flag coverage: churns whose account was flagged 30 to 365 days before",
        description=(
            "Churned renewals in the period. A churn is flagged when its account had a risk "
            "record opened (its day in the server time zone) from 365 to 30 days before the "
            "churn date. Rows per region and per segment, the totals, and the churns not "
            "flagged with the newest record opened before each."
        ),
        parameters=[*RENEWED_PARAMETERS, *FILTER_PARAMETERS, FORMAT_PARAMETER],
        responses=report_responses(
            FlagCoverageSerializer,
            "Columns " + ", ".join(programs.COVERAGE_COLUMNS) + "; the region rows, the "
            "segment rows, then the totals.",
        ),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        as_csv, [filters] = self.parse(request, programs.parse_renewal_query)
        report = programs.flag_coverage(filters=filters)
        if as_csv:
            return self.csv_response(programs.coverage_csv_rows(report), "flag-coverage.csv")
        return Response(FlagCoverageSerializer(report).data)
