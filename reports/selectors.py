"""The reports (docs/domain.md): Outcomes, Open risk and Trend.

Pure reads. Every figure is aggregated by the database (``values()`` +
``annotate()``); Python only formats the aggregated groups (keys, labels,
rounding) and adds up the handful of already-aggregated groups where a report
shows sub-totals. Each report costs a fixed number of queries whatever the
number of records: Outcomes two (the groups, and the median of the totals row,
whose counts and sums add up the groups; on databases without
``PERCENTILE_CONT`` the two are the groups and one for each kind of median),
Open risk one, Trend one.

The UI (HTML and CSV download) and the API (JSON and ``?format=csv``) both
parse their query string with ``parse_report_query`` and build CSV with the
``*_csv_rows`` helpers, so what is shown and what is downloaded agree.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, TruncMonth, TruncQuarter

from accounts.models import Region, Segment
from core import dates as date_range
from core.csv_files import cell
from core.exceptions import InvalidInput
from risks.models import CLOSED_STATUSES, RiskRecord, RiskStatus, Tier, category_label

GROUP_BY: dict[str, str] = {
    "primary_cause": "Primary cause",
    "secondary_cause": "Secondary cause",
    "category": "Category",
    "region": "Region",
    "segment": "Segment",
    "max_tier": "Highest tier",
    "csm": "CSM",
    "month": "Month closed",
    "quarter": "Quarter closed",
}

PERIODS: dict[str, str] = {"month": "Renewal month", "quarter": "Renewal quarter"}

NO_SECONDARY_CAUSE = "No secondary cause"
TOTAL_LABEL = "Total"

OUTCOME_COLUMNS = [
    "key",
    "label",
    "saved",
    "churned",
    "withdrawn",
    "save_rate",
    "arr_saved",
    "arr_lost",
    "median_days_to_close",
]
OPEN_RISK_COLUMNS = ["period", "tier", "count", "arr_at_risk"]
TREND_COLUMNS = [
    "month",
    "category",
    "category_label",
    "saved",
    "churned",
    "arr_saved",
    "arr_lost",
]

RATE_PLACES = Decimal("0.0001")
DAYS_PLACES = Decimal("0.1")
MONEY_PLACES = Decimal("0.01")
ZERO = Decimal("0.00")
MICROSECONDS_PER_DAY = Decimal(86_400 * 1_000_000)
# Wide enough for the sum of many 14-digit amounts.
SUM_FIELD = DecimalField(max_digits=20, decimal_places=2)

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_MESSAGE = "Enter a date as YYYY-MM-DD."


# --- input -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFilters:
    """``closed_after`` / ``closed_before`` are inclusive calendar dates in the
    server's TIME_ZONE; ``region`` and ``segment`` are codes."""

    closed_after: dt.date | None = None
    closed_before: dt.date | None = None
    region: str | None = None
    segment: str | None = None


def _one_of(values: Iterable[str]) -> str:
    return ", ".join(values) or "(none defined)"


def parse_date(raw: str) -> dt.date | None:
    if not DATE_RE.match(raw):
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def _known_code(model: type[Region] | type[Segment], code: str) -> bool:
    # A NUL byte makes PostgreSQL fail instead of finding nothing.
    return "\x00" not in code and model.objects.filter(code=code).exists()


def parse_report_query(
    query: Mapping[str, str],
    *,
    allow_group_by: bool = True,
    default_group_by: str = "primary_cause",
) -> tuple[str, ReportFilters]:
    """Reads ``group_by``, ``closed_after``, ``closed_before``, ``region`` and
    ``segment`` from a query string (blank means absent). Every problem is
    collected and raised at once as ``InvalidInput({parameter: [message]})``,
    each message saying what is allowed. Without ``allow_group_by`` the
    parameter is ignored and the default returned."""
    errors: dict[str, list[str]] = {}

    def text(name: str) -> str | None:
        value = query.get(name)
        if value is None:
            return None
        value = str(value).strip()
        return value or None

    group_by = default_group_by
    if allow_group_by:
        requested = text("group_by")
        if requested is not None:
            if requested in GROUP_BY:
                group_by = requested
            else:
                errors["group_by"] = [
                    f"Unknown group_by {requested!r}; use one of: {_one_of(GROUP_BY)}."
                ]

    dates: dict[str, dt.date | None] = {}
    for name in ("closed_after", "closed_before"):
        raw = text(name)
        dates[name] = None
        if raw is not None:
            dates[name] = parse_date(raw)
            if dates[name] is None:
                errors[name] = [DATE_MESSAGE]
            elif not date_range.in_range(dates[name]):
                errors[name] = [date_range.OUT_OF_RANGE]
    closed_after, closed_before = dates["closed_after"], dates["closed_before"]
    if closed_after and closed_before and closed_after > closed_before:
        errors.setdefault("closed_before", []).append(
            "closed_before must be on or after closed_after."
        )

    codes: dict[str, str | None] = {}
    for name, model in (("region", Region), ("segment", Segment)):
        codes[name] = text(name)
        if codes[name] is not None and not _known_code(model, codes[name]):
            allowed = model.objects.order_by("code").values_list("code", flat=True)
            errors[name] = [f"Unknown {name} {codes[name]!r}; use one of: {_one_of(allowed)}."]

    if errors:
        raise InvalidInput(errors)
    return group_by, ReportFilters(
        closed_after=closed_after,
        closed_before=closed_before,
        region=codes["region"],
        segment=codes["segment"],
    )


def parse_period(query: Mapping[str, str], *, default: str = "month") -> str:
    """``period`` of the Open-risk report: ``month`` or ``quarter``."""
    value = str(query.get("period") or "").strip() or default
    if value not in PERIODS:
        raise InvalidInput({"period": [f"Unknown period {value!r}; use one of: month, quarter."]})
    return value


# --- shared pieces --------------------------------------------------------------------------


def server_timezone() -> zoneinfo.ZoneInfo:
    """Months and quarters, and the day boundaries of the date filters, are
    those of the server's TIME_ZONE, whatever time zone a request activated."""
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _start_of_day(day: dt.date) -> dt.datetime | None:
    """The first instant of ``day`` in the server's time zone; None when the
    instant cannot be represented (a bound beyond year 1 or 9999 bounds nothing)."""
    try:
        start = dt.datetime.combine(day, dt.time.min, tzinfo=server_timezone())
        start.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return None
    return start


def _scope(filters: ReportFilters) -> Q:
    scope = Q()
    if filters.region:
        scope &= Q(account__region__code=filters.region)
    if filters.segment:
        scope &= Q(account__segment__code=filters.segment)
    return scope


def _closed_scope(filters: ReportFilters) -> Q:
    scope = Q(status__in=CLOSED_STATUSES) & _scope(filters)
    if filters.closed_after:
        start = _start_of_day(filters.closed_after)
        if start is not None:
            scope &= Q(closed_at__gte=start)
    if filters.closed_before and filters.closed_before < dt.date.max:
        end = _start_of_day(filters.closed_before + dt.timedelta(days=1))
        if end is not None:
            scope &= Q(closed_at__lt=end)
    return scope


def closed_records(filters: ReportFilters = ReportFilters()) -> QuerySet[RiskRecord]:
    """Records with an outcome that the filters select (ordering cleared so
    that it never joins the GROUP BY)."""
    return RiskRecord.objects.filter(_closed_scope(filters)).order_by()


def as_money(value: Decimal | float | int | None) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(str(value)).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)


def save_rate(saved: int, churned: int) -> Decimal | None:
    """saved / (saved + churned), four places; None when both are 0.
    Withdrawn records are no outcome of the process and do not count."""
    if saved + churned == 0:
        return None
    return (Decimal(saved) / Decimal(saved + churned)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def duration_to_days(duration: dt.timedelta | None) -> Decimal | None:
    """A duration as decimal days, one place (half up)."""
    if duration is None:
        return None
    microseconds = duration // dt.timedelta(microseconds=1)
    return (Decimal(microseconds) / MICROSECONDS_PER_DAY).quantize(
        DAYS_PLACES, rounding=ROUND_HALF_UP
    )


def month_key(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def quarter_key(day: dt.date) -> str:
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def month_label(day: dt.date) -> str:
    return day.strftime("%b %Y")


def quarter_label(day: dt.date) -> str:
    return f"Q{(day.month - 1) // 3 + 1} {day.year:04d}"


# --- the median ----------------------------------------------------------------------------


class Median(Aggregate):
    """PostgreSQL's continuous median, an ordered-set aggregate. Over an
    interval it gives an interval: the middle value, or the mean of the two
    middle values of an even count."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


def days_to_close() -> ExpressionWrapper:
    """closed_at - opened_at: an interval on PostgreSQL, microseconds on SQLite."""
    return ExpressionWrapper(F("closed_at") - F("opened_at"), output_field=DurationField())


def median_in_aggregate() -> bool:
    """Whether the database has PERCENTILE_CONT (PostgreSQL); elsewhere
    ``window_medians`` gives the same answer."""
    return connection.vendor == "postgresql"


def middle_average(durations: Sequence[dt.timedelta]) -> dt.timedelta | None:
    """The median of a sorted group given its middle value (odd count) or its
    two middle values (even count): what ``window_medians`` fetches."""
    if not durations:
        return None
    if len(durations) > 2:
        raise ValueError("Expected the one or two middle values of a group.")
    return sum(durations, dt.timedelta()) / len(durations)


def median_of(durations: Iterable[dt.timedelta]) -> dt.timedelta | None:
    """The median of a whole list, by the same rule (for checks by hand)."""
    ordered = sorted(durations)
    if not ordered:
        return None
    size = len(ordered)
    return middle_average(ordered[(size - 1) // 2 : size // 2 + 1])


def window_medians(
    records: QuerySet[RiskRecord], key: Any | None = None
) -> dict[Any, dt.timedelta]:
    """Median days to close per value of ``key`` (one group, keyed None, when
    ``key`` is None) for databases without PERCENTILE_CONT: the database ranks
    the durations of each group with ROW_NUMBER() and COUNT() windows and
    returns only the middle row (odd count) or the two middle rows (even
    count); Python averages those one or two values. One query; it runs on
    PostgreSQL as well, which is how the test suite checks it gives the same
    answer as PERCENTILE_CONT."""
    annotated = records.order_by().annotate(median_duration=days_to_close())
    partition = None
    if key is not None:
        annotated = annotated.annotate(median_key=key)
        partition = [F("median_key")]
    else:
        annotated = annotated.annotate(median_key=Value(None, output_field=DateField()))
    middle = annotated.annotate(
        median_position=Window(
            RowNumber(),
            partition_by=partition,
            order_by=[F("median_duration").asc(), F("pk").asc()],
        ),
        median_size=Window(Count("pk"), partition_by=partition),
    ).filter(
        # Positions p with size ≤ 2p ≤ size + 2: p = (n+1)/2 when n is odd,
        # n/2 and n/2 + 1 when it is even.
        median_size__lte=F("median_position") * 2,
        median_size__gte=F("median_position") * 2 - 2,
    )
    middles: dict[Any, list[dt.timedelta]] = {}
    for group_key, duration in middle.values_list("median_key", "median_duration"):
        middles.setdefault(group_key, []).append(duration)
    return {group_key: middle_average(values) for group_key, values in middles.items()}


# --- Outcomes --------------------------------------------------------------------------------


@dataclass
class OutcomeRow:
    key: str | int | None
    label: str
    saved: int
    churned: int
    withdrawn: int
    save_rate: Decimal | None
    arr_saved: Decimal
    arr_lost: Decimal
    median_days_to_close: Decimal | None


@dataclass
class OutcomesReport:
    group_by: str
    filters: ReportFilters
    rows: list[OutcomeRow]
    totals: OutcomeRow


@dataclass(frozen=True)
class _Grouping:
    """How one ``group_by`` groups: the key expression, any extra values the
    label needs (grouped too: they depend on the key), and the key and label
    of a row from its values."""

    key: Callable[[], Any]
    extra: Callable[[], dict[str, Any]]
    row_key: Callable[[dict[str, Any]], str | int | None]
    row_label: Callable[[dict[str, Any]], str]


def _month() -> TruncMonth:
    return TruncMonth("closed_at", output_field=DateField(), tzinfo=server_timezone())


def _quarter() -> TruncQuarter:
    return TruncQuarter("closed_at", output_field=DateField(), tzinfo=server_timezone())


def _tier_label(tier: int) -> str:
    try:
        return str(Tier(tier).label)
    except ValueError:
        return f"Tier {tier}"


def _person_label(values: dict[str, Any]) -> str:
    full_name = f"{values['csm_first_name']} {values['csm_last_name']}".strip()
    return full_name or values["csm_username"]


def _by_field(key_path: str, label_path: str | None = None) -> _Grouping:
    return _Grouping(
        key=lambda: F(key_path),
        extra=lambda: {"group_label": F(label_path)} if label_path else {},
        row_key=lambda values: values["group_key"],
        row_label=lambda values: values["group_label"] if label_path else str(values["group_key"]),
    )


GROUPINGS: dict[str, _Grouping] = {
    "primary_cause": _by_field("primary_cause__code", "primary_cause__name"),
    "secondary_cause": _Grouping(
        key=lambda: F("secondary_cause__code"),
        extra=lambda: {"group_label": F("secondary_cause__name")},
        row_key=lambda values: values["group_key"],
        row_label=lambda values: values["group_label"] or NO_SECONDARY_CAUSE,
    ),
    "category": _Grouping(
        key=lambda: F("primary_cause__category"),
        extra=dict,
        row_key=lambda values: values["group_key"],
        row_label=lambda values: category_label(values["group_key"]),
    ),
    "region": _by_field("account__region__code", "account__region__name"),
    "segment": _by_field("account__segment__code", "account__segment__name"),
    "max_tier": _Grouping(
        key=lambda: F("max_tier"),
        extra=dict,
        row_key=lambda values: values["group_key"],
        row_label=lambda values: _tier_label(values["group_key"]),
    ),
    "csm": _Grouping(
        key=lambda: F("account__csm"),
        extra=lambda: {
            "csm_first_name": F("account__csm__first_name"),
            "csm_last_name": F("account__csm__last_name"),
            "csm_username": F("account__csm__username"),
        },
        row_key=lambda values: values["group_key"],
        row_label=_person_label,
    ),
    "month": _Grouping(
        key=_month,
        extra=dict,
        row_key=lambda values: month_key(values["group_key"]),
        row_label=lambda values: month_label(values["group_key"]),
    ),
    "quarter": _Grouping(
        key=_quarter,
        extra=dict,
        row_key=lambda values: quarter_key(values["group_key"]),
        row_label=lambda values: quarter_label(values["group_key"]),
    ),
}


def _outcome_aggregates(*, with_median: bool) -> dict[str, Any]:
    saved = Q(status=RiskStatus.SAVED)
    churned = Q(status=RiskStatus.CHURNED)
    aggregates: dict[str, Any] = {
        "saved": Count("pk", filter=saved),
        "churned": Count("pk", filter=churned),
        "withdrawn": Count("pk", filter=Q(status=RiskStatus.WITHDRAWN)),
        "arr_saved": Sum("arr_retained", filter=saved, output_field=SUM_FIELD),
        # A downsell (retained < at risk) loses the difference.
        "arr_lost": Sum(
            Case(
                When(churned, then=F("arr_at_risk")),
                When(saved, then=F("arr_at_risk") - F("arr_retained")),
                default=Value(Decimal("0.00")),
                output_field=SUM_FIELD,
            ),
            output_field=SUM_FIELD,
        ),
    }
    if with_median:
        aggregates["median_duration"] = Median(days_to_close(), output_field=DurationField())
    return aggregates


def _outcome_row(
    key: str | int | None, label: str, values: dict[str, Any], median: dt.timedelta | None
) -> OutcomeRow:
    return OutcomeRow(
        key=key,
        label=label,
        saved=values["saved"],
        churned=values["churned"],
        withdrawn=values["withdrawn"],
        save_rate=save_rate(values["saved"], values["churned"]),
        arr_saved=as_money(values["arr_saved"]),
        arr_lost=as_money(values["arr_lost"]),
        median_days_to_close=duration_to_days(median),
    )


def _sum_groups(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The counts and sums of the totals row, from the aggregated groups."""
    return {
        name: sum(
            (values[name] or 0 for values in groups), Decimal(0) if name.startswith("arr_") else 0
        )
        for name in ("saved", "churned", "withdrawn", "arr_saved", "arr_lost")
    }


def outcomes_report(
    *, group_by: str = "primary_cause", filters: ReportFilters = ReportFilters()
) -> OutcomesReport:
    """Records closed in the filtered period, one row per group, sorted by key
    (months and quarters chronologically; the "no secondary cause" row last),
    and a totals row. ``median_days_to_close`` is over every closed record of
    the row, withdrawn ones included: it measures how long the process takes
    to reach an outcome."""
    if group_by not in GROUPINGS:
        raise InvalidInput(
            {"group_by": [f"Unknown group_by {group_by!r}; use one of: {_one_of(GROUP_BY)}."]}
        )
    grouping = GROUPINGS[group_by]
    records = closed_records(filters)
    in_aggregate = median_in_aggregate()
    aggregates = _outcome_aggregates(with_median=in_aggregate)

    groups = list(
        records.values(group_key=grouping.key(), **grouping.extra())
        .annotate(**aggregates)
        .order_by(F("group_key").asc(nulls_last=True))
    )
    # Every record is in exactly one group, so the totals' counts and sums add
    # up the groups; only the median needs the records again. Aggregating
    # nothing else in that second pass saves a tenth of the report's time on
    # a million records (make bench).
    totals = _sum_groups(groups)
    if in_aggregate:
        group_medians = {values["group_key"]: values["median_duration"] for values in groups}
        total_median = records.aggregate(
            median_duration=Median(days_to_close(), output_field=DurationField())
        )["median_duration"]
    else:
        group_medians = window_medians(records, grouping.key())
        total_median = window_medians(records).get(None)

    rows = [
        _outcome_row(
            grouping.row_key(values),
            grouping.row_label(values),
            values,
            group_medians.get(values["group_key"]),
        )
        for values in groups
    ]
    return OutcomesReport(
        group_by=group_by,
        filters=filters,
        rows=rows,
        totals=_outcome_row(None, TOTAL_LABEL, totals, total_median),
    )


# --- Open risk ------------------------------------------------------------------------------


@dataclass
class OpenRiskRow:
    period: str
    tier: int
    count: int
    arr_at_risk: Decimal


class TierTotal(NamedTuple):
    tier: int
    count: int
    arr_at_risk: Decimal


class OpenRiskTotals(NamedTuple):
    count: int
    arr_at_risk: Decimal


@dataclass
class OpenRiskReport:
    period: str
    filters: ReportFilters
    rows: list[OpenRiskRow]
    by_tier: list[TierTotal]
    totals: OpenRiskTotals
    periods: list[str] = field(default_factory=list)


def open_risk_report(
    *, period: str = "month", filters: ReportFilters = ReportFilters()
) -> OpenRiskReport:
    """Open records and their ARR at risk per renewal month (or quarter) of the
    account and current tier, sorted by period then tier. ``by_tier`` has
    every tier, lowest first, zero when none is open. The closed_* filters do
    not apply (open records have not closed); region and segment do."""
    if period not in PERIODS:
        raise InvalidInput({"period": [f"Unknown period {period!r}; use one of: month, quarter."]})
    truncate = TruncMonth if period == "month" else TruncQuarter
    to_key = month_key if period == "month" else quarter_key
    groups = (
        RiskRecord.objects.filter(Q(status=RiskStatus.OPEN) & _scope(filters))
        .order_by()
        .values(renewal_period=truncate("account__renewal_date"), current_tier=F("tier"))
        .annotate(count=Count("pk"), arr_at_risk=Sum("arr_at_risk", output_field=SUM_FIELD))
        .order_by("renewal_period", "current_tier")
    )
    rows = [
        OpenRiskRow(
            period=to_key(values["renewal_period"]),
            tier=values["current_tier"],
            count=values["count"],
            arr_at_risk=as_money(values["arr_at_risk"]),
        )
        for values in groups
    ]
    # Sub-totals of at most (periods x 3) aggregated groups, not of records.
    by_tier = [
        TierTotal(
            tier=tier,
            count=sum(row.count for row in rows if row.tier == tier),
            arr_at_risk=as_money(sum((row.arr_at_risk for row in rows if row.tier == tier), ZERO)),
        )
        for tier in sorted(Tier.values)
    ]
    return OpenRiskReport(
        period=period,
        filters=filters,
        rows=rows,
        by_tier=by_tier,
        totals=OpenRiskTotals(
            count=sum(row.count for row in rows),
            arr_at_risk=as_money(sum((row.arr_at_risk for row in rows), ZERO)),
        ),
        periods=sorted({row.period for row in rows}),
    )


# --- Trend ---------------------------------------------------------------------------------


@dataclass
class TrendRow:
    month: str
    category: str
    category_label: str
    saved: int
    churned: int
    arr_saved: Decimal
    arr_lost: Decimal


@dataclass
class TrendReport:
    filters: ReportFilters
    rows: list[TrendRow]
    months: list[str]
    categories: list[tuple[str, str]]


def _months_between(first: dt.date, last: dt.date) -> list[str]:
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def trend_report(*, filters: ReportFilters = ReportFilters()) -> TrendReport:
    """Saves and churn (counts and ARR) per month closed and category of the
    primary cause; withdrawn records are neither and are left out. ``months``
    runs without gaps from the first month to the last, so a chart's axis is
    evenly spaced; a month with no outcome has no rows."""
    aggregates = _outcome_aggregates(with_median=False)
    del aggregates["withdrawn"]
    groups = list(
        closed_records(filters)
        .filter(status__in=[RiskStatus.SAVED, RiskStatus.CHURNED])
        .values(month_closed=_month(), category=F("primary_cause__category"))
        .annotate(**aggregates)
        .order_by("month_closed", "category")
    )
    rows = [
        TrendRow(
            month=month_key(values["month_closed"]),
            category=values["category"],
            category_label=category_label(values["category"]),
            saved=values["saved"],
            churned=values["churned"],
            arr_saved=as_money(values["arr_saved"]),
            arr_lost=as_money(values["arr_lost"]),
        )
        for values in groups
    ]
    months = (
        _months_between(groups[0]["month_closed"], groups[-1]["month_closed"]) if groups else []
    )
    categories = sorted({(row.category, row.category_label) for row in rows})
    return TrendReport(filters=filters, rows=rows, months=months, categories=categories)


# --- CSV ----------------------------------------------------------------------------------


def _outcome_cells(row: OutcomeRow) -> list[str]:
    return [
        cell(value)
        for value in (
            row.key,
            row.label,
            row.saved,
            row.churned,
            row.withdrawn,
            row.save_rate,
            row.arr_saved,
            row.arr_lost,
            row.median_days_to_close,
        )
    ]


def outcomes_csv_rows(report: OutcomesReport) -> Iterable[list[str]]:
    """Header, one line per row, then the totals (key blank, label "Total")."""
    yield list(OUTCOME_COLUMNS)
    for row in report.rows:
        yield _outcome_cells(row)
    yield _outcome_cells(report.totals)


def open_risk_csv_rows(report: OpenRiskReport) -> Iterable[list[str]]:
    """Header, one line per (period, tier), then the totals (period "Total",
    tier blank)."""
    yield list(OPEN_RISK_COLUMNS)
    for row in report.rows:
        yield [
            cell(row.period),
            cell(row.tier),
            cell(row.count),
            cell(row.arr_at_risk),
        ]
    yield [TOTAL_LABEL, "", cell(report.totals.count), cell(report.totals.arr_at_risk)]


def trend_csv_rows(report: TrendReport) -> Iterable[list[str]]:
    """Header and one line per (month, category)."""
    yield list(TREND_COLUMNS)
    for row in report.rows:
        yield [
            cell(value)
            for value in (
                row.month,
                row.category,
                row.category_label,
                row.saved,
                row.churned,
                row.arr_saved,
                row.arr_lost,
            )
        ]
