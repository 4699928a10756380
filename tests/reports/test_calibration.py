"""The Health calibration selector (reports.calibration) against figures
worked out by hand on the dataset of tests/reports/calibration_data.py (read
its docstring first: every renewal, score and part is listed there).

These tests run again on SQLite (test_calibration_sqlite_parity.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.exceptions import InvalidInput
from reports.calibration import (
    CalibrationFilters,
    auc_from_counts,
    decile_label,
    health_calibration,
    lift,
    parse_calibration_query,
)
from reports.programs import RenewalFilters
from tests import factories
from tests.reports import calibration_data
from tests.reports.calibration_data import EMEA_RENEWAL, NA_RENEWAL, renewal, scored

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(csm, region, other_region):
    return calibration_data.build(csm, region, other_region)


def report_for(days_before: int = 90, **renewals: object):
    return health_calibration(
        filters=CalibrationFilters(days_before=days_before, renewals=RenewalFilters(**renewals))
    )


def bands_of(report) -> dict[str, tuple]:
    return {
        row.band: (row.renewals, row.churned, row.churn_rate, row.arr_churned)
        for row in report.bands
    }


def D(text: str) -> Decimal:
    return Decimal(text)


# --- bands and totals ----------------------------------------------------------------------


def test_band_rows_count_renewals_churns_and_arr_churned_per_band(dataset):
    report = report_for()

    # green: 4 (80, a downsell), 5 (90), 8 (75, churned 8,000), 10 (100): 1 of 4.
    # yellow: 2 (50, churned 2,000), 3 (50): 1 of 2. red: 1 (20, churned
    # 1,000), 9 (30): 1 of 2. unknown: 6 (no score, churned 6,000). none: 7.
    assert [row.band for row in report.bands] == ["green", "yellow", "red", "unknown", "none"]
    assert [row.label for row in report.bands] == [
        "Green",
        "Yellow",
        "Red",
        "Unknown",
        "No score",
    ]
    assert bands_of(report) == {
        "green": (4, 1, D("0.2500"), D("8000.00")),
        "yellow": (2, 1, D("0.5000"), D("2000.00")),
        "red": (2, 1, D("0.5000"), D("1000.00")),
        "unknown": (1, 1, D("1.0000"), D("6000.00")),
        "none": (1, 0, D("0.0000"), D("0.00")),
    }
    # 10 renewals, 4 churned (1, 2, 6, 8): 1,000 + 2,000 + 6,000 + 8,000.
    totals = report.totals
    assert (totals.band, totals.label) == (None, "Total")
    assert (totals.renewals, totals.churned, totals.churn_rate, totals.arr_churned) == (
        10,
        4,
        D("0.4000"),
        D("17000.00"),
    )
    assert report.has_renewals


def test_the_score_read_is_the_newest_on_or_before_the_renewal_less_days_before(dataset):
    # 105 days: EMEA's day is 16 Dec 2025, so renewal 1 reads its 60 of 1 Dec
    # (yellow, churned) and 2 to 7 have nothing yet (none: 6, two of them
    # churned: 2 and 6). NA's day is 31 Dec 2025, when 9's score of that very
    # day counts: green 8 (churned) and 10, red 9.
    report = report_for(days_before=105)

    assert {band: row[:2] for band, row in bands_of(report).items()} == {
        "green": (2, 1),
        "yellow": (1, 1),
        "red": (1, 0),
        "unknown": (0, 0),
        "none": (6, 2),
    }


def test_a_later_score_is_ignored_until_days_before_reaches_it(dataset):
    default = report_for()
    same_day = report_for(days_before=0)

    # At 90 days renewal 1 reads its 20 (red); its 95 of 15 January is later.
    assert bands_of(default)["red"][:2] == (2, 1)
    # At 0 days it reads the 95 (green, churned 1,000) and renewal 7 its 60.
    assert bands_of(same_day) == {
        "green": (5, 2, D("0.4000"), D("9000.00")),
        "yellow": (3, 1, D("0.3333"), D("2000.00")),
        "red": (1, 0, D("0.0000"), D("0.00")),
        "unknown": (1, 1, D("1.0000"), D("6000.00")),
        "none": (0, 0, None, D("0.00")),
    }


def test_without_any_score_that_early_every_renewal_is_no_score(dataset):
    report = report_for(days_before=730)

    assert bands_of(report)["none"] == (10, 4, D("0.4000"), D("17000.00"))
    assert (report.auc, report.n_churned, report.n_renewed) == (None, 0, 0)
    assert report.measures == []
    assert report.green_churns == []
    assert all(row.renewals == 0 and row.churn_rate is None for row in report.deciles)


# --- AUC ---------------------------------------------------------------------------------------


def test_auc_counts_pairs_with_ties_as_half(dataset):
    report = report_for()

    # Scored churns 20, 50, 75 against not churned 30, 50, 80, 90, 100 (the
    # downsell counts as not churned; 6 has no score and 7 no row): 15 pairs.
    # 20 is below all 5; 50 ties one 50 (½) and is below 80, 90, 100 (3);
    # 75 is below 80, 90, 100 (3): 11.5 / 15 = 0.76666…
    assert (report.auc, report.n_churned, report.n_renewed) == (D("0.7667"), 3, 5)


def test_auc_of_the_worked_example_churned_20_50_against_renewed_50_80_90(dataset):
    # EMEA alone: (20 < 50, 80, 90) = 3 pairs; (50 = 50 → ½, 50 < 80, 90) = 2.5.
    # 5.5 / (2 · 3) = 0.91666…
    report = report_for(region="EMEA")

    assert (report.auc, report.n_churned, report.n_renewed) == (D("0.9167"), 2, 3)


def test_auc_is_null_with_one_class_only(dataset):
    # Mid-market has renewal 5 alone: renewed, score 90.
    report = report_for(segment="mid-market")

    assert (report.auc, report.n_churned, report.n_renewed) == (None, 0, 1)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # (score, churned, not churned): every churn below every renewal.
        ([(10, 2, 0), (90, 0, 3)], (D("1.0000"), 2, 3)),
        # Every churn above: 0. All tied: ½.
        ([(10, 0, 3), (90, 2, 0)], (D("0.0000"), 2, 3)),
        ([(50, 2, 3)], (D("0.5000"), 2, 3)),
        # Churned [20, 50] against renewed [50, 80, 90]: 5.5 / 6.
        ([(20, 1, 0), (50, 1, 1), (80, 0, 1), (90, 0, 1)], (D("0.9167"), 2, 3)),
        ([(40, 0, 4)], (None, 0, 4)),
        ([], (None, 0, 0)),
    ],
)
def test_auc_from_per_score_counts(counts, expected):
    assert auc_from_counts(counts) == expected
    assert auc_from_counts(reversed(counts)) == expected


# --- deciles -----------------------------------------------------------------------------------


def test_deciles_bucket_scores_by_tens_with_100_in_the_top_bucket(dataset):
    report = report_for()

    assert [
        (row.bucket, row.label, row.renewals, row.churned, row.churn_rate) for row in report.deciles
    ] == [
        (0, "0\u20139", 0, 0, None),
        (1, "10\u201319", 0, 0, None),
        (2, "20\u201329", 1, 1, D("1.0000")),  # 20, churned
        (3, "30\u201339", 1, 0, D("0.0000")),  # 30
        (4, "40\u201349", 0, 0, None),
        (5, "50\u201359", 2, 1, D("0.5000")),  # 50 churned, 50
        (6, "60\u201369", 0, 0, None),
        (7, "70\u201379", 1, 1, D("1.0000")),  # 75, churned
        (8, "80\u201389", 1, 0, D("0.0000")),  # 80 (downsell)
        (9, "90\u2013100", 2, 0, D("0.0000")),  # 90 and 100
    ]


def test_decile_labels():
    assert [decile_label(bucket) for bucket in (0, 4, 8, 9)] == [
        "0\u20139",
        "40\u201349",
        "80\u201389",
        "90\u2013100",
    ]


# --- measures --------------------------------------------------------------------------------


def test_measure_rows_split_renewals_by_a_part_score_under_40(dataset):
    report = report_for()

    rows = {
        row.code: (
            row.name,
            row.renewals_low,
            row.churned_low,
            row.churn_rate_low,
            row.renewals_not_low,
            row.churned_not_low,
            row.churn_rate_not_low,
            row.lift,
        )
        for row in report.measures
    }
    assert [row.code for row in report.measures] == ["logins-30d", "nps", "retired-measure"]
    # logins-30d: low 10 (1, churned), 39.99 (2, churned), 5 (6, churned),
    # 20 (9) → 3 of 4; not low 40 (3), 90 (4), 100 (5), 60 (8, churned) →
    # 1 of 4. Lift 0.75 / 0.25 = 3.
    assert rows["logins-30d"] == (
        "Logins in the last 30 days",
        4,
        3,
        D("0.7500"),
        4,
        1,
        D("0.2500"),
        D("3.0000"),
    )
    # nps: low 35 (1, churned), 20 (4) → 1 of 2; not low 70 (3), 80 (8,
    # churned) → 1 of 2; 2's null part score is in neither. Lift 1.
    assert rows["nps"] == ("NPS", 2, 1, D("0.5000"), 2, 1, D("0.5000"), D("1.0000"))
    # A code no measure has any more is named by its code. Low 10 (8,
    # churned); not low 50 (9): nobody churned, so no lift.
    assert rows["retired-measure"] == (
        "retired-measure",
        1,
        1,
        D("1.0000"),
        1,
        0,
        D("0.0000"),
        None,
    )


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ((3, 4, 1, 4), D("3.0000")),
        # 1/3 against 1/6 is exactly 2, although 0.3333 / 0.1667 is not.
        ((1, 3, 1, 6), D("2.0000")),
        ((0, 5, 1, 5), D("0.0000")),
        ((1, 1, 0, 1), None),  # the divisor's rate is 0
        ((1, 0, 1, 1), None),  # no low renewals: no rate
        ((1, 1, 0, 0), None),  # no other renewals: no rate
    ],
)
def test_lift_is_the_ratio_of_the_two_churn_rates(counts, expected):
    churned_low, renewals_low, churned_not_low, renewals_not_low = counts
    assert lift(churned_low, renewals_low, churned_not_low, renewals_not_low) == expected


# --- green churns ----------------------------------------------------------------------------


def test_green_churns_list_churned_renewals_whose_score_was_green(dataset):
    report = report_for()

    [churn] = report.green_churns
    account = dataset.n_green_churn
    assert (
        churn.account_id,
        churn.account_name,
        churn.region,
        churn.segment,
        churn.renewal_date,
        churn.score,
        churn.score_as_of,
        churn.arr_before,
    ) == (
        account.pk,
        "N green churn",
        "NA",
        "smb",
        NA_RENEWAL,
        75,
        dt.date(2025, 12, 20),
        D("8000.00"),
    )
    assert churn.renewal_id == account.renewals.get().pk


def test_green_churns_are_newest_renewal_first(dataset):
    # At 0 days renewal 1 reads its 95 of 15 January: a second green churn,
    # renewing two weeks before 8.
    report = report_for(days_before=0)

    assert [
        (churn.account_name, churn.renewal_date, churn.score) for churn in report.green_churns
    ] == [
        ("N green churn", NA_RENEWAL, 75),
        ("E churn 20", EMEA_RENEWAL, 95),
    ]


# --- filters ------------------------------------------------------------------------------------


def test_the_renewal_period_is_inclusive_at_both_ends(dataset):
    na_only = report_for(renewed_after=NA_RENEWAL)
    emea_only = report_for(renewed_before=EMEA_RENEWAL)
    between = report_for(renewed_after=dt.date(2026, 4, 1), renewed_before=dt.date(2026, 4, 14))

    assert (na_only.totals.renewals, na_only.totals.churned) == (3, 1)
    assert (emea_only.totals.renewals, emea_only.totals.churned) == (7, 3)
    assert between.totals.renewals == 0
    assert not between.has_renewals


def test_region_and_segment_filters(dataset):
    emea = report_for(region="EMEA")
    na = report_for(region="NA")
    enterprise = report_for(region="EMEA", segment="enterprise")

    # EMEA: 1 to 7; churned 1, 2, 6: 1,000 + 2,000 + 6,000.
    assert (emea.totals.renewals, emea.totals.churned, emea.totals.arr_churned) == (
        7,
        3,
        D("9000.00"),
    )
    assert emea.green_churns == []
    # NA: 8 (75, churned), 9 (30), 10 (100): AUC (75 < 100) 1 of 2 pairs.
    assert {band: row[:2] for band, row in bands_of(na).items() if row[0]} == {
        "green": (2, 1),
        "red": (1, 0),
    }
    assert (na.auc, na.n_churned, na.n_renewed) == (D("0.5000"), 1, 2)
    # EMEA enterprise leaves out 5 (mid-market).
    assert (enterprise.totals.renewals, bands_of(enterprise)["green"][:2]) == (6, (1, 0))


def test_nothing_in_scope_gives_empty_rows_not_an_error(dataset):
    report = report_for(renewed_after=dt.date(2030, 1, 1))

    assert [row.renewals for row in report.bands] == [0, 0, 0, 0, 0]
    assert all(row.churn_rate is None for row in report.bands)
    assert (report.totals.renewals, report.totals.churn_rate, report.totals.arr_churned) == (
        0,
        None,
        D("0.00"),
    )
    assert (report.auc, report.measures, report.green_churns) == (None, [], [])
    assert len(report.deciles) == 10


# --- input ---------------------------------------------------------------------------------------


def test_query_defaults_to_90_days_and_no_filters(region):
    assert parse_calibration_query({}) == CalibrationFilters(
        days_before=90, renewals=RenewalFilters()
    )
    assert parse_calibration_query({"days_before": " ", "region": ""}).days_before == 90


def test_query_reads_every_parameter(region):
    filters = parse_calibration_query(
        {
            "days_before": "0",
            "renewed_after": "2026-01-01",
            "renewed_before": "2026-06-30",
            "region": "EMEA",
            "segment": "smb",
        }
    )

    assert filters == CalibrationFilters(
        days_before=0,
        renewals=RenewalFilters(
            renewed_after=dt.date(2026, 1, 1),
            renewed_before=dt.date(2026, 6, 30),
            region="EMEA",
            segment="smb",
        ),
    )
    assert parse_calibration_query({"days_before": "730"}).days_before == 730


@pytest.mark.parametrize("value", ["-1", "731", "abc", "1.5", "90 days", "\u0661\u0662"])
def test_days_before_outside_0_to_730_is_refused_naming_the_field(region, value):
    with pytest.raises(InvalidInput) as raised:
        parse_calibration_query({"days_before": value})

    assert raised.value.errors == {"days_before": ["Enter a whole number of days from 0 to 730."]}


def test_every_bad_parameter_is_reported_at_once(region):
    with pytest.raises(InvalidInput) as raised:
        parse_calibration_query(
            {
                "days_before": "999",
                "renewed_after": "2026-02-30",
                "renewed_before": "soon",
                "region": "MARS",
                "segment": "giant",
            }
        )

    errors = raised.value.errors
    assert sorted(errors) == ["days_before", "region", "renewed_after", "renewed_before", "segment"]
    assert errors["renewed_after"] == ["Enter a date as YYYY-MM-DD."]
    assert errors["region"] == ["Unknown region 'MARS'; use one of: EMEA."]


def test_renewed_before_must_not_precede_renewed_after(region):
    with pytest.raises(InvalidInput) as raised:
        parse_calibration_query({"renewed_after": "2026-05-01", "renewed_before": "2026-04-01"})

    assert raised.value.errors == {
        "renewed_before": ["renewed_before must be on or after renewed_after."]
    }


# --- queries ------------------------------------------------------------------------------


def _renewals(count: int, csm, region, start: int) -> None:
    """``count`` more renewals, each with scores before and after its day and
    parts of two measures; a third churned."""
    for index in range(start, start + count):
        account = factories.AccountFactory(csm=csm, region=region)
        day = dt.date(2026, 1, 1) + dt.timedelta(days=index)
        scored(account, day - dt.timedelta(days=100), index % 101, logins_30d=index % 80, nps=None)
        scored(account, day - dt.timedelta(days=10), (index * 7) % 101, logins_30d=50)
        renewal(account, day, "churned" if index % 3 == 0 else "renewed", 1000 + index)


@pytest.mark.parametrize("filtered", [False, True])
def test_the_report_takes_two_queries_for_one_renewal_or_many(
    csm, region, django_assert_num_queries, filtered
):
    filters = CalibrationFilters(
        renewals=RenewalFilters(
            renewed_after=dt.date(2025, 1, 1), region="EMEA", segment="enterprise"
        )
        if filtered
        else RenewalFilters()
    )
    _renewals(1, csm, region, start=0)
    with django_assert_num_queries(2):
        one = health_calibration(filters=filters)
    _renewals(40, csm, region, start=1)
    with django_assert_num_queries(2):
        many = health_calibration(filters=filters)

    assert (one.totals.renewals, many.totals.renewals) == (1, 41)
    # 41 renewals 0..40, a third of them churned: 0, 3, …, 39.
    assert many.totals.churned == 14
    assert sum(row.renewals for row in many.deciles) == 41
