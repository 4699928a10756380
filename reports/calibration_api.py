"""``reports/health-calibration/`` in the API (docs/api.md): JSON or, with
``?format=csv``, the CSV of the page's download.

As for the other reports (``reports.api``), the view only parses the query
string and renders what ``reports.calibration`` computes; a bad parameter is
a 400 naming it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from . import calibration
from .api import (
    FILTER_PARAMETERS,
    FORMAT_PARAMETER,
    ReportView,
    as_float,
    money_field,
    query_parameter,
    rate_field,
    report_responses,
)
from .programs_api import RENEWED_PARAMETERS, AccountRefSerializer


def _floats(data: dict[str, Any], instance: object, *names: str) -> dict[str, Any]:
    # JSON numbers, rounded as the report rounded them.
    for name in names:
        value = getattr(instance, name)
        data[name] = as_float(value)
    return data


class BandRowSerializer(serializers.Serializer):
    band = serializers.ChoiceField(
        choices=[band for band, _ in calibration.BANDS],
        allow_null=True,
        help_text="green, yellow, red, unknown (a score without a value), none (no score "
        "on or before the day); null on the totals.",
    )
    label = serializers.CharField()
    renewals = serializers.IntegerField()
    churned = serializers.IntegerField()
    churn_rate = rate_field("churned / renewals, four places; null without renewals.")
    arr_churned = money_field()

    def to_representation(self, instance: calibration.BandRow) -> dict[str, Any]:
        return _floats(super().to_representation(instance), instance, "churn_rate")


class DecileRowSerializer(serializers.Serializer):
    bucket = serializers.IntegerField(help_text="min(score / 10, 9), integer division: 0 to 9.")
    label = serializers.CharField(
        help_text="The scores of the bucket, low to high with an en dash (U+2013): "
        "0\u20139 to 90\u2013100."
    )
    renewals = serializers.IntegerField()
    churned = serializers.IntegerField()
    churn_rate = rate_field("churned / renewals, four places; null without renewals.")

    def to_representation(self, instance: calibration.DecileRow) -> dict[str, Any]:
        return _floats(super().to_representation(instance), instance, "churn_rate")


class MeasureRowSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(help_text="The measure's name; its code once it is deleted.")
    renewals_low = serializers.IntegerField(help_text="Renewals whose part score was under 40.")
    churned_low = serializers.IntegerField()
    churn_rate_low = rate_field("churned_low / renewals_low, four places; null without renewals.")
    renewals_not_low = serializers.IntegerField(
        help_text="Renewals whose part score was 40 or more."
    )
    churned_not_low = serializers.IntegerField()
    churn_rate_not_low = rate_field(
        "churned_not_low / renewals_not_low, four places; null without renewals."
    )
    lift = rate_field(
        "churn_rate_low / churn_rate_not_low from the counts, four places; null when "
        "either rate is null or churn_rate_not_low is 0."
    )

    def to_representation(self, instance: calibration.MeasureRow) -> dict[str, Any]:
        return _floats(
            super().to_representation(instance),
            instance,
            "churn_rate_low",
            "churn_rate_not_low",
            "lift",
        )


class GreenChurnSerializer(serializers.Serializer):
    renewal_id = serializers.IntegerField()
    account = AccountRefSerializer()
    region = serializers.CharField(help_text="Region code.")
    segment = serializers.CharField(help_text="Segment code.")
    renewal_date = serializers.DateField()
    score = serializers.IntegerField(help_text="The score read days_before days earlier.")
    score_as_of = serializers.DateField(help_text="The day of that score.")
    arr_before = money_field()

    def to_representation(self, instance: calibration.GreenChurn) -> dict[str, Any]:
        return super().to_representation(
            {
                "renewal_id": instance.renewal_id,
                "account": {"id": instance.account_id, "name": instance.account_name},
                "region": instance.region,
                "segment": instance.segment,
                "renewal_date": instance.renewal_date,
                "score": instance.score,
                "score_as_of": instance.score_as_of,
                "arr_before": instance.arr_before,
            }
        )


class HealthCalibrationSerializer(serializers.Serializer):
    days_before = serializers.IntegerField(source="filters.days_before")
    bands = BandRowSerializer(many=True, help_text="green, yellow, red, unknown, none.")
    totals = BandRowSerializer()
    auc = rate_field(
        "Over the renewals with a score: (pairs where the churned scored lower + half the "
        "ties) / (n_churned · n_renewed), four places; null when either count is 0."
    )
    n_churned = serializers.IntegerField(help_text="Churned renewals with a score.")
    n_renewed = serializers.IntegerField(
        help_text="Renewals with a score not churned (renewed or downsell)."
    )
    deciles = DecileRowSerializer(many=True, help_text="Always ten, lowest scores first.")
    measures = MeasureRowSerializer(many=True, help_text="By measure code.")
    green_churns = GreenChurnSerializer(many=True, help_text="Newest renewal first.")

    def to_representation(self, instance: calibration.HealthCalibration) -> dict[str, Any]:
        return _floats(super().to_representation(instance), instance, "auc")


class HealthCalibrationReportView(ReportView):
    @extend_schema(
        summary="Health calibration: churn by the health score some days before each renewal",
        description=(
            "Renewals in the period, each with its account's newest health score on or "
            "before the renewal date less `days_before` days: churn per band, the score's "
            "AUC, churn per score decile, churn per measure when its part score was under "
            "40 or not (with the lift), and the churned renewals whose score was green."
        ),
        parameters=[
            query_parameter(
                "days_before",
                "Read each score this many days before the renewal: 0 to 730 (default 90).",
                type=OpenApiTypes.INT,
            ),
            *RENEWED_PARAMETERS,
            *FILTER_PARAMETERS,
            FORMAT_PARAMETER,
        ],
        responses=report_responses(
            HealthCalibrationSerializer,
            "Columns "
            + ", ".join(calibration.CSV_COLUMNS)
            + "; each line's section (band, total, auc, decile, measure, green_churn) "
            "says which columns it fills.",
        ),
    )
    def get(self, request: Request) -> Response | HttpResponse:
        as_csv, [filters] = self.parse(request, calibration.parse_calibration_query)
        report = calibration.health_calibration(filters=filters)
        if as_csv:
            return self.csv_response(
                calibration.calibration_csv_rows(report), "health-calibration.csv"
            )
        return Response(HealthCalibrationSerializer(report).data)
