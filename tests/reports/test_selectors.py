"""The report selectors on a fixed dataset whose figures are worked out by hand
below (the formulas of docs/domain.md). Durations are chosen so that every median is exact in
tenths of a day, or lands on a half to check the rounding (half up).

Closed records, each on its own account (carl is the CSM in EMEA, nina in NA;
times 2025, UTC, the server's TIME_ZONE; durations in days):

  #  region segment     primary          secondary  tier status    at risk retained closed      days
  1  EMEA   enterprise  low-usage        defects    3    saved      100000   100000 01-11 00h   10.0
  2  EMEA   enterprise  low-usage        -          2    saved       80000    50000 02-09 12h   35.5
  3  EMEA   smb         defects          low-usage  1    churned     40000        0 02-21 18h  20.75
  4  NA     enterprise  defects          -          3    churned     60000        0 04-02 06h  32.25
  5  NA     smb         legacy-pricing*  -          1    withdrawn   20000        0 04-04 00h    3.0
  6  NA     smb         legacy-pricing*  low-usage  2    saved       30000    30000 05-20 00h   66.0
  7  EMEA   mid-market  lost-champion    -          1    withdrawn   10000        0 06-02 00h    1.0

(*) inactive cause, category "commercial" (added by operations). #2 is a
downsell: 30000 lost. Open records (never in Outcomes or Trend):

  8  EMEA   enterprise  carl  tier 2  70000  renewal 2025-07-15
  9  NA     smb         nina  tier 1  25000  renewal 2025-08-03
  10 NA     enterprise  nina  tier 3  45000  renewal 2025-07-01
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.exceptions import InvalidInput
from reports import selectors as reports
from reports.selectors import OutcomeRow, ReportFilters
from risks.models import RiskRecord, RiskStatus, RootCause
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC


def at(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=UTC)


@pytest.fixture
def dataset() -> dict[str, object]:
    emea = factories.RegionFactory(code="EMEA", name="Europe")
    na = factories.RegionFactory(code="NA", name="North America", timezone="America/New_York")
    carl = factories.CsmFactory(username="carl", region=emea)
    nina = factories.CsmFactory(username="nina", region=na)
    low_usage = RootCause.objects.get(code="low-usage")
    defects = RootCause.objects.get(code="defects")
    lost_champion = RootCause.objects.get(code="lost-champion")
    legacy_pricing = factories.RootCauseFactory(
        code="legacy-pricing", name="Legacy pricing", category="commercial", active=False
    )
    people = {"EMEA": (emea, carl), "NA": (na, nina)}

    def record(
        region: str,
        segment: str,
        primary: RootCause,
        secondary: RootCause | None,
        tier: int,
        status: str,
        arr_at_risk: int,
        arr_retained: int | None = None,
        opened_at: dt.datetime | None = None,
        closed_at: dt.datetime | None = None,
        renewal_date: dt.date | None = None,
    ) -> RiskRecord:
        region_obj, csm = people[region]
        account = factories.AccountFactory(
            region=region_obj,
            csm=csm,
            segment=factories.SegmentFactory(code=segment),
            arr=D(arr_at_risk),
            renewal_date=renewal_date or dt.date(2025, 12, 31),
        )
        return factories.RiskRecordFactory(
            account=account,
            primary_cause=primary,
            secondary_cause=secondary,
            tier=tier if status == RiskStatus.OPEN else 1,
            max_tier=tier,
            status=status,
            arr_at_risk=D(arr_at_risk),
            arr_retained=None if arr_retained is None else D(arr_retained),
            opened_at=opened_at or at(6, 1),
            closed_at=closed_at,
        )

    S, C, W, OPEN = RiskStatus.SAVED, RiskStatus.CHURNED, RiskStatus.WITHDRAWN, RiskStatus.OPEN
    record("EMEA", "enterprise", low_usage, defects, 3, S, 100000, 100000, at(1, 1), at(1, 11))
    record("EMEA", "enterprise", low_usage, None, 2, S, 80000, 50000, at(1, 5), at(2, 9, 12))
    record("EMEA", "smb", defects, low_usage, 1, C, 40000, 0, at(2, 1), at(2, 21, 18))
    record("NA", "enterprise", defects, None, 3, C, 60000, 0, at(3, 1), at(4, 2, 6))
    record("NA", "smb", legacy_pricing, None, 1, W, 20000, 0, at(4, 1), at(4, 4))
    record("NA", "smb", legacy_pricing, low_usage, 2, S, 30000, 30000, at(3, 15), at(5, 20))
    record("EMEA", "mid-market", lost_champion, None, 1, W, 10000, 0, at(6, 1), at(6, 2))
    record("EMEA", "enterprise", low_usage, None, 2, OPEN, 70000, renewal_date=dt.date(2025, 7, 15))
    record("NA", "smb", defects, None, 1, OPEN, 25000, renewal_date=dt.date(2025, 8, 3))
    record("NA", "enterprise", defects, None, 3, OPEN, 45000, renewal_date=dt.date(2025, 7, 1))
    return {"carl": carl, "nina": nina}


def row(
    key: str | int | None,
    label: str,
    saved: int,
    churned: int,
    withdrawn: int,
    rate: str | None,
    arr_saved: str,
    arr_lost: str,
    median: str | None,
) -> OutcomeRow:
    return OutcomeRow(
        key=key,
        label=label,
        saved=saved,
        churned=churned,
        withdrawn=withdrawn,
        save_rate=None if rate is None else D(rate),
        arr_saved=D(arr_saved),
        arr_lost=D(arr_lost),
        median_days_to_close=None if median is None else D(median),
    )


ALL_TOTALS = row(None, "Total", 3, 2, 2, "0.6000", "180000.00", "130000.00", "20.8")


# --- Outcomes: every group_by --------------------------------------------------------------


def test_outcomes_by_primary_cause_is_the_default_and_reports_inactive_causes(dataset):
    report = reports.outcomes_report()
    assert report.group_by == "primary_cause"
    assert report.rows == [
        row("defects", "Defects", 0, 2, 0, "0.0000", "0.00", "100000.00", "26.5"),
        row("legacy-pricing", "Legacy pricing", 1, 0, 1, "1.0000", "30000.00", "0.00", "34.5"),
        row("lost-champion", "Lost champion or sponsor", 0, 0, 1, None, "0.00", "0.00", "1.0"),
        row("low-usage", "Low usage", 2, 0, 0, "1.0000", "150000.00", "30000.00", "22.8"),
    ]
    assert report.totals == ALL_TOTALS


def test_outcomes_by_secondary_cause_puts_records_without_one_in_a_last_null_row(dataset):
    report = reports.outcomes_report(group_by="secondary_cause")
    assert report.rows == [
        row("defects", "Defects", 1, 0, 0, "1.0000", "100000.00", "0.00", "10.0"),
        row("low-usage", "Low usage", 1, 1, 0, "0.5000", "30000.00", "40000.00", "43.4"),
        row(None, "No secondary cause", 1, 1, 2, "0.5000", "50000.00", "90000.00", "17.6"),
    ]
    assert report.totals == ALL_TOTALS


def test_outcomes_by_category_labels_an_admin_added_category(dataset):
    report = reports.outcomes_report(group_by="category")
    assert report.rows == [
        row("adoption", "Adoption", 2, 0, 1, "1.0000", "150000.00", "30000.00", "10.0"),
        row("commercial", "Commercial", 1, 0, 1, "1.0000", "30000.00", "0.00", "34.5"),
        row("product", "Product", 0, 2, 0, "0.0000", "0.00", "100000.00", "26.5"),
    ]


def test_outcomes_by_region(dataset):
    report = reports.outcomes_report(group_by="region")
    assert report.rows == [
        row("EMEA", "Europe", 2, 1, 1, "0.6667", "150000.00", "70000.00", "15.4"),
        row("NA", "North America", 1, 1, 1, "0.5000", "30000.00", "60000.00", "32.3"),
    ]
    assert report.totals == ALL_TOTALS


def test_outcomes_by_segment_has_a_null_save_rate_where_only_withdrawn(dataset):
    report = reports.outcomes_report(group_by="segment")
    assert report.rows == [
        row("enterprise", "Enterprise", 2, 1, 0, "0.6667", "150000.00", "90000.00", "32.3"),
        row("mid-market", "Mid-Market", 0, 0, 1, None, "0.00", "0.00", "1.0"),
        row("smb", "SMB", 1, 1, 1, "0.5000", "30000.00", "40000.00", "20.8"),
    ]


def test_outcomes_by_highest_tier(dataset):
    report = reports.outcomes_report(group_by="max_tier")
    assert report.rows == [
        row(1, "Tier 1 — CSM", 0, 1, 2, "0.0000", "0.00", "40000.00", "3.0"),
        row(2, "Tier 2 — Manager", 2, 0, 0, "1.0000", "80000.00", "30000.00", "50.8"),
        row(
            3,
            "Tier 3 — Cross-functional review",
            1,
            1,
            0,
            "0.5000",
            "100000.00",
            "60000.00",
            "21.1",
        ),
    ]


def test_outcomes_by_csm_are_keyed_by_user_id(dataset):
    carl, nina = dataset["carl"], dataset["nina"]
    report = reports.outcomes_report(group_by="csm")
    expected = sorted(
        [
            row(carl.pk, "Carl Example", 2, 1, 1, "0.6667", "150000.00", "70000.00", "15.4"),
            row(nina.pk, "Nina Example", 1, 1, 1, "0.5000", "30000.00", "60000.00", "32.3"),
        ],
        key=lambda expected_row: expected_row.key,
    )
    assert report.rows == expected


def test_outcomes_by_month_closed_are_chronological(dataset):
    report = reports.outcomes_report(group_by="month")
    assert report.rows == [
        row("2025-01", "Jan 2025", 1, 0, 0, "1.0000", "100000.00", "0.00", "10.0"),
        row("2025-02", "Feb 2025", 1, 1, 0, "0.5000", "50000.00", "70000.00", "28.1"),
        row("2025-04", "Apr 2025", 0, 1, 1, "0.0000", "0.00", "60000.00", "17.6"),
        row("2025-05", "May 2025", 1, 0, 0, "1.0000", "30000.00", "0.00", "66.0"),
        row("2025-06", "Jun 2025", 0, 0, 1, None, "0.00", "0.00", "1.0"),
    ]


def test_outcomes_by_quarter_closed(dataset):
    report = reports.outcomes_report(group_by="quarter")
    assert report.rows == [
        row("2025-Q1", "Q1 2025", 2, 1, 0, "0.6667", "150000.00", "70000.00", "20.8"),
        row("2025-Q2", "Q2 2025", 1, 1, 2, "0.5000", "30000.00", "60000.00", "17.6"),
    ]
    assert report.totals == ALL_TOTALS


def test_month_of_a_record_is_that_of_the_server_time_zone(dataset, settings):
    # 23:30 UTC on 31 January is already February in Berlin.
    factories.RiskRecordFactory(
        status=RiskStatus.SAVED,
        arr_retained=D("1.00"),
        arr_at_risk=D("1.00"),
        opened_at=at(1, 30),
        closed_at=dt.datetime(2025, 1, 31, 23, 30, tzinfo=UTC),
    )
    assert [r.saved for r in reports.outcomes_report(group_by="month").rows][:2] == [2, 1]
    settings.TIME_ZONE = "Europe/Berlin"
    assert [r.saved for r in reports.outcomes_report(group_by="month").rows][:2] == [1, 2]


def test_unknown_group_by_is_refused():
    with pytest.raises(InvalidInput) as refused:
        reports.outcomes_report(group_by="colour")
    assert "primary_cause" in refused.value.errors["group_by"][0]


# --- Outcomes: filters -----------------------------------------------------------------------


def totals_of(**filters: object) -> OutcomeRow:
    return reports.outcomes_report(filters=ReportFilters(**filters)).totals


def test_closed_after_includes_the_whole_first_day(dataset):
    # #3 closed on 21 February at 18:00; #4 to #7 after.
    assert totals_of(closed_after=dt.date(2025, 2, 21)) == row(
        None, "Total", 1, 2, 2, "0.3333", "30000.00", "100000.00", "20.8"
    )


def test_closed_before_includes_the_whole_last_day(dataset):
    # #1, #2, and #3 closed at 18:00 on the last day.
    assert totals_of(closed_before=dt.date(2025, 2, 21)) == row(
        None, "Total", 2, 1, 0, "0.6667", "150000.00", "70000.00", "20.8"
    )


def test_closed_between_two_dates(dataset):
    # #2, #3 and #4: durations 35.5, 20.75 and 32.25.
    assert totals_of(closed_after=dt.date(2025, 2, 9), closed_before=dt.date(2025, 4, 2)) == row(
        None, "Total", 1, 2, 0, "0.3333", "50000.00", "130000.00", "32.3"
    )


def test_region_filter(dataset):
    report = reports.outcomes_report(filters=ReportFilters(region="NA"))
    assert [r.key for r in report.rows] == ["defects", "legacy-pricing"]
    assert report.totals == row(None, "Total", 1, 1, 1, "0.5000", "30000.00", "60000.00", "32.3")


def test_segment_filter(dataset):
    # #3, #5, #6.
    assert totals_of(segment="smb") == row(
        None, "Total", 1, 1, 1, "0.5000", "30000.00", "40000.00", "20.8"
    )


def test_region_and_segment_filters_combine(dataset):
    report = reports.outcomes_report(
        group_by="region", filters=ReportFilters(region="EMEA", segment="smb")
    )
    assert report.rows == [row("EMEA", "Europe", 0, 1, 0, "0.0000", "0.00", "40000.00", "20.8")]


def test_no_matching_record_gives_no_rows_and_empty_totals(dataset):
    report = reports.outcomes_report(filters=ReportFilters(closed_after=dt.date(2030, 1, 1)))
    assert report.rows == []
    assert report.totals == row(None, "Total", 0, 0, 0, None, "0.00", "0.00", None)


def test_empty_database_gives_empty_reports():
    assert reports.outcomes_report(group_by="month").rows == []
    assert reports.open_risk_report().totals == (0, D("0.00"))
    trend = reports.trend_report()
    assert (trend.rows, trend.months, trend.categories) == ([], [], [])


def test_extreme_dates_bound_nothing(dataset):
    assert totals_of(closed_after=dt.date.min, closed_before=dt.date.max) == ALL_TOTALS


# --- the median -----------------------------------------------------------------------------


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values(dataset):
    # Region NA closed before May: #4 (32.25) and #5 (3.0) → 17.625 → 17.6.
    assert totals_of(region="NA", closed_before=dt.date(2025, 4, 30)).median_days_to_close == D(
        "17.6"
    )


@pytest.mark.parametrize("group_by", sorted(reports.GROUP_BY))
def test_window_fallback_gives_the_same_medians_as_percentile_cont(dataset, group_by):
    """The fallback for databases without PERCENTILE_CONT is plain SQL windows,
    so it runs here on PostgreSQL and must agree with the aggregate."""
    assert reports.median_in_aggregate()
    grouping = reports.GROUPINGS[group_by]
    records = reports.closed_records()
    expected = {
        values["group_key"]: values["median_duration"]
        for values in records.values(group_key=grouping.key()).annotate(
            median_duration=reports.Median(
                reports.days_to_close(), output_field=reports.DurationField()
            )
        )
    }
    assert reports.window_medians(records, grouping.key()) == expected
    assert reports.window_medians(records) == {None: dt.timedelta(days=20, hours=18)}


def test_fallback_report_equals_the_postgresql_report(dataset, monkeypatch):
    native = {g: reports.outcomes_report(group_by=g) for g in reports.GROUP_BY}
    monkeypatch.setattr(reports, "median_in_aggregate", lambda: False)
    for group_by, report in native.items():
        assert reports.outcomes_report(group_by=group_by) == report, group_by


def test_middle_average_and_median_of_a_list_of_durations():
    days = [dt.timedelta(days=n) for n in (3, 1, 10)]
    assert reports.median_of(days) == dt.timedelta(days=3)
    assert reports.median_of([*days, dt.timedelta(days=4)]) == dt.timedelta(days=3, hours=12)
    assert reports.median_of([]) is None
    assert reports.middle_average([dt.timedelta(days=1), dt.timedelta(days=2)]) == dt.timedelta(
        days=1, hours=12
    )
    with pytest.raises(ValueError):
        reports.middle_average(days)


def test_days_are_rounded_half_up_to_one_place():
    assert reports.duration_to_days(dt.timedelta(days=22, hours=18)) == D("22.8")
    assert reports.duration_to_days(dt.timedelta(hours=1)) == D("0.0")
    assert reports.duration_to_days(None) is None


def test_save_rate_excludes_withdrawn_and_is_null_without_outcome():
    assert reports.save_rate(2, 1) == D("0.6667")
    assert reports.save_rate(0, 0) is None
    assert reports.save_rate(0, 3) == D("0.0000")


# --- query counts ----------------------------------------------------------------------------


def queries_of(build) -> int:
    with CaptureQueriesContext(connection) as captured:
        build()
    return len(captured)


def test_query_count_does_not_grow_with_rows(dataset):
    small = {
        g: queries_of(lambda g=g: reports.outcomes_report(group_by=g)) for g in reports.GROUP_BY
    }
    cause = RootCause.objects.get(code="low-usage")
    for n in range(30):
        factories.RiskRecordFactory(
            primary_cause=factories.RootCauseFactory(code=f"extra-{n}", category=f"cat-{n}"),
            secondary_cause=cause,
            status=RiskStatus.CHURNED,
            arr_retained=D("0"),
            opened_at=at(1 + n % 12, 1),
            closed_at=dt.datetime(2024, 1 + n % 12, 2, tzinfo=UTC),
        )
    for group_by, count in small.items():
        assert count == 2, group_by
        assert queries_of(lambda g=group_by: reports.outcomes_report(group_by=g)) == count
    assert queries_of(reports.open_risk_report) == 1
    assert queries_of(reports.trend_report) == 1


# --- Open risk -------------------------------------------------------------------------------


def test_open_risk_by_renewal_month_and_tier(dataset):
    report = reports.open_risk_report()
    assert [(r.period, r.tier, r.count, r.arr_at_risk) for r in report.rows] == [
        ("2025-07", 2, 1, D("70000.00")),
        ("2025-07", 3, 1, D("45000.00")),
        ("2025-08", 1, 1, D("25000.00")),
    ]
    assert report.by_tier == [
        (1, 1, D("25000.00")),
        (2, 1, D("70000.00")),
        (3, 1, D("45000.00")),
    ]
    assert report.totals == (3, D("140000.00"))
    assert report.periods == ["2025-07", "2025-08"]


def test_open_risk_by_renewal_quarter_with_region_filter(dataset):
    report = reports.open_risk_report(period="quarter", filters=ReportFilters(region="NA"))
    assert [(r.period, r.tier, r.count, r.arr_at_risk) for r in report.rows] == [
        ("2025-Q3", 1, 1, D("25000.00")),
        ("2025-Q3", 3, 1, D("45000.00")),
    ]
    assert report.by_tier[1] == (2, 0, D("0.00"))
    assert report.totals == (2, D("70000.00"))


def test_open_risk_ignores_the_closed_dates_and_applies_segment(dataset):
    report = reports.open_risk_report(
        filters=ReportFilters(closed_after=dt.date(2030, 1, 1), segment="enterprise")
    )
    assert report.totals == (2, D("115000.00"))


# --- Trend --------------------------------------------------------------------------------


def test_trend_counts_saves_and_churn_per_month_and_category(dataset):
    report = reports.trend_report()
    assert [
        (r.month, r.category, r.category_label, r.saved, r.churned, r.arr_saved, r.arr_lost)
        for r in report.rows
    ] == [
        ("2025-01", "adoption", "Adoption", 1, 0, D("100000.00"), D("0.00")),
        ("2025-02", "adoption", "Adoption", 1, 0, D("50000.00"), D("30000.00")),
        ("2025-02", "product", "Product", 0, 1, D("0.00"), D("40000.00")),
        ("2025-04", "product", "Product", 0, 1, D("0.00"), D("60000.00")),
        ("2025-05", "commercial", "Commercial", 1, 0, D("30000.00"), D("0.00")),
    ]
    # Withdrawn-only June is left out; March has no outcome but keeps its place.
    assert report.months == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05"]
    assert report.categories == [
        ("adoption", "Adoption"),
        ("commercial", "Commercial"),
        ("product", "Product"),
    ]


def test_trend_filters(dataset):
    report = reports.trend_report(
        filters=ReportFilters(region="NA", closed_after=dt.date(2025, 5, 1))
    )
    assert [(r.month, r.category, r.saved) for r in report.rows] == [("2025-05", "commercial", 1)]
    assert report.months == ["2025-05"]


# --- parsing the query string -----------------------------------------------------------------


def test_parse_report_query_reads_every_parameter(dataset):
    group_by, filters = reports.parse_report_query(
        {
            "group_by": "region",
            "closed_after": "2025-01-01",
            "closed_before": "2025-03-31",
            "region": "EMEA",
            "segment": "smb",
        }
    )
    assert group_by == "region"
    assert filters == ReportFilters(dt.date(2025, 1, 1), dt.date(2025, 3, 31), "EMEA", "smb")


def test_parse_report_query_treats_blank_as_absent():
    assert reports.parse_report_query({"group_by": "", "region": " ", "closed_after": ""}) == (
        "primary_cause",
        ReportFilters(),
    )


def test_parse_report_query_says_what_is_allowed(dataset):
    with pytest.raises(InvalidInput) as refused:
        reports.parse_report_query(
            {
                "group_by": "colour",
                "closed_after": "01/02/2025",
                "closed_before": "2025-02-30",
                "region": "MARS",
                "segment": "x\x00",
            }
        )
    errors = refused.value.errors
    assert errors["group_by"] == [
        "Unknown group_by 'colour'; use one of: primary_cause, secondary_cause, category, "
        "region, segment, max_tier, csm, month, quarter."
    ]
    assert errors["closed_after"] == ["Enter a date as YYYY-MM-DD."]
    assert errors["closed_before"] == ["Enter a date as YYYY-MM-DD."]
    assert errors["region"] == ["Unknown region 'MARS'; use one of: EMEA, NA."]
    assert errors["segment"][0].startswith("Unknown segment 'x\\x00'; use one of: enterprise,")


def test_parse_report_query_refuses_dates_in_the_wrong_order():
    with pytest.raises(InvalidInput) as refused:
        reports.parse_report_query({"closed_after": "2025-03-01", "closed_before": "2025-02-01"})
    assert refused.value.errors == {
        "closed_before": ["closed_before must be on or after closed_after."]
    }


def test_parse_report_query_without_group_by_ignores_it():
    assert reports.parse_report_query({"group_by": "colour"}, allow_group_by=False)[0] == (
        "primary_cause"
    )


def test_parse_period():
    assert reports.parse_period({}) == "month"
    assert reports.parse_period({"period": "quarter"}) == "quarter"
    with pytest.raises(InvalidInput) as refused:
        reports.parse_period({"period": "week"})
    assert refused.value.errors == {
        "period": ["Unknown period 'week'; use one of: month, quarter."]
    }


# --- CSV ----------------------------------------------------------------------------------


def test_outcomes_csv_has_header_rows_and_totals(dataset):
    lines = list(reports.outcomes_csv_rows(reports.outcomes_report(group_by="secondary_cause")))
    assert lines[0] == reports.OUTCOME_COLUMNS
    assert lines[1] == [
        "defects", "Defects", "1", "0", "0", "1.0000", "100000.00", "0.00", "10.0"
    ]  # fmt: skip
    assert lines[3][:2] == ["", "No secondary cause"]
    assert lines[-1] == ["", "Total", "3", "2", "2", "0.6000", "180000.00", "130000.00", "20.8"]
    assert len(lines) == 5


def test_csv_cells_never_start_a_formula(dataset):
    factories.RootCauseFactory(code="formula", name="=HYPERLINK(1)")
    RiskRecord.objects.filter(primary_cause__code="defects").update(
        primary_cause=RootCause.objects.get(code="formula")
    )
    lines = list(reports.outcomes_csv_rows(reports.outcomes_report()))
    assert lines[1][:2] == ["formula", "'=HYPERLINK(1)"]


def test_open_risk_and_trend_csv(dataset):
    open_lines = list(reports.open_risk_csv_rows(reports.open_risk_report()))
    assert open_lines[0] == ["period", "tier", "count", "arr_at_risk"]
    assert open_lines[1] == ["2025-07", "2", "1", "70000.00"]
    assert open_lines[-1] == ["Total", "", "3", "140000.00"]
    trend_lines = list(reports.trend_csv_rows(reports.trend_report()))
    assert trend_lines[0] == reports.TREND_COLUMNS
    assert trend_lines[1] == ["2025-01", "adoption", "Adoption", "1", "0", "100000.00", "0.00"]
    assert len(trend_lines) == 6
