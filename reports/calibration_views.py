"""The Health calibration page and its CSV download.

It shares the reports' layout, tabs and renewal filters (``reports.views``,
``reports.programs_views``); the figures come from ``reports.calibration``,
and the download writes the same CSV rows as the API's ``?format=csv`` for
the same query string.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.csv_files import csv_download
from core.exceptions import InvalidInput
from core.imports import get_importer

from . import charts
from .calibration import (
    DAYS_BEFORE_DEFAULT,
    DAYS_BEFORE_MAX,
    NO_SCORE,
    UNKNOWN,
    BandRow,
    CalibrationFilters,
    DecileRow,
    HealthCalibration,
    MeasureRow,
    calibration_csv_rows,
    health_calibration,
    parse_calibration_query,
)
from .programs_views import RenewalFilterForm, percent
from .views import invalid_query_response, parse_into_form, tabs

# The page lists this many green churns; the CSV and the API list them all.
GREEN_CHURNS_SHOWN = 100
RENEWAL_IMPORT = "renewals"
BAND_CLASSES = {
    "green": "chart-band-green",
    "yellow": "chart-band-yellow",
    "red": "chart-band-red",
    UNKNOWN: "chart-band-unknown",
    # No score is as uninformative as an unknown band: the same grey.
    NO_SCORE: "chart-band-unknown",
}


class CalibrationFilterForm(RenewalFilterForm):
    """The renewal filters and how many days before each renewal its score
    is read; lenient fields, checked by ``parse_calibration_query``."""

    days_before = forms.CharField(
        label="Score read days before the renewal",
        required=False,
        help_text=f"0 to {DAYS_BEFORE_MAX}; {DAYS_BEFORE_DEFAULT} by default.",
        widget=forms.NumberInput(attrs={"min": 0, "max": DAYS_BEFORE_MAX, "step": 1}),
    )
    field_order = ["renewed_after", "renewed_before", "region", "segment", "days_before"]


def scope_summary(filters: CalibrationFilters) -> str:
    """The renewals in scope, in words: "" when every renewal is."""
    renewals = filters.renewals
    parts = []
    if renewals.renewed_after and renewals.renewed_before:
        parts.append(f"renewal dates {renewals.renewed_after} to {renewals.renewed_before}")
    elif renewals.renewed_after:
        parts.append(f"renewal dates on or after {renewals.renewed_after}")
    elif renewals.renewed_before:
        parts.append(f"renewal dates on or before {renewals.renewed_before}")
    if renewals.region:
        parts.append(f"region {renewals.region}")
    if renewals.segment:
        parts.append(f"segment {renewals.segment}")
    return ", ".join(parts)


def calibration_summary(filters: CalibrationFilters) -> str:
    """What the tables show, in words, for their captions."""
    days = filters.days_before
    return (
        f"{scope_summary(filters) or 'all renewals'}, "
        f"scores {days} day{'' if days == 1 else 's'} before"
    )


def auc_in_words(report: HealthCalibration) -> str:
    """ "0.78 — a churned account scored lower than a renewed one 78% of the
    time", both figures from the AUC rounded once to two places; or why there
    is no AUC."""
    if report.auc is None:
        return (
            "Not enough data: the AUC needs at least one churned and one renewed account "
            f"with a score {report.filters.days_before} days before the renewal "
            f"(here {report.n_churned} churned and {report.n_renewed} renewed)."
        )
    auc = report.auc.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return (
        f"{auc} \u2014 a churned account scored lower than a renewed one "
        f"{auc * 100:.0f}% of the time, ties counting half"
    )


@dataclass
class RateLine:
    """A band or decile row and its churn rate as a percentage (one decimal,
    rounded once from the counts)."""

    row: BandRow | DecileRow
    churn_rate: str


@dataclass
class MeasureLine:
    row: MeasureRow
    churn_rate_low: str
    churn_rate_not_low: str

    @property
    def lift(self) -> str:
        """Two places and a times sign on the page; four places in the CSV and the API."""
        if self.row.lift is None:
            return "\u2014"
        return f"{self.row.lift.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}\u00d7"


def renewal_import_url(request: HttpRequest) -> str | None:
    """Where this person adds renewals: the renewal import, or the imports
    page when that import is not installed; None when they may not import."""
    try:
        importer = get_importer(RENEWAL_IMPORT)
    except LookupError:
        return reverse("imports:index") if getattr(request.user, "is_cs_admin", False) else None
    if not importer.allowed(request.user):
        return None
    return reverse("imports:upload", kwargs={"kind": RENEWAL_IMPORT})


def _band_chart(report: HealthCalibration) -> charts.Chart:
    days = report.filters.days_before
    return charts.churn_rate_chart(
        [
            charts.ChurnBar(row.label, row.renewals, row.churned, BAND_CLASSES[row.band or ""])
            for row in report.bands
        ],
        title=f"Churn rate by health band {days} days before the renewal",
        axis_label=f"Health band {days} days before the renewal",
        chart_id="calibration-band-chart",
    )


def _decile_chart(report: HealthCalibration) -> charts.Chart:
    days = report.filters.days_before
    return charts.churn_rate_chart(
        [
            charts.ChurnBar(row.label, row.renewals, row.churned, "chart-churned")
            for row in report.deciles
        ],
        title=f"Churn rate by health score decile {days} days before the renewal",
        axis_label=f"Health score {days} days before the renewal",
        chart_id="calibration-decile-chart",
        empty_message="No renewal had a score this many days before it.",
    )


@require_GET
def health_calibration_page(request: HttpRequest) -> HttpResponse:
    form, filters = parse_into_form(
        request,
        CalibrationFilterForm,
        parse_calibration_query,
        defaults={"days_before": str(DAYS_BEFORE_DEFAULT)},  # show the default in use
    )
    context: dict[str, Any] = {
        "tabs": tabs(request, "health_calibration"),
        "report_name": "Health calibration",
        "form": form,
        "valid": filters is not None,
        "query_string": request.GET.urlencode(),
    }
    if filters is not None:
        report = health_calibration(filters=filters)
        context.update(
            report=report,
            summary=calibration_summary(filters),
            scope=scope_summary(filters),
            auc_words=auc_in_words(report),
            band_lines=[RateLine(row, percent(row.churned, row.renewals)) for row in report.bands],
            totals=RateLine(report.totals, percent(report.totals.churned, report.totals.renewals)),
            decile_lines=[
                RateLine(row, percent(row.churned, row.renewals)) for row in report.deciles
            ],
            measure_lines=[
                MeasureLine(
                    row,
                    percent(row.churned_low, row.renewals_low),
                    percent(row.churned_not_low, row.renewals_not_low),
                )
                for row in report.measures
            ],
            green_churns=report.green_churns[:GREEN_CHURNS_SHOWN],
            import_url=None if report.has_renewals else renewal_import_url(request),
            band_chart=_band_chart(report) if report.has_renewals else None,
            decile_chart=_decile_chart(report) if report.has_renewals else None,
        )
    return render(
        request,
        "reports/health_calibration.html",
        context,
        status=200 if filters is not None else 400,
    )


@require_GET
def health_calibration_csv(request: HttpRequest) -> HttpResponse:
    try:
        filters = parse_calibration_query(request.GET)
    except InvalidInput as error:
        return invalid_query_response(error)
    report = health_calibration(filters=filters)
    return csv_download(
        calibration_csv_rows(report),
        f"health-calibration-{timezone.localdate().isoformat()}.csv",
    )
