"""The Reports pages (Outcomes, Open risk, Trend) and their CSV downloads.

The figures come from ``reports.selectors`` (aggregated in the database); these
views parse the query, draw the chart, and lay out the table that is the
chart's accessible twin. A download runs the same selector with the same query
string and writes the same CSV rows as the API's ``?format=csv``, so the file
holds exactly what the page shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from django import forms
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.models import Region, Segment
from core.csv_files import csv_download
from core.exceptions import InvalidInput
from risks.models import Tier

from . import charts
from .selectors import (
    GROUP_BY,
    OpenRiskReport,
    OutcomeRow,
    ReportFilters,
    open_risk_csv_rows,
    open_risk_report,
    outcomes_csv_rows,
    outcomes_report,
    parse_period,
    parse_report_query,
    trend_csv_rows,
    trend_report,
)
from .selectors import PERIODS as PERIOD_CHOICES

# The renewal period as a unit, for the chart's axis and the table's header.
PERIOD_UNITS = {"month": "Month", "quarter": "Quarter"}
TIERS = tuple(Tier.values)

# (url name, tab label, query parameters the tab keeps when switching to it)
REPORT_TABS = [
    ("outcomes", "Outcomes", ("closed_after", "closed_before", "region", "segment")),
    ("open_risk", "Open risk", ("region", "segment")),
    ("trend", "Trend", ("closed_after", "closed_before", "region", "segment")),
    (
        "program_effectiveness",
        "Program effectiveness",
        ("closed_after", "closed_before", "region", "segment"),
    ),
    ("flag_coverage", "Flag coverage", ("renewed_after", "renewed_before", "region", "segment")),
    (
        "health_calibration",
        "Health calibration",
        ("renewed_after", "renewed_before", "region", "segment", "days_before"),
    ),
]


# --- the filter form ------------------------------------------------------------


class ReportFilterForm(forms.Form):
    """Renders the filters with their labels and errors next to them.

    The fields are lenient CharFields on purpose: ``parse_report_query`` is the
    one place that validates a report query (the API uses it too), and its
    messages are added to these fields, so the page and the API say the same."""

    closed_after = forms.CharField(
        label="Closed on or after",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    closed_before = forms.CharField(
        label="Closed on or before",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    region = forms.CharField(label="Region", required=False, widget=forms.Select)
    segment = forms.CharField(label="Segment", required=False, widget=forms.Select)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].widget.choices = [("", "Any region")] + [
            (code, f"{code} — {name}")
            for code, name in Region.objects.order_by("code").values_list("code", "name")
        ]
        self.fields["segment"].widget.choices = [
            ("", "Any segment"),
            *Segment.objects.order_by("name").values_list("code", "name"),
        ]


class OutcomesFilterForm(ReportFilterForm):
    group_by = forms.CharField(
        label="Group by", required=False, widget=forms.Select(choices=list(GROUP_BY.items()))
    )
    field_order = ["group_by", "closed_after", "closed_before", "region", "segment"]


class OpenRiskFilterForm(ReportFilterForm):
    period = forms.CharField(
        label="Renewal by",
        required=False,
        widget=forms.Select(choices=list(PERIOD_CHOICES.items())),
    )
    field_order = ["period", "region", "segment"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Open risk is about records not closed yet.
        del self.fields["closed_after"]
        del self.fields["closed_before"]


Parsed = TypeVar("Parsed")


@dataclass
class ParsedQuery:
    form: ReportFilterForm
    filters: ReportFilters | None
    group_by: str | None = None

    @property
    def valid(self) -> bool:
        return self.filters is not None


def _query_with_defaults(query: QueryDict, defaults: Mapping[str, str]) -> QueryDict:
    data = query.copy()
    for name, value in defaults.items():
        if not data.get(name):
            data[name] = value
    return data


def parse_query(
    request: HttpRequest,
    form_class: type[ReportFilterForm],
    *,
    allow_group_by: bool,
    defaults: Mapping[str, str] | None = None,
) -> ParsedQuery:
    """The form (bound to the query, showing the defaults in use) and the parsed
    filters, or ``filters=None`` with the errors on the form's fields."""
    form, parsed = parse_into_form(
        request,
        form_class,
        lambda query: parse_report_query(query, allow_group_by=allow_group_by),
        defaults=defaults,
    )
    if parsed is None:
        return ParsedQuery(form=form, filters=None)
    group_by, filters = parsed
    return ParsedQuery(form=form, filters=filters, group_by=group_by)


def parse_into_form(
    request: HttpRequest,
    form_class: type[forms.Form],
    parse: Callable[[QueryDict], Parsed],
    *,
    defaults: Mapping[str, str] | None = None,
) -> tuple[forms.Form, Parsed | None]:
    """A report page's filter form (bound to the query, showing the defaults
    in use) and what ``parse`` makes of the query, or None with the parser's
    errors on the form's fields. The parser is the one the API uses, so the
    page and the API say the same."""
    form = form_class(_query_with_defaults(request.GET, defaults or {}))
    form.is_valid()  # always true: it only sets cleaned_data so errors can be added
    try:
        return form, parse(request.GET)
    except InvalidInput as error:
        for field, messages in error.errors.items():
            form.add_error(field if field in form.fields else None, messages)
        return form, None


# --- shared page context ------------------------------------------------------------


def tabs(request: HttpRequest, current: str) -> list[dict[str, Any]]:
    """Links to the three reports, keeping the filters the target understands."""
    items = []
    for url_name, label, keep in REPORT_TABS:
        query = QueryDict(mutable=True)
        for name in keep:
            if request.GET.get(name):
                query[name] = request.GET[name]
        url = reverse(f"reports:{url_name}")
        items.append(
            {
                "label": label,
                "url": f"{url}?{query.urlencode()}" if query else url,
                "current": url_name == current,
            }
        )
    return items


def filter_summary(filters: ReportFilters, *, closed: bool = True) -> str:
    """What the table shows, in words, for its caption."""
    parts = []
    if closed:
        if filters.closed_after and filters.closed_before:
            parts.append(f"closed {filters.closed_after} to {filters.closed_before}")
        elif filters.closed_after:
            parts.append(f"closed on or after {filters.closed_after}")
        elif filters.closed_before:
            parts.append(f"closed on or before {filters.closed_before}")
        else:
            parts.append("all closed records")
    if filters.region:
        parts.append(f"region {filters.region}")
    if filters.segment:
        parts.append(f"segment {filters.segment}")
    return ", ".join(parts)


def save_percent(saved: int, churned: int) -> str:
    """The save rate as a percentage with one decimal, rounded once from the
    counts (6 saved, 5 churned → "54.5%", not the 54.55 of the four-place rate
    rounded again); nothing saved or churned → "—"."""
    if saved + churned == 0:
        return "—"
    rate = (Decimal(saved) * 100 / Decimal(saved + churned)).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return f"{rate}%"


def _line(row: OutcomeRow) -> OutcomeLine:
    return OutcomeLine(row, save_percent(row.saved, row.churned))


def render_report(
    request: HttpRequest, template: str, parsed: ParsedQuery, context: dict[str, Any]
) -> HttpResponse:
    context = {
        "form": parsed.form,
        "valid": parsed.valid,
        "query_string": request.GET.urlencode(),
        **context,
    }
    return render(request, template, context, status=200 if parsed.valid else 400)


# --- Outcomes -----------------------------------------------------------------------


@dataclass
class OutcomeLine:
    """A table row: the selector's row plus its save rate as a percentage."""

    row: OutcomeRow
    save_rate: str


@require_GET
def outcomes_page(request: HttpRequest) -> HttpResponse:
    parsed = parse_query(
        request, OutcomesFilterForm, allow_group_by=True, defaults={"group_by": "primary_cause"}
    )
    context: dict[str, Any] = {"tabs": tabs(request, "outcomes"), "report_name": "Outcomes"}
    if parsed.valid:
        report = outcomes_report(group_by=parsed.group_by, filters=parsed.filters)
        group_label = GROUP_BY[report.group_by]
        context.update(
            report=report,
            group_label=group_label,
            group_phrase=charts.in_sentence(group_label),
            lines=[OutcomeLine(row, save_percent(row.saved, row.churned)) for row in report.rows],
            totals=OutcomeLine(
                report.totals, save_percent(report.totals.saved, report.totals.churned)
            ),
            summary=filter_summary(report.filters),
            chart=charts.outcomes_chart(
                [
                    charts.OutcomeBar(row.label, row.saved, row.churned, row.withdrawn)
                    for row in report.rows
                ],
                group_label=group_label,
            )
            if report.rows
            else None,
        )
    return render_report(request, "reports/outcomes.html", parsed, context)


# --- Open risk ----------------------------------------------------------------------


@dataclass
class OpenRiskCell:
    count: int = 0
    arr_at_risk: Decimal = Decimal(0)


@dataclass
class OpenRiskLine:
    """One renewal period: a cell per tier and the period's total."""

    period: str
    tiers: list[OpenRiskCell]
    total: OpenRiskCell


def continuous_periods(periods: list[str]) -> list[str]:
    """Renewal periods from the first to the last without gaps ("2027-08",
    "2027-09", … or "2027-Q3", "2027-Q4", …), so the chart's axis is evenly
    spaced in time and an empty period shows as a gap."""
    if not periods:
        return []
    quarterly = "Q" in periods[0]
    per_year = 4 if quarterly else 12

    def index(key: str) -> int:
        year, part = key.split("-")
        return int(year) * per_year + int(part.lstrip("Q")) - 1

    def key(position: int) -> str:
        year, part = divmod(position, per_year)
        return f"{year:04d}-Q{part + 1}" if quarterly else f"{year:04d}-{part + 1:02d}"

    return [key(position) for position in range(index(periods[0]), index(periods[-1]) + 1)]


def open_risk_lines(report: OpenRiskReport) -> list[OpenRiskLine]:
    # The selector returns one aggregated row per (period, tier); this only
    # pivots those few rows into the table's shape.
    cells = {
        (row.period, row.tier): OpenRiskCell(row.count, row.arr_at_risk) for row in report.rows
    }
    lines = []
    for period in report.periods:
        tiers = [cells.get((period, tier), OpenRiskCell()) for tier in TIERS]
        total = OpenRiskCell(
            sum(cell.count for cell in tiers),
            sum((cell.arr_at_risk for cell in tiers), Decimal(0)),
        )
        lines.append(OpenRiskLine(period, tiers, total))
    return lines


@require_GET
def open_risk_page(request: HttpRequest) -> HttpResponse:
    parsed = parse_query(
        request, OpenRiskFilterForm, allow_group_by=False, defaults={"period": "month"}
    )
    period = "month"
    try:
        period = parse_period(request.GET)
    except InvalidInput as error:
        parsed.form.add_error("period", error.errors["period"])
        parsed.filters = None
    context: dict[str, Any] = {
        "tabs": tabs(request, "open_risk"),
        "report_name": "Open risk",
    }
    if parsed.valid:
        report = open_risk_report(period=period, filters=parsed.filters)
        by_tier = {tier: OpenRiskCell(count, arr) for tier, count, arr in report.by_tier}
        period_label = PERIOD_UNITS[period]
        context.update(
            report=report,
            period_label=period_label,
            lines=open_risk_lines(report),
            tier_totals=[by_tier.get(tier, OpenRiskCell()) for tier in TIERS],
            total=OpenRiskCell(*report.totals),
            summary=filter_summary(report.filters, closed=False) or "all regions and segments",
            chart=charts.open_risk_chart(
                continuous_periods(report.periods),
                {(row.period, row.tier): row.arr_at_risk for row in report.rows},
                period_label=period_label,
            )
            if report.rows
            else None,
        )
    return render_report(request, "reports/open_risk.html", parsed, context)


# --- Trend --------------------------------------------------------------------------


@require_GET
def trend_page(request: HttpRequest) -> HttpResponse:
    parsed = parse_query(request, ReportFilterForm, allow_group_by=False)
    context: dict[str, Any] = {"tabs": tabs(request, "trend"), "report_name": "Trend"}
    if parsed.valid:
        report = trend_report(filters=parsed.filters)
        rows = report.rows
        context.update(
            report=report,
            rows=rows,
            totals={
                "saved": sum(row.saved for row in rows),
                "churned": sum(row.churned for row in rows),
                "arr_saved": sum((row.arr_saved for row in rows), Decimal(0)),
                "arr_lost": sum((row.arr_lost for row in rows), Decimal(0)),
            },
            summary=filter_summary(report.filters),
            chart=charts.trend_chart(
                report.months,
                report.categories,
                {(row.month, row.category): row.saved for row in rows},
                {(row.month, row.category): row.churned for row in rows},
            )
            if rows
            else None,
        )
    return render_report(request, "reports/trend.html", parsed, context)


# --- CSV downloads ------------------------------------------------------------------


def invalid_query_response(error: InvalidInput) -> HttpResponse:
    lines = [
        f"{field}: {message}" for field, messages in error.errors.items() for message in messages
    ]
    return HttpResponse(
        "The report query is not valid:\n" + "\n".join(lines) + "\n",
        status=400,
        content_type="text/plain; charset=utf-8",
    )


def _today() -> str:
    return timezone.localdate().isoformat()


@require_GET
def outcomes_csv(request: HttpRequest) -> HttpResponse:
    try:
        group_by, filters = parse_report_query(request.GET)
    except InvalidInput as error:
        return invalid_query_response(error)
    report = outcomes_report(group_by=group_by, filters=filters)
    return csv_download(outcomes_csv_rows(report), f"outcomes-by-{group_by}-{_today()}.csv")


@require_GET
def open_risk_csv(request: HttpRequest) -> HttpResponse:
    try:
        _, filters = parse_report_query(request.GET, allow_group_by=False)
        period = parse_period(request.GET)
    except InvalidInput as error:
        return invalid_query_response(error)
    report = open_risk_report(period=period, filters=filters)
    return csv_download(open_risk_csv_rows(report), f"open-risk-by-{period}-{_today()}.csv")


@require_GET
def trend_csv(request: HttpRequest) -> HttpResponse:
    try:
        _, filters = parse_report_query(request.GET, allow_group_by=False)
    except InvalidInput as error:
        return invalid_query_response(error)
    report = trend_report(filters=filters)
    return csv_download(trend_csv_rows(report), f"trend-{_today()}.csv")
