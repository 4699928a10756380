"""The Program effectiveness and Flag coverage pages and their CSV downloads.

They share the reports' layout, tabs and filter form (``reports.views``); the
figures come from ``reports.programs``, and a download writes the same CSV
rows as the API's ``?format=csv`` for the same query string.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.csv_files import csv_download
from core.exceptions import InvalidInput

from . import charts
from .programs import (
    FEW_RECORDS,
    CoverageRow,
    ProgramGroup,
    ProgramRow,
    RenewalFilters,
    coverage_csv_rows,
    flag_coverage,
    parse_program_query,
    parse_renewal_query,
    program_csv_rows,
    program_effectiveness,
    wilson_interval,
)
from .views import (
    ReportFilterForm,
    filter_summary,
    invalid_query_response,
    parse_into_form,
    parse_query,
    render_report,
    save_percent,
    tabs,
)

# Bounds shown as percentages with one decimal: three places of the rate.
PERCENT_PLACES = Decimal("0.001")


def percent(part: int, whole: int) -> str:
    """part / whole as a percentage with one decimal, rounded once; "—" for 0 / 0."""
    if whole == 0:
        return "—"
    share = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{share}%"


# --- Program effectiveness ---------------------------------------------------------


@dataclass
class GroupCell:
    """A group as the table shows it: the save rate and its interval as
    percentages (rounded once, from the counts), or the note."""

    group: ProgramGroup
    save_rate: str
    interval: str


def group_cell(group: ProgramGroup) -> GroupCell:
    interval = wilson_interval(group.saved, group.records, places=PERCENT_PLACES)
    if group.note or interval is None:
        return GroupCell(group, group.note or "", "")
    low, high = interval
    return GroupCell(
        group,
        save_percent(group.saved, group.records - group.saved),
        f"{low * 100:.1f} to {high * 100:.1f}%",
    )


@dataclass
class ProgramLine:
    row: ProgramRow
    on_time: GroupCell
    not_on_time: GroupCell

    @property
    def cells(self) -> list[GroupCell]:
        return [self.on_time, self.not_on_time]


def _mark(group: ProgramGroup) -> charts.RateMark:
    return charts.RateMark(
        rate=group.save_rate,
        low=group.save_rate_low,
        high=group.save_rate_high,
        records=group.records,
    )


@require_GET
def program_effectiveness_page(request: HttpRequest) -> HttpResponse:
    parsed = parse_query(request, ReportFilterForm, allow_group_by=False)
    context: dict[str, Any] = {
        "tabs": tabs(request, "program_effectiveness"),
        "report_name": "Program effectiveness",
    }
    if parsed.valid:
        report = program_effectiveness(filters=parsed.filters)
        context.update(
            report=report,
            lines=[
                ProgramLine(row, group_cell(row.on_time), group_cell(row.not_on_time))
                for row in report.rows
            ],
            summary=filter_summary(report.filters),
            few_note=FEW_RECORDS,
            chart=charts.program_chart(
                [
                    charts.ProgramLine(row.label, _mark(row.on_time), _mark(row.not_on_time))
                    for row in report.rows
                ],
                few_note=FEW_RECORDS,
            )
            if report.rows
            else None,
        )
    return render_report(request, "reports/program_effectiveness.html", parsed, context)


@require_GET
def program_effectiveness_csv(request: HttpRequest) -> HttpResponse:
    try:
        filters = parse_program_query(request.GET)
    except InvalidInput as error:
        return invalid_query_response(error)
    report = program_effectiveness(filters=filters)
    return csv_download(
        program_csv_rows(report), f"program-effectiveness-{timezone.localdate().isoformat()}.csv"
    )


# --- Flag coverage -----------------------------------------------------------------


class RenewalFilterForm(ReportFilterForm):
    """The renewal period instead of the closed one; lenient fields, checked
    by ``parse_renewal_query`` as the API checks them."""

    renewed_after = forms.CharField(
        label="Renewal on or after",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    renewed_before = forms.CharField(
        label="Renewal on or before",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    field_order = ["renewed_after", "renewed_before", "region", "segment"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["closed_after"]
        del self.fields["closed_before"]


def renewal_summary(filters: RenewalFilters) -> str:
    """What the tables show, in words, for their captions."""
    parts = []
    if filters.renewed_after and filters.renewed_before:
        parts.append(f"renewal dates {filters.renewed_after} to {filters.renewed_before}")
    elif filters.renewed_after:
        parts.append(f"renewal dates on or after {filters.renewed_after}")
    elif filters.renewed_before:
        parts.append(f"renewal dates on or before {filters.renewed_before}")
    else:
        parts.append("all churns")
    if filters.region:
        parts.append(f"region {filters.region}")
    if filters.segment:
        parts.append(f"segment {filters.segment}")
    return ", ".join(parts)


@dataclass
class CoverageLine:
    row: CoverageRow
    coverage: str


def _lines(rows: list[CoverageRow]) -> list[CoverageLine]:
    return [CoverageLine(row, percent(row.flagged, row.churns)) for row in rows]


@require_GET
def flag_coverage_page(request: HttpRequest) -> HttpResponse:
    form, filters = parse_into_form(request, RenewalFilterForm, parse_renewal_query)
    context: dict[str, Any] = {
        "tabs": tabs(request, "flag_coverage"),
        "report_name": "Flag coverage",
        "form": form,
        "valid": filters is not None,
        "query_string": request.GET.urlencode(),
    }
    if filters is not None:
        report = flag_coverage(filters=filters)
        context.update(
            report=report,
            summary=renewal_summary(filters),
            region_lines=_lines(report.by_region),
            segment_lines=_lines(report.by_segment),
            totals=CoverageLine(
                report.totals, percent(report.totals.flagged, report.totals.churns)
            ),
            region_chart=charts.coverage_chart(
                [(row.label, row.churns, row.flagged) for row in report.by_region],
                dimension="region",
                chart_id="coverage-region-chart",
            ),
            segment_chart=charts.coverage_chart(
                [(row.label, row.churns, row.flagged) for row in report.by_segment],
                dimension="segment",
                chart_id="coverage-segment-chart",
            ),
        )
    return render(
        request, "reports/flag_coverage.html", context, status=200 if filters is not None else 400
    )


@require_GET
def flag_coverage_csv(request: HttpRequest) -> HttpResponse:
    try:
        filters = parse_renewal_query(request.GET)
    except InvalidInput as error:
        return invalid_query_response(error)
    report = flag_coverage(filters=filters)
    return csv_download(
        coverage_csv_rows(report), f"flag-coverage-{timezone.localdate().isoformat()}.csv"
    )
