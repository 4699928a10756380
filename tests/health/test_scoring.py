"""The health score formula, checked against figures worked out by hand.

Every test starts from an empty scorecard (the seeded measures switched off)
and builds the measures it needs; D is the day scored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AccountStatus
from health.models import HealthScore, Measure
from health.scoring import score_accounts
from tests import factories

pytestmark = pytest.mark.django_db

D = dt.date(2026, 6, 30)


@pytest.fixture(autouse=True)
def empty_scorecard():
    Measure.objects.update(active=False)


@pytest.fixture
def account():
    return factories.AccountFactory()


def measure(red, green, weight=10, segment=None, **fields):
    m = factories.MeasureFactory(**fields)
    factories.ThresholdFactory(
        measure=m, segment=segment, red=Decimal(red), green=Decimal(green), weight=weight
    )
    return m


def observe(account, m, value, days_before=0):
    factories.ObservationFactory(
        account=account,
        measure=m,
        value=Decimal(str(value)),
        observed_on=D - dt.timedelta(days_before),
    )


def score(account, as_of=D) -> HealthScore:
    score_accounts(as_of, [account.pk])
    return HealthScore.objects.get(account=account, as_of=as_of)


def test_higher_is_better_scores_linearly_between_red_and_green(account):
    logins = measure(20, 100)
    observe(account, logins, 60)
    result = score(account)
    # 100 * (60 - 20) / (100 - 20) = 50
    assert (result.score, result.band, result.coverage) == (50, "yellow", Decimal("1.0000"))
    assert result.parts[logins.code]["score"] == 50
    assert result.parts[logins.code]["weight"] == 10
    assert result.parts[logins.code]["fresh"] is True
    assert result.parts[logins.code]["observed_on"] == D.isoformat()


@pytest.mark.parametrize(
    ("value", "expected"), [(10, 0), (20, 0), (100, 100), (150, 100), (40, 25)]
)
def test_at_or_beyond_red_and_green_the_score_is_clamped(account, value, expected):
    observe(account, measure(20, 100), value)
    assert score(account).score == expected


@pytest.mark.parametrize(("value", "expected"), [(30, 0), (45, 0), (7, 100), (0, 100), (12, 78)])
def test_lower_is_better_scores_from_red_down_to_green(account, value, expected):
    # 12 days: 100 * (30 - 12) / (30 - 7) = 78.26… → 78
    observe(account, measure(30, 7, better="lower"), value)
    assert score(account).score == expected


def test_the_score_is_the_weighted_mean_of_the_parts(account):
    observe(account, measure(20, 100, weight=10), 60)  # 50
    observe(account, measure(30, 7, weight=30, better="lower"), 12)  # 78.2608…
    # (10 * 50 + 30 * 78.2608…) / 40 = 71.195… → 71, green
    result = score(account)
    assert (result.score, result.band) == (71, "green")


def test_the_newest_observation_on_or_before_the_day_counts(account):
    m = measure(0, 100)
    observe(account, m, 10, days_before=20)
    observe(account, m, 80, days_before=5)
    factories.ObservationFactory(
        account=account, measure=m, value=Decimal("0"), observed_on=D + dt.timedelta(1)
    )
    assert score(account).score == 80


def test_a_number_older_than_stale_after_days_is_left_out(account):
    fresh = measure(0, 100, weight=10)
    stale = measure(0, 100, weight=10, stale_after_days=45)
    observe(account, fresh, 40)
    observe(account, stale, 100, days_before=46)
    result = score(account)
    # Only the fresh part counts; half the weight is covered, so it scores.
    assert (result.score, result.coverage) == (40, Decimal("0.5000"))
    assert result.parts[stale.code]["fresh"] is False
    assert result.parts[stale.code]["score"] is None


def test_a_number_exactly_stale_after_days_old_is_still_fresh(account):
    m = measure(0, 100, stale_after_days=45)
    observe(account, m, 70, days_before=45)
    assert score(account).score == 70


def test_coverage_below_half_leaves_the_score_unknown(account):
    observe(account, measure(0, 100, weight=10), 90)
    measure(0, 100, weight=11)  # never observed
    result = score(account)
    # 10 / 21 = 0.476… < 0.5
    assert (result.score, result.band, result.coverage) == (None, "unknown", Decimal("0.4762"))


def test_an_account_without_any_observation_is_unknown_with_no_coverage(account):
    measure(0, 100)
    result = score(account)
    assert (result.score, result.band, result.coverage) == (None, "unknown", Decimal("0"))


def test_change_scoring_compares_with_the_mean_of_the_baseline_window(account):
    usage = measure(-30, 0, scoring="change", baseline_days=90)
    observe(account, usage, 1000, days_before=91)  # before the window: ignored
    observe(account, usage, 100, days_before=90)  # first day of the window
    observe(account, usage, 150, days_before=60)
    observe(account, usage, 200, days_before=30)
    observe(account, usage, 120)
    # m = (100 + 150 + 200) / 3 = 150; v = 100 * (120 - 150) / 150 = -20
    # s = 100 * (-20 - (-30)) / (0 - (-30)) = 33.33… → 33
    result = score(account)
    assert result.score == 33
    assert result.parts[usage.code]["change"] == -20
    assert result.parts[usage.code]["value"] == 120


def test_change_scoring_without_a_baseline_is_left_out(account):
    usage = measure(-30, 0, scoring="change")
    observe(account, usage, 120)
    observe(account, measure(0, 100), 90)
    result = score(account)
    assert (result.score, result.coverage) == (90, Decimal("0.5000"))
    assert result.parts[usage.code]["score"] is None


def test_change_scoring_against_a_zero_baseline_is_left_out(account):
    usage = measure(-30, 0, scoring="change")
    observe(account, usage, 0, days_before=7)
    observe(account, usage, 50)
    assert score(account).score is None


def test_a_recent_event_scores_zero_and_an_old_or_absent_one_a_hundred(account):
    sponsor_left = measure(0, 0, kind="event", better="", stale_after_days=90)
    other = factories.AccountFactory()
    third = factories.AccountFactory()
    observe(account, sponsor_left, 1, days_before=89)  # inside (D - 90, D]
    observe(other, sponsor_left, 1, days_before=90)  # just outside
    assert score(account).score == 0
    assert score(other).score == 100
    # Never observed: the event did not happen, so it is never left out.
    result = score(third)
    assert (result.score, result.coverage) == (100, Decimal("1.0000"))


@pytest.mark.parametrize(("value", "expected"), [(99, 50), (101, 51), (1, 1), (97, 49)])
def test_halves_round_up(account, value, expected):
    # 100 * v / 200: 49.5 → 50, 50.5 → 51, 0.5 → 1, 48.5 → 49
    observe(account, measure(0, 200), value)
    assert score(account).score == expected


def test_a_half_made_of_thirds_still_rounds_up(account):
    observe(account, measure(0, 3, weight=1), 1)  # 33.33…
    observe(account, measure(0, 3, weight=1), 2)  # 66.66…
    observe(account, measure(0, 200, weight=1), 97)  # 48.5
    # (100/3 + 200/3 + 48.5) / 3 = 49.5 → 50
    assert score(account).score == 50


@pytest.mark.parametrize(
    ("value", "band"), [(70, "green"), (69, "yellow"), (40, "yellow"), (39, "red")]
)
def test_bands_follow_the_green_at_and_red_below_settings(account, value, band):
    observe(account, measure(0, 100), value)
    assert score(account).band == band


def test_bands_move_with_the_settings(account, settings):
    settings.HEALTH_GREEN_AT = 80
    settings.HEALTH_RED_BELOW = 50
    observe(account, measure(0, 100), 75)
    assert score(account).band == "yellow"


def test_a_segments_own_line_wins_over_the_default(account):
    smb = factories.SegmentFactory(code="smb", name="SMB")
    small = factories.AccountFactory(segment=smb)
    logins = measure(20, 100)
    factories.ThresholdFactory(measure=logins, segment=smb, red=Decimal(5), green=Decimal(30))
    observe(account, logins, 25)
    observe(small, logins, 25)
    assert score(account).score == 6  # 100 * 5 / 80 = 6.25
    assert score(small).score == 80  # 100 * 20 / 25


def test_weight_zero_on_the_segment_line_leaves_the_measure_out_there(account):
    smb = factories.SegmentFactory(code="smb", name="SMB")
    small = factories.AccountFactory(segment=smb)
    size = measure(1, 4, weight=10, dimension="fit")
    factories.ThresholdFactory(measure=size, segment=smb, red=1, green=2, weight=0)
    logins = measure(0, 100, weight=10)
    observe(account, logins, 80)
    observe(small, logins, 80)
    # The small account's card holds only logins: full coverage.
    small_score = score(small)
    assert (small_score.score, small_score.coverage) == (80, Decimal("1.0000"))
    assert size.code not in small_score.parts
    # The other's card weighs company size too, unobserved: half covered.
    other = score(account)
    assert (other.score, other.coverage) == (80, Decimal("0.5000"))
    assert other.parts[size.code]["score"] is None


def test_an_inactive_measure_is_not_scored(account):
    m = measure(0, 100)
    observe(account, m, 10)
    observe(account, measure(0, 100), 90)
    Measure.objects.filter(pk=m.pk).update(active=False)
    assert score(account).score == 90


def test_sub_scores_use_the_same_formula_within_each_dimension(account):
    observe(account, measure(0, 100, weight=10, dimension="fit"), 30)
    observe(account, measure(0, 100, weight=10, dimension="interest"), 60)
    observe(account, measure(0, 100, weight=30, dimension="interest"), 100)
    measure(0, 100, weight=10, dimension="current_state")  # unobserved
    result = score(account)
    # interest: (10 * 60 + 30 * 100) / 40 = 90; fit: 30; current state: nothing covered
    assert (result.fit, result.interest, result.current_state) == (30, 90, None)
    # overall: (300 + 600 + 3000) / 50 = 78 with coverage 50 / 60
    assert (result.score, result.coverage) == (78, Decimal("0.8333"))


def test_the_account_mirrors_its_newest_score(account):
    m = measure(0, 100)
    observe(account, m, 80)
    observe(account, m, 20, days_before=60)
    score(account)
    score(account, as_of=D - dt.timedelta(days=30))  # history filled later
    account.refresh_from_db()
    assert (account.health_score, account.health_band, account.health_as_of) == (80, "green", D)
    score_accounts(D + dt.timedelta(days=1), [account.pk])
    account.refresh_from_db()
    assert account.health_as_of == D + dt.timedelta(days=1)


def test_scoring_a_day_again_overwrites_it(account):
    m = measure(0, 100)
    observe(account, m, 80)
    score(account)
    m.thresholds.update(green=Decimal("160"))
    assert score(account).score == 50
    assert HealthScore.objects.filter(account=account).count() == 1


def test_all_accounts_active_on_the_day_are_scored(account):
    churned = factories.AccountFactory(status=AccountStatus.CHURNED, churned_on=D)
    later_churned = factories.AccountFactory(
        status=AccountStatus.CHURNED, churned_on=D + dt.timedelta(days=10)
    )
    observe(account, measure(0, 100), 50)
    assert score_accounts(D) == 2
    scored = set(HealthScore.objects.filter(as_of=D).values_list("account_id", flat=True))
    assert scored == {account.pk, later_churned.pk}
    assert churned.pk not in scored


def test_scoring_takes_one_statement_per_chunk_whatever_the_count(account):
    m = measure(0, 100)
    accounts = [account, *factories.AccountFactory.create_batch(4)]
    for each in accounts:
        observe(each, m, 50)
    with CaptureQueriesContext(connection) as five:
        score_accounts(D, chunk_size=2)
    with CaptureQueriesContext(connection) as listed:
        score_accounts(D, [a.pk for a in accounts], chunk_size=2)
    # 5 accounts in chunks of 2: three statements, each in its own transaction.
    statements = [q for q in five.captured_queries if "health_healthscore" in q["sql"]]
    assert len(statements) == 3
    assert len([q for q in listed.captured_queries if "health_healthscore" in q["sql"]]) == 3
    assert HealthScore.objects.filter(as_of=D, score=50).count() == 5
