"""The demo's renewals: two years of them, written through the renewal
importer, in step with the demo's risk records, tasks and health history
(demo.renewals), so that the learning reports have a story to tell.

The calibration figures are computed here in plain SQL, as the health
calibration report defines them: for each renewal, the account's score with
the greatest as_of on or before 90 days before the renewal.

Seeding takes a few seconds, so the module seeds once inside a transaction
that is rolled back at the end; each test runs in a savepoint of it."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account, AccountStatus, Renewal
from demo import data as demo_data
from health.models import Observation
from risks.models import RiskRecord, RiskStatus, Task, TaskSource

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(second=0, microsecond=0)
TODAY = timezone.localdate(NOW)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day `years` earlier; 29 February → 28 February in a common year."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


TWO_YEARS_AGO = years_before(TODAY, 2)


@pytest.fixture(scope="module", autouse=True)
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        report = demo_data.seed_demo(now=NOW)
        yield report
        transaction.set_rollback(True)


def renewals_by_account() -> dict[int, list[Renewal]]:
    found: dict[int, list[Renewal]] = {}
    for renewal in Renewal.objects.order_by("account_id", "renewal_date"):
        found.setdefault(renewal.account_id, []).append(renewal)
    return found


def renewal_dump() -> list[tuple]:
    return sorted(
        Renewal.objects.values_list(
            "account__external_id", "renewal_date", "outcome", "arr_before", "arr_after", "source"
        )
    )


def calibration(days_before: int) -> dict[str, tuple[int, int]]:
    """(renewals, churned) per band of the score the account had `days_before`
    days before each renewal ("none": no score by then)."""
    if connection.vendor == "postgresql":
        day = "r.renewal_date - %(days)s"
    else:
        day = "date(r.renewal_date, '-' || %(days)s || ' days')"
    sql = f"""
        SELECT COALESCE(h.band, 'none'), count(*),
               sum(CASE WHEN r.outcome = 'churned' THEN 1 ELSE 0 END)
        FROM accounts_renewal r
        LEFT JOIN health_healthscore h ON h.account_id = r.account_id AND h.as_of = (
            SELECT max(s.as_of) FROM health_healthscore s
            WHERE s.account_id = r.account_id AND s.as_of <= {day})
        GROUP BY COALESCE(h.band, 'none')"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"days": days_before})
        return {band: (renewals, churned) for band, renewals, churned in cursor.fetchall()}


def green_churns(days_before: int) -> list[tuple[int, dt.date, dt.date]]:
    """(account id, churn date, day of the score) of the churns scored green."""
    if connection.vendor == "postgresql":
        day = "r.renewal_date - %(days)s"
    else:
        day = "date(r.renewal_date, '-' || %(days)s || ' days')"
    sql = f"""
        SELECT r.account_id, r.renewal_date, h.as_of
        FROM accounts_renewal r
        JOIN health_healthscore h ON h.account_id = r.account_id AND h.as_of = (
            SELECT max(s.as_of) FROM health_healthscore s
            WHERE s.account_id = r.account_id AND s.as_of <= {day})
        WHERE r.outcome = 'churned' AND h.band = 'green'"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"days": days_before})
        return [
            (account, _date(renewal_date), _date(as_of))
            for account, renewal_date, as_of in cursor.fetchall()
        ]


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def test_the_seed_reports_the_renewals_it_wrote(seeded):
    line = next(line for line in seeded.lines() if line.startswith("Renewals:"))
    outcomes = Counter(Renewal.objects.values_list("outcome", flat=True))
    assert line == (
        f"Renewals: {Renewal.objects.count()} created over the last two years "
        f"({outcomes['churned']} churned, {outcomes['downsell']} downsells); "
        "0 demo accounts already had renewals and were left alone."
    )
    assert set(Renewal.objects.values_list("source", flat=True)) == {"demo"}


def test_active_accounts_renewed_on_each_anniversary_of_their_renewal_date_in_two_years():
    by_account = renewals_by_account()
    accounts = Account.objects.filter(status=AccountStatus.ACTIVE)
    assert accounts.count() > 100
    for account in accounts:
        expected = [
            day
            for day in (years_before(account.renewal_date, years) for years in (3, 2, 1))
            if TWO_YEARS_AGO < day <= TODAY
        ]
        got = [renewal.renewal_date for renewal in by_account.get(account.pk, [])]
        assert got == expected, account.external_id
        assert all(renewal.outcome != "churned" for renewal in by_account.get(account.pk, []))
    # Both years are there, with a renewal or more for nearly every account in each.
    year_ago = years_before(TODAY, 1)
    older = Renewal.objects.filter(renewal_date__lte=year_ago).count()
    newer = Renewal.objects.filter(renewal_date__gt=year_ago).count()
    assert older >= 100 and newer >= 130
    assert 250 <= older + newer <= 330


def test_every_churned_demo_account_churned_on_its_churn_day_and_renewed_before():
    churned = Account.objects.filter(status=AccountStatus.CHURNED)
    assert churned.count() == RiskRecord.objects.filter(status=RiskStatus.CHURNED).count() >= 20
    by_account = renewals_by_account()
    for account in churned:
        renewals = by_account[account.pk]
        last = renewals[-1]
        assert (last.renewal_date, last.outcome) == (account.churned_on, "churned")
        assert (last.arr_before, last.arr_after) == (account.arr, Decimal("0.00"))
        # The years before: on the anniversaries of the churn, renewed or a downsell.
        expected = [
            day
            for day in (years_before(account.churned_on, years) for years in (2, 1))
            if day > TWO_YEARS_AGO
        ]
        assert [r.renewal_date for r in renewals[:-1]] == expected, account.external_id
        assert {r.outcome for r in renewals[:-1]} <= {"renewed", "downsell"}
    assert Renewal.objects.filter(outcome="churned").count() == churned.count()


def test_each_renewal_starts_from_the_arr_the_one_before_ended_with():
    by_account = renewals_by_account()
    accounts = {account.pk: account for account in Account.objects.all()}
    for account_id, renewals in by_account.items():
        for earlier, later in itertools.pairwise(renewals):
            assert later.arr_before == earlier.arr_after, accounts[account_id].external_id
        if accounts[account_id].status == AccountStatus.ACTIVE:
            assert renewals[-1].arr_after == accounts[account_id].arr
        for renewal in renewals:
            if renewal.outcome == "renewed":
                assert renewal.arr_after >= renewal.arr_before
            elif renewal.outcome == "downsell":
                assert renewal.arr_after < renewal.arr_before
    outcomes = Counter(Renewal.objects.values_list("outcome", flat=True))
    assert outcomes["renewed"] > outcomes["downsell"] > 10


def test_a_save_that_gave_up_arr_is_a_downsell_by_that_much_at_the_next_renewal():
    checked = 0
    saves = RiskRecord.objects.filter(status=RiskStatus.SAVED).select_related("account")
    for record in saves:
        next_renewal = (
            Renewal.objects.filter(
                account=record.account, renewal_date__gt=timezone.localdate(record.closed_at)
            )
            .order_by("renewal_date")
            .first()
        )
        if next_renewal is None:
            continue  # its next renewal is still ahead
        assert next_renewal.outcome in ("renewed", "downsell")
        if record.arr_retained < record.arr_at_risk:
            checked += 1
            assert next_renewal.outcome == "downsell"
            given_up = record.arr_at_risk - record.arr_retained
            assert next_renewal.arr_before - next_renewal.arr_after == given_up
    assert checked >= 2


def test_the_fees_year_on_year_are_the_change_at_the_last_renewal():
    """Over the year after a renewal, the measure "fees year on year" is the
    renewal's change of ARR in %, e.g. 10,000 → 10,800 is 8.0."""
    fees: dict[int, list[tuple[dt.date, Decimal]]] = {}
    for account_id, day, value in Observation.objects.filter(measure__code="fees-yoy").values_list(
        "account_id", "observed_on", "value"
    ):
        fees.setdefault(account_id, []).append((day, value))
    checked = 0
    for renewal in Renewal.objects.exclude(outcome="churned"):
        change = (100 * (renewal.arr_after / renewal.arr_before - 1)).quantize(Decimal("0.1"))
        year_after = renewal.renewal_date + dt.timedelta(days=365)
        for day, value in fees[renewal.account_id]:
            if renewal.renewal_date <= day < year_after:
                checked += 1
                assert value == change, (renewal.account_id, renewal.renewal_date, day)
    assert checked >= 5000


def test_accounts_red_three_months_before_a_renewal_churned_far_more_often_than_green_ones():
    bands = calibration(90)
    # Every renewal has a score from 90 days before it: the history reaches back.
    assert "none" not in bands
    red_renewals, red_churned = bands["red"]
    green_renewals, green_churned = bands["green"]
    assert green_renewals >= 150 and red_renewals >= 20
    assert red_churned * green_renewals >= 3 * green_churned * red_renewals
    assert red_churned / red_renewals >= 0.5 > 0.05 >= green_churned / green_renewals
    # Some red accounts were saved (they renewed), and some churns were green.
    assert red_churned < red_renewals
    assert green_churned >= 1
    assert (
        sum(churned for _, churned in bands.values())
        == Renewal.objects.filter(outcome="churned").count()
    )


def test_a_churn_the_score_missed_had_lost_its_sponsor_before():
    """The lesson of the green churns: the sponsor had left, a signal the
    score weighs lightly, while everything else still looked well."""
    missed = green_churns(90)
    assert missed
    sponsor_gone = [
        account
        for account, churned_on, scored_on in missed
        if Observation.objects.filter(
            account=account,
            measure__code="sponsor-left",
            observed_on__gt=scored_on - dt.timedelta(days=90),
            observed_on__lte=scored_on,
        ).exists()
    ]
    assert len(sponsor_gone) >= 1


def test_some_churns_were_flagged_a_month_ahead_and_some_were_not():
    flagged = unflagged = 0
    for renewal in Renewal.objects.filter(outcome="churned"):
        opened = [
            timezone.localdate(at)
            for at in RiskRecord.objects.filter(account=renewal.account_id).values_list(
                "opened_at", flat=True
            )
        ]
        ahead = [
            day
            for day in opened
            if renewal.renewal_date - dt.timedelta(days=365)
            <= day
            <= renewal.renewal_date - dt.timedelta(days=30)
        ]
        if ahead:
            flagged += 1
        else:
            unflagged += 1
    assert flagged >= 10
    assert unflagged >= 1


def test_saved_records_carried_out_their_plays_on_time_more_often_than_churned_ones():
    """The program-effectiveness report's raw material: playbook tasks of
    saved and churned records, done on time or not, in both outcomes."""
    on_time: Counter[tuple[str, bool]] = Counter()
    tasks = Task.objects.filter(
        source=TaskSource.PLAYBOOK, risk__status__in=[RiskStatus.SAVED, RiskStatus.CHURNED]
    ).select_related("risk")
    for task in tasks:
        done_on_time = task.done_at is not None and timezone.localdate(task.done_at) <= (
            task.due_date or dt.date.max
        )
        on_time[(task.risk.status, done_on_time)] += 1
    for outcome in ("saved", "churned"):
        assert on_time[(outcome, True)] >= 20 and on_time[(outcome, False)] >= 10

    def share(outcome: str) -> float:
        return on_time[(outcome, True)] / (on_time[(outcome, True)] + on_time[(outcome, False)])

    assert share("saved") > share("churned") + 0.15


def test_a_second_run_writes_no_more_renewals():
    before = renewal_dump()

    report = demo_data.seed_demo(now=NOW)

    assert renewal_dump() == before
    assert report.created["renewals"] == 0
    assert report.present["accounts_with_renewals"] == 150


def test_the_same_seed_writes_the_same_renewals():
    first = renewal_dump()
    Renewal.objects.all().delete()

    demo_data.seed_demo(now=NOW)

    assert renewal_dump() == first
