"""Flag coverage (reports.programs) on a dataset whose figures are worked out
by hand below (the formulas of docs/domain.md).

A churn is flagged when its account had a risk record opened (its day in the
server's TIME_ZONE, UTC here) from 365 to 30 days before the churn date, both
included. Churned renewals, each on its own account:

  #  account    region  segment     churn date  ARR before  records opened            flagged
  1  Alder      EMEA    enterprise  2026-03-31     100000   2026-03-01 (30 days)      yes
  2  Birch      EMEA    enterprise  2026-03-31      50000   2026-03-02 (29 days)      no
  3  Cedar      EMEA    smb         2026-03-31      20000   2025-03-30 (366 days)     no
  4  Dogwood    EMEA    smb         2026-03-31      30000   2025-03-31 (365 days)     yes
  5  Elm        NA      enterprise  2026-04-15      80000   none                      no
  6  Fir        NA      smb         2026-04-15      10000   2025-12-16 (120 days),    yes
                                                            2026-04-20 (after)
  7  Gale       NA      smb         2026-05-10      40000   2025-01-01 (494 days),    no
                                                            2026-05-10 (the day)

Not churns, left out: Hazel (EMEA, enterprise) renewed on 2026-03-31 and Ivy
(NA, smb) downsold on 2026-04-15, both with a record opened 60 days before.

By region:  EMEA 4 churns, 2 flagged (1, 4), coverage 2/4 = 0.5000,
                 ARR churned 100000 + 50000 + 20000 + 30000 = 200000, flagged 130000;
            NA   3 churns, 1 flagged (6), coverage 1/3 = 0.3333, ARR 130000, flagged 10000.
By segment: enterprise 3 churns (1, 2, 5), 1 flagged, 0.3333, ARR 230000, flagged 100000;
            smb 4 churns (3, 4, 6, 7), 2 flagged, 0.5000, ARR 100000, flagged 40000.
Total:      7 churns, 3 flagged, 3/7 = 0.428571 → 0.4286, ARR 330000, flagged 140000.

Unflagged, newest churn first, then by account name: Gale (newest record
before the churn 2025-01-01, 494 days; the one opened on the churn day is not
before it), Elm (none), Birch (2026-03-02, 29 days), Cedar (2025-03-30, 366 days).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.exceptions import InvalidInput
from reports import programs
from reports.programs import CoverageRow, RenewalFilters, UnflaggedChurn
from risks.models import RiskRecord, RiskStatus
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC
MARCH_31 = dt.date(2026, 3, 31)
APRIL_15 = dt.date(2026, 4, 15)
MAY_10 = dt.date(2026, 5, 10)


def opened_on(account, day: dt.date, hour: int = 12) -> RiskRecord:
    """A record opened on ``day`` (closed ten days later: an account has at
    most one open record)."""
    opened_at = dt.datetime.combine(day, dt.time(hour), tzinfo=UTC)
    return factories.RiskRecordFactory(
        account=account,
        status=RiskStatus.CHURNED,
        arr_retained=D("0"),
        opened_at=opened_at,
        closed_at=opened_at + dt.timedelta(days=10),
        closed_by=account.csm,
    )


def renewal(
    name: str,
    region,
    segment: str,
    day: dt.date,
    arr_before: str,
    opened: list[dt.date],
    outcome: str = "churned",
):
    account = factories.AccountFactory(
        name=name, region=region, segment=factories.SegmentFactory(code=segment)
    )
    records = [opened_on(account, when) for when in opened]
    arr_after = {"churned": D("0"), "renewed": D(arr_before), "downsell": D(arr_before) / 2}
    factories.RenewalFactory(
        account=account,
        renewal_date=day,
        outcome=outcome,
        arr_before=D(arr_before),
        arr_after=arr_after[outcome],
    )
    return account, records


@pytest.fixture
def dataset(region, other_region) -> dict[str, object]:
    days = dt.timedelta
    made = {
        "Alder": renewal("Alder", region, "enterprise", MARCH_31, "100000", [MARCH_31 - days(30)]),
        "Birch": renewal("Birch", region, "enterprise", MARCH_31, "50000", [MARCH_31 - days(29)]),
        "Cedar": renewal("Cedar", region, "smb", MARCH_31, "20000", [MARCH_31 - days(366)]),
        "Dogwood": renewal("Dogwood", region, "smb", MARCH_31, "30000", [MARCH_31 - days(365)]),
        "Elm": renewal("Elm", other_region, "enterprise", APRIL_15, "80000", []),
        "Fir": renewal(
            "Fir",
            other_region,
            "smb",
            APRIL_15,
            "10000",
            [APRIL_15 - days(120), APRIL_15 + days(5)],
        ),
        "Gale": renewal(
            "Gale", other_region, "smb", MAY_10, "40000", [dt.date(2025, 1, 1), MAY_10]
        ),
        "Hazel": renewal(
            "Hazel", region, "enterprise", MARCH_31, "60000", [MARCH_31 - days(60)], "renewed"
        ),
        "Ivy": renewal(
            "Ivy", other_region, "smb", APRIL_15, "60000", [APRIL_15 - days(60)], "downsell"
        ),
    }
    return {name: account for name, (account, _) in made.items()} | {
        f"{name} records": records for name, (_, records) in made.items()
    }


def coverage(key, label, churns, flagged, rate, arr_churned, arr_flagged) -> CoverageRow:
    return CoverageRow(
        key=key,
        label=label,
        churns=churns,
        flagged=flagged,
        coverage=None if rate is None else D(rate),
        arr_churned=D(arr_churned),
        arr_flagged=D(arr_flagged),
    )


# --- the figures ---------------------------------------------------------------------------


def test_rows_by_region_and_segment_and_totals_match_the_hand_computed_figures(dataset):
    report = programs.flag_coverage()

    assert report.by_region == [
        coverage("EMEA", "Europe", 4, 2, "0.5000", "200000.00", "130000.00"),
        coverage("NA", "North America", 3, 1, "0.3333", "130000.00", "10000.00"),
    ]
    assert report.by_segment == [
        coverage("enterprise", "Enterprise", 3, 1, "0.3333", "230000.00", "100000.00"),
        coverage("smb", "SMB", 4, 2, "0.5000", "100000.00", "40000.00"),
    ]
    assert report.totals == coverage(None, "Total", 7, 3, "0.4286", "330000.00", "140000.00")


@pytest.mark.parametrize(
    ("name", "flagged"),
    [
        ("Alder", True),  # opened exactly 30 days before
        ("Birch", False),  # 29 days: too late
        ("Cedar", False),  # 366 days: more than a year before
        ("Dogwood", True),  # exactly 365 days before
        ("Elm", False),  # no record
        ("Fir", True),  # 120 days before (a later record does not matter)
        ("Gale", False),  # too early, and on the churn day
    ],
)
def test_each_churn_is_flagged_only_by_a_record_opened_30_to_365_days_before(
    dataset, name, flagged
):
    unflagged = {churn.account_name for churn in programs.flag_coverage().unflagged}

    assert (name not in unflagged) is flagged


def test_unflagged_churns_are_listed_newest_first_with_the_newest_record_before_them(dataset):
    report = programs.flag_coverage()

    def churn(name, region, segment, day, arr, record_index, opened):
        account = dataset[name]
        risk_id = None if record_index is None else dataset[f"{name} records"][record_index].pk
        return UnflaggedChurn(
            renewal_id=account.renewals.get().pk,
            account_id=account.pk,
            account_name=name,
            region=region,
            segment=segment,
            churn_date=day,
            arr_before=D(arr),
            risk_id=risk_id,
            risk_opened_on=opened,
        )

    assert report.unflagged == [
        churn("Gale", "NA", "smb", MAY_10, "40000.00", 0, dt.date(2025, 1, 1)),
        churn("Elm", "NA", "enterprise", APRIL_15, "80000.00", None, None),
        churn("Birch", "EMEA", "enterprise", MARCH_31, "50000.00", 0, dt.date(2026, 3, 2)),
        churn("Cedar", "EMEA", "smb", MARCH_31, "20000.00", 0, dt.date(2025, 3, 30)),
    ]
    assert [churn.days_before_churn for churn in report.unflagged] == [494, None, 29, 366]


def test_the_opened_day_is_that_of_the_server_time_zone(region, settings):
    # Opened at 03:00 UTC on 2 March: 22:00 on 1 March in New York, 30 days
    # before the churn there, 29 in UTC.
    account = factories.AccountFactory(region=region)
    opened_on(account, dt.date(2026, 3, 2), hour=3)
    factories.RenewalFactory(account=account, renewal_date=MARCH_31, outcome="churned")

    assert programs.flag_coverage().totals.flagged == 0
    settings.TIME_ZONE = "America/New_York"
    assert programs.flag_coverage().totals.flagged == 1


def test_without_churns_there_are_no_rows_and_the_totals_are_zero(region):
    factories.RenewalFactory(renewal_date=MARCH_31, outcome="renewed")

    report = programs.flag_coverage()

    assert (report.by_region, report.by_segment, report.unflagged) == ([], [], [])
    assert report.totals == coverage(None, "Total", 0, 0, None, "0.00", "0.00")


# --- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "churns", "flagged", "unflagged"),
    [
        (RenewalFilters(renewed_after=APRIL_15), 3, 1, ["Gale", "Elm"]),
        (RenewalFilters(renewed_before=MARCH_31), 4, 2, ["Birch", "Cedar"]),
        (RenewalFilters(renewed_after=APRIL_15, renewed_before=APRIL_15), 2, 1, ["Elm"]),
        (RenewalFilters(renewed_before=dt.date(2026, 3, 30)), 0, 0, []),
        (RenewalFilters(region="NA"), 3, 1, ["Gale", "Elm"]),
        (RenewalFilters(segment="smb"), 4, 2, ["Gale", "Cedar"]),
        (RenewalFilters(region="EMEA", segment="enterprise"), 2, 1, ["Birch"]),
    ],
)
def test_period_region_and_segment_filters(dataset, filters, churns, flagged, unflagged):
    report = programs.flag_coverage(filters=filters)

    assert (report.totals.churns, report.totals.flagged) == (churns, flagged)
    assert [churn.account_name for churn in report.unflagged] == unflagged


def test_parse_renewal_query_reads_every_parameter(region):
    query = {
        "renewed_after": "2026-01-01",
        "renewed_before": " 2026-06-30 ",
        "region": "EMEA",
        "segment": "",
    }

    assert programs.parse_renewal_query(query) == RenewalFilters(
        renewed_after=dt.date(2026, 1, 1), renewed_before=dt.date(2026, 6, 30), region="EMEA"
    )


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ({"renewed_after": "1/2/2026"}, {"renewed_after": ["Enter a date as YYYY-MM-DD."]}),
        ({"renewed_before": "2026-02-30"}, {"renewed_before": ["Enter a date as YYYY-MM-DD."]}),
        (
            {"renewed_after": "0999-12-31"},
            {"renewed_after": ["Enter a date between 1900-01-01 and 9000-12-31."]},
        ),
        (
            {"renewed_after": "2026-02-01", "renewed_before": "2026-01-31"},
            {"renewed_before": ["renewed_before must be on or after renewed_after."]},
        ),
        (
            {"segment": "tiny"},
            {
                "segment": [
                    "Unknown segment 'tiny'; use one of: enterprise, mid-market, smb, strategic."
                ]
            },
        ),
        (
            {"renewed_after": "x", "region": "MARS"},
            {
                "renewed_after": ["Enter a date as YYYY-MM-DD."],
                "region": ["Unknown region 'MARS'; use one of: EMEA."],
            },
        ),
    ],
)
def test_parse_renewal_query_names_every_bad_field(region, query, errors):
    with pytest.raises(InvalidInput) as raised:
        programs.parse_renewal_query(query)

    assert raised.value.errors == errors


# --- queries and CSV -----------------------------------------------------------------------


def _more_churns(region, count: int) -> None:
    for index in range(count):
        account = factories.AccountFactory(region=region)
        if index % 2:
            opened_on(account, MARCH_31 - dt.timedelta(days=40 + index))
        factories.RenewalFactory(
            account=account, renewal_date=MARCH_31 - dt.timedelta(days=index), outcome="churned"
        )


def test_query_count_is_fixed_for_few_and_many_churns(region, django_assert_num_queries):
    # The region groups, the segment groups and the unflagged churns.
    _more_churns(region, 3)
    with django_assert_num_queries(3):
        few = programs.flag_coverage()
    _more_churns(region, 30)
    with django_assert_num_queries(3):
        many = programs.flag_coverage()

    assert (few.totals.churns, few.totals.flagged, len(few.unflagged)) == (3, 1, 2)
    assert (many.totals.churns, many.totals.flagged, len(many.unflagged)) == (33, 16, 17)


def test_csv_has_the_region_rows_the_segment_rows_and_the_totals(dataset):
    report = programs.flag_coverage()

    assert list(programs.coverage_csv_rows(report)) == [
        [
            "dimension",
            "key",
            "label",
            "churns",
            "flagged",
            "coverage",
            "arr_churned",
            "arr_flagged",
        ],
        ["region", "EMEA", "Europe", "4", "2", "0.5000", "200000.00", "130000.00"],
        ["region", "NA", "North America", "3", "1", "0.3333", "130000.00", "10000.00"],
        ["segment", "enterprise", "Enterprise", "3", "1", "0.3333", "230000.00", "100000.00"],
        ["segment", "smb", "SMB", "4", "2", "0.5000", "100000.00", "40000.00"],
        ["total", "", "Total", "7", "3", "0.4286", "330000.00", "140000.00"],
    ]
