"""Two learning reports (docs/domain.md): Program effectiveness and Flag coverage.

**Program effectiveness** asks whether records whose playbook steps (and
weekly-review action items) were done on time were saved more often. Each row
splits the saved and churned records having a task of one step into *on time*
and *not on time*, with the save rate of each group, its Wilson 95% interval
and the median days to close. It shows correlation, not proof.

**Flag coverage** asks how many churns the team saw coming: a churned renewal
is *flagged* when its account had a risk record opened between 365 and 30
days before the churn date.

Both are aggregated by the database with a fixed number of queries whatever
the number of records (Program effectiveness two on PostgreSQL, five
elsewhere, where the medians come from ``window_medians``; Flag coverage
three). Python only computes the rates and intervals from the aggregated
counts of each row, and the totals from the handful of aggregated groups.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from django.db.models import (
    Count,
    DateField,
    DurationField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import TruncDate

from accounts.models import Renewal, RenewalOutcome
from core import dates as date_range
from core.csv_files import cell
from core.exceptions import InvalidInput
from risks.models import RiskRecord, RiskStatus, Task, TaskSource

from .selectors import (
    DATE_MESSAGE,
    RATE_PLACES,
    SUM_FIELD,
    TOTAL_LABEL,
    Median,
    ReportFilters,
    as_money,
    closed_records,
    days_to_close,
    duration_to_days,
    median_in_aggregate,
    parse_date,
    parse_report_query,
    server_timezone,
    window_medians,
)

# A group smaller than this shows its counts but no rate: the interval would
# span most of 0 to 100%.
MIN_RECORDS = 5
FEW_RECORDS = "Fewer than 5 records"
# The normal quantile of a two-sided 95% interval.
WILSON_Z = Decimal("1.96")

REVIEW_LABEL = "Review action items"
STEP_KIND = "playbook_step"
REVIEW_KIND = "review"

# A churn is flagged by a record opened in [churn - 365, churn - 30] days.
FLAG_EARLIEST_DAYS = 365
FLAG_LATEST_DAYS = 30

GROUP_COLUMNS = ["records", "saved", "save_rate", "save_rate_low", "save_rate_high"]
PROGRAM_COLUMNS = [
    "kind",
    "step_id",
    "label",
    *(f"on_time_{name}" for name in [*GROUP_COLUMNS, "median_days_to_close"]),
    *(f"not_on_time_{name}" for name in [*GROUP_COLUMNS, "median_days_to_close"]),
]
COVERAGE_COLUMNS = [
    "dimension",
    "key",
    "label",
    "churns",
    "flagged",
    "coverage",
    "arr_churned",
    "arr_flagged",
]


# --- input -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalFilters:
    """``renewed_after`` / ``renewed_before`` are inclusive dates on the
    renewal's ``renewal_date``; ``region`` and ``segment`` are codes."""

    renewed_after: dt.date | None = None
    renewed_before: dt.date | None = None
    region: str | None = None
    segment: str | None = None


def parse_program_query(query: Mapping[str, str]) -> ReportFilters:
    """``closed_after``, ``closed_before``, ``region``, ``segment``: the
    Outcomes report's filters, read and refused exactly as it reads them."""
    _, filters = parse_report_query(query, allow_group_by=False)
    return filters


def parse_renewal_query(query: Mapping[str, str]) -> RenewalFilters:
    """``renewed_after``, ``renewed_before``, ``region`` and ``segment`` (blank
    means absent), with the messages of ``parse_report_query``: every problem
    is raised at once as ``InvalidInput({parameter: [message]})``."""
    errors: dict[str, list[str]] = {}
    days: dict[str, dt.date | None] = {}
    for name in ("renewed_after", "renewed_before"):
        raw = str(query.get(name) or "").strip()
        days[name] = parse_date(raw) if raw else None
        if raw and days[name] is None:
            errors[name] = [DATE_MESSAGE]
        elif days[name] is not None and not date_range.in_range(days[name]):
            errors[name] = [date_range.OUT_OF_RANGE]
    after, before = days["renewed_after"], days["renewed_before"]
    if after and before and after > before:
        errors.setdefault("renewed_before", []).append(
            "renewed_before must be on or after renewed_after."
        )
    codes = {name: query.get(name) for name in ("region", "segment") if name in query}
    filters = ReportFilters()
    try:
        filters = parse_report_query(codes, allow_group_by=False)[1]
    except InvalidInput as invalid:
        errors.update(invalid.errors)
    if errors:
        raise InvalidInput(errors)
    return RenewalFilters(
        renewed_after=after, renewed_before=before, region=filters.region, segment=filters.segment
    )


# --- shared pieces --------------------------------------------------------------------------


def rate(part: int, whole: int) -> Decimal | None:
    """part / whole, four places (half up); None when ``whole`` is 0."""
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def wilson_interval(
    successes: int, trials: int, *, places: Decimal = RATE_PLACES
) -> tuple[Decimal, Decimal] | None:
    """The Wilson score interval at 95% (z = 1.96) of ``successes`` out of
    ``trials``, each bound rounded to ``places`` (four by default; a page
    showing percentages with one decimal asks for three, so that it rounds
    once); None without trials.

    centre = (p + z²/2n) / (1 + z²/n)
    half   = z · √(p(1 - p)/n + z²/4n²) / (1 + z²/n)
    """
    if trials <= 0:
        return None
    with localcontext() as context:
        context.prec = 28
        n = Decimal(trials)
        p = Decimal(successes) / n
        z2 = WILSON_Z * WILSON_Z
        denominator = 1 + z2 / n
        centre = (p + z2 / (2 * n)) / denominator
        half = WILSON_Z * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt() / denominator
        low, high = centre - half, centre + half
    return (
        max(low, Decimal(0)).quantize(places, rounding=ROUND_HALF_UP),
        min(high, Decimal(1)).quantize(places, rounding=ROUND_HALF_UP),
    )


# --- Program effectiveness ------------------------------------------------------------------


@dataclass
class ProgramGroup:
    """The records of a row on time, or not: counts always; the save rate and
    its interval only from ``MIN_RECORDS`` records on."""

    records: int
    saved: int
    save_rate: Decimal | None
    save_rate_low: Decimal | None
    save_rate_high: Decimal | None
    median_days_to_close: Decimal | None

    @property
    def note(self) -> str | None:
        return FEW_RECORDS if self.records < MIN_RECORDS else None


@dataclass
class ProgramRow:
    kind: str  # STEP_KIND or REVIEW_KIND
    step_id: int | None
    label: str
    on_time: ProgramGroup
    not_on_time: ProgramGroup


@dataclass
class ProgramReport:
    filters: ReportFilters
    rows: list[ProgramRow]


def program_group(records: int, saved: int, median: dt.timedelta | None) -> ProgramGroup:
    save_rate = low = high = None
    interval = wilson_interval(saved, records)
    if records >= MIN_RECORDS and interval is not None:
        save_rate = rate(saved, records)
        low, high = interval
    return ProgramGroup(
        records=records,
        saved=saved,
        save_rate=save_rate,
        save_rate_low=low,
        save_rate_high=high,
        median_days_to_close=duration_to_days(median),
    )


def step_label(playbook: str, position: int, title: str) -> str:
    return f"{playbook} — {position}. {title}"


def _done_day() -> TruncDate:
    return TruncDate("done_at", tzinfo=server_timezone())


def late_tasks() -> QuerySet[Task]:
    """Tasks not done on time: never done, or done (on its day in the server's
    time zone) after the due date. A done task without a due date is on time."""
    return (
        Task.objects.order_by()
        .annotate(done_day=_done_day())
        .filter(Q(done_at__isnull=True) | Q(due_date__isnull=False, done_day__gt=F("due_date")))
    )


def outcome_records(filters: ReportFilters) -> QuerySet[RiskRecord]:
    """Records closed saved or churned in the period and scope: withdrawn
    ones have no outcome to compare."""
    return closed_records(filters).filter(status__in=[RiskStatus.SAVED, RiskStatus.CHURNED])


def _group_aggregates(*, saved: Q, with_median: bool) -> dict[str, Any]:
    aggregates: dict[str, Any] = {"records": Count("pk"), "saved": Count("pk", filter=saved)}
    if with_median:
        aggregates["median"] = Median(days_to_close(), output_field=DurationField())
    return aggregates


def _row(
    kind: str,
    step_id: int | None,
    label: str,
    groups: Mapping[bool, Mapping[str, Any]],
    medians: Mapping[bool, dt.timedelta | None],
) -> ProgramRow:
    """A row from its (at most two) aggregated groups, keyed by lateness."""

    def group(late: bool) -> ProgramGroup:
        values = groups.get(late, {})
        return program_group(values.get("records", 0), values.get("saved", 0), medians.get(late))

    return ProgramRow(
        kind=kind, step_id=step_id, label=label, on_time=group(False), not_on_time=group(True)
    )


def _step_rows(records: QuerySet[RiskRecord], in_aggregate: bool) -> list[ProgramRow]:
    """One row per playbook step. The rows grouped are tasks, one per (record,
    step): the record's first task of the step stands for all of them, and the
    record is late for the step when any task of the step is late. The
    database groups by step and lateness; Python pairs each step's two groups."""
    tasks = (
        Task.objects.order_by()
        .filter(step__isnull=False, risk__in=records.values("pk"))
        .filter(
            ~Exists(
                Task.objects.filter(
                    risk=OuterRef("risk"), step=OuterRef("step"), pk__lt=OuterRef("pk")
                )
            )
        )
        # days_to_close() reads these names, so the median helpers work on tasks too.
        .annotate(opened_at=F("risk__opened_at"), closed_at=F("risk__closed_at"))
    )
    late = Exists(late_tasks().filter(risk=OuterRef("risk"), step=OuterRef("step")))
    groups = (
        tasks.values(
            "step_id",
            playbook_id=F("step__playbook_id"),
            playbook_name=F("step__playbook__name"),
            position=F("step__position"),
            step_title=F("step__title"),
            late=late,
        )
        .annotate(
            **_group_aggregates(saved=Q(risk__status=RiskStatus.SAVED), with_median=in_aggregate)
        )
        .order_by("playbook_name", "playbook_id", "position", "step_id", "late")
    )
    steps: dict[int, tuple[str, dict[bool, Mapping[str, Any]]]] = {}
    for values in groups:
        label = step_label(values["playbook_name"], values["position"], values["step_title"])
        steps.setdefault(values["step_id"], (label, {}))[1][bool(values["late"])] = values
    if in_aggregate:
        medians = {
            (step_id, late): values["median"]
            for step_id, (_, by_lateness) in steps.items()
            for late, values in by_lateness.items()
        }
    else:
        medians = {
            (step_id, is_late): median
            for is_late, subset in ((False, tasks.exclude(late)), (True, tasks.filter(late)))
            for step_id, median in window_medians(subset, F("step_id")).items()
        }
    return [
        _row(
            STEP_KIND,
            step_id,
            label,
            by_lateness,
            {is_late: medians.get((step_id, is_late)) for is_late in (False, True)},
        )
        for step_id, (label, by_lateness) in steps.items()
    ]


def _review_row(records: QuerySet[RiskRecord], in_aggregate: bool) -> ProgramRow | None:
    """The records with at least one review action item; on time when every
    one of them was done on time."""
    reviewed = records.filter(
        Exists(Task.objects.filter(risk=OuterRef("pk"), source=TaskSource.REVIEW))
    )
    late = Exists(late_tasks().filter(risk=OuterRef("pk"), source=TaskSource.REVIEW))
    groups = {
        bool(values["late"]): values
        for values in reviewed.values(late=late).annotate(
            **_group_aggregates(saved=Q(status=RiskStatus.SAVED), with_median=in_aggregate)
        )
    }
    if not groups:
        return None
    if in_aggregate:
        medians = {is_late: values["median"] for is_late, values in groups.items()}
    else:
        medians = {bool(key): median for key, median in window_medians(reviewed, late).items()}
    return _row(REVIEW_KIND, None, REVIEW_LABEL, groups, medians)


def program_effectiveness(*, filters: ReportFilters | None = None) -> ProgramReport:
    """Saved and churned records closed in the period (withdrawn left out), one
    row per playbook step over the records having a task of that step, sorted
    by playbook name and step position, then the "Review action items" row over
    the records having a review task. Each row splits its records into on time
    and not on time (see ``late_tasks``)."""
    filters = filters or ReportFilters()
    records = outcome_records(filters)
    in_aggregate = median_in_aggregate()
    rows = _step_rows(records, in_aggregate)
    review = _review_row(records, in_aggregate)
    if review is not None:
        rows.append(review)
    return ProgramReport(filters=filters, rows=rows)


# --- Flag coverage ------------------------------------------------------------------------


class DaysBefore(Func):
    """A date column minus a whole number of days, as a date on both databases
    (Django's date - interval is a timestamp on PostgreSQL and a datetime
    string on SQLite, neither comparable with a plain date)."""

    output_field = DateField()

    def __init__(self, expression: Any, days: int) -> None:
        super().__init__(expression, Value(int(days)))

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return super().as_sql(
            compiler, connection, template="(%(expressions)s)", arg_joiner=" - ", **extra
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return super().as_sql(
            compiler,
            connection,
            template="date(%(expressions)s || ' days')",
            arg_joiner=", '-' || ",
            **extra,
        )


def _opened_day() -> TruncDate:
    return TruncDate("opened_at", tzinfo=server_timezone())


def flagged() -> Exists:
    """Whether the churn's account had a record opened (its day in the server's
    time zone) from 365 to 30 days before the churn date, both included."""
    return Exists(
        RiskRecord.objects.order_by()
        .annotate(opened_day=_opened_day())
        .filter(
            account=OuterRef("account"),
            opened_day__gte=DaysBefore(OuterRef("renewal_date"), FLAG_EARLIEST_DAYS),
            opened_day__lte=DaysBefore(OuterRef("renewal_date"), FLAG_LATEST_DAYS),
        )
    )


def churns(filters: RenewalFilters = RenewalFilters()) -> QuerySet[Renewal]:
    """The churned renewals the filters select."""
    scope = Q(outcome=RenewalOutcome.CHURNED)
    if filters.renewed_after:
        scope &= Q(renewal_date__gte=filters.renewed_after)
    if filters.renewed_before:
        scope &= Q(renewal_date__lte=filters.renewed_before)
    if filters.region:
        scope &= Q(account__region__code=filters.region)
    if filters.segment:
        scope &= Q(account__segment__code=filters.segment)
    return Renewal.objects.filter(scope).order_by()


@dataclass
class CoverageRow:
    key: str | None
    label: str
    churns: int
    flagged: int
    coverage: Decimal | None
    arr_churned: Decimal
    arr_flagged: Decimal


@dataclass
class UnflaggedChurn:
    renewal_id: int
    account_id: int
    account_name: str
    region: str
    segment: str
    churn_date: dt.date
    arr_before: Decimal
    risk_id: int | None  # the newest record opened before the churn, if any
    risk_opened_on: dt.date | None

    @property
    def days_before_churn(self) -> int | None:
        if self.risk_opened_on is None:
            return None
        return (self.churn_date - self.risk_opened_on).days


@dataclass
class FlagCoverageReport:
    filters: RenewalFilters
    by_region: list[CoverageRow]
    by_segment: list[CoverageRow]
    totals: CoverageRow
    unflagged: list[UnflaggedChurn]


def _coverage_row(key: str | None, label: str, values: Mapping[str, Any]) -> CoverageRow:
    return CoverageRow(
        key=key,
        label=label,
        churns=values["churns"],
        flagged=values["flagged"],
        coverage=rate(values["flagged"], values["churns"]),
        arr_churned=as_money(values["arr_churned"]),
        arr_flagged=as_money(values["arr_flagged"]),
    )


def _coverage_groups(renewals: QuerySet[Renewal], code: str, name: str) -> list[CoverageRow]:
    is_flagged = Q(flagged())
    groups = (
        renewals.values(key=F(code), label=F(name))
        .annotate(
            churns=Count("pk"),
            flagged=Count("pk", filter=is_flagged),
            arr_churned=Sum("arr_before", output_field=SUM_FIELD),
            arr_flagged=Sum("arr_before", filter=is_flagged, output_field=SUM_FIELD),
        )
        .order_by("key")
    )
    return [_coverage_row(values["key"], values["label"], values) for values in groups]


def unflagged_churns(renewals: QuerySet[Renewal]) -> list[UnflaggedChurn]:
    """The churns no record flagged, newest first, each with the newest record
    of its account opened before the churn date (too late, or too early)."""
    newest = (
        RiskRecord.objects.annotate(opened_day=_opened_day())
        .filter(account=OuterRef("account"), opened_day__lt=OuterRef("renewal_date"))
        .order_by("-opened_at", "-pk")
    )
    rows = (
        renewals.filter(~flagged())
        .annotate(
            risk_id=Subquery(newest.values("pk")[:1]),
            risk_opened_on=Subquery(newest.values("opened_day")[:1], output_field=DateField()),
        )
        .values(
            "pk",
            "account_id",
            "renewal_date",
            "arr_before",
            "risk_id",
            "risk_opened_on",
            account_name=F("account__name"),
            region=F("account__region__code"),
            segment=F("account__segment__code"),
        )
        .order_by("-renewal_date", "account_name", "pk")
    )
    return [
        UnflaggedChurn(
            renewal_id=values["pk"],
            account_id=values["account_id"],
            account_name=values["account_name"],
            region=values["region"],
            segment=values["segment"],
            churn_date=values["renewal_date"],
            arr_before=as_money(values["arr_before"]),
            risk_id=values["risk_id"],
            risk_opened_on=values["risk_opened_on"],
        )
        for values in rows
    ]


def flag_coverage(*, filters: RenewalFilters = RenewalFilters()) -> FlagCoverageReport:
    """Churns in the period and scope: per region and per segment (sorted by
    code) the churns, those flagged in time, coverage = flagged / churns and
    their ARR before the churn; the totals; and the churns not flagged."""
    renewals = churns(filters)
    by_region = _coverage_groups(renewals, "account__region__code", "account__region__name")
    by_segment = _coverage_groups(renewals, "account__segment__code", "account__segment__name")
    # Every churn has exactly one region, so the totals add up the region groups.
    totals = {
        name: sum(
            (getattr(row, name) for row in by_region), Decimal(0) if name.startswith("arr_") else 0
        )
        for name in ("churns", "flagged", "arr_churned", "arr_flagged")
    }
    return FlagCoverageReport(
        filters=filters,
        by_region=by_region,
        by_segment=by_segment,
        totals=_coverage_row(None, TOTAL_LABEL, totals),
        unflagged=unflagged_churns(renewals),
    )


# --- CSV ----------------------------------------------------------------------------------


def _group_cells(group: ProgramGroup) -> list[str]:
    return [
        cell(value)
        for value in (
            group.records,
            group.saved,
            group.save_rate,
            group.save_rate_low,
            group.save_rate_high,
            group.median_days_to_close,
        )
    ]


def program_csv_rows(report: ProgramReport) -> Iterable[list[str]]:
    """Header, then one line per row; a rate of fewer than 5 records is blank."""
    yield list(PROGRAM_COLUMNS)
    for row in report.rows:
        yield [
            cell(row.kind),
            cell(row.step_id),
            cell(row.label),
            *_group_cells(row.on_time),
            *_group_cells(row.not_on_time),
        ]


def _coverage_cells(dimension: str, row: CoverageRow) -> list[str]:
    return [
        cell(value)
        for value in (
            dimension,
            row.key,
            row.label,
            row.churns,
            row.flagged,
            row.coverage,
            row.arr_churned,
            row.arr_flagged,
        )
    ]


def coverage_csv_rows(report: FlagCoverageReport) -> Iterable[list[str]]:
    """Header, the region rows, the segment rows, then the totals (dimension
    "total", key blank, label "Total")."""
    yield list(COVERAGE_COLUMNS)
    for row in report.by_region:
        yield _coverage_cells("region", row)
    for row in report.by_segment:
        yield _coverage_cells("segment", row)
    yield _coverage_cells("total", report.totals)
