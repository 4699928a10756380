"""The demo's health data: signals per account since before the two years of
renewals (weekly over the last year, every four weeks before), shaped by the
risk history and the renewals, and the score history computed from them
(demo.health).

Seeding takes a few seconds, so the module seeds once inside a transaction
that is rolled back at the end; each test runs in a savepoint of it."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, AccountStatus
from demo import data as demo_data
from demo import health as demo_health
from demo.facts import AccountFacts
from health.models import HealthScore, Observation
from health.services import backfill_days
from risks.models import RiskRecord, RiskStatus
from rules.evaluation import SYSTEM_USERNAME

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(second=0, microsecond=0)
TODAY = timezone.localdate(NOW)
WEEKS = backfill_days(TODAY - dt.timedelta(days=365), TODAY, 7)
# Before the last year, every four weeks back to 840 days before today.
HISTORY = sorted(set(WEEKS) | set(backfill_days(TODAY - dt.timedelta(days=840), TODAY, 28)))
WEEKLY = [
    "logins-30d",
    "active-user-share",
    "feature-adoption",
    "usage-volume",
    "open-tickets",
    "oldest-ticket-age",
    "csat",
    "fees-yoy",
    "health-checks",
    "company-size",
]


@pytest.fixture(scope="module", autouse=True)
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        report = demo_data.seed_demo(now=NOW)
        yield report
        transaction.set_rollback(True)


def health_dump() -> dict[str, list]:
    observations = sorted(
        (external_id, code, day.isoformat(), str(value.normalize()), source)
        for external_id, code, day, value, source in Observation.objects.values_list(
            "account__external_id", "measure__code", "observed_on", "value", "source"
        )
    )
    scores = sorted(
        (
            external_id,
            as_of.isoformat(),
            score,
            band,
            str(coverage),
            json.dumps(parts, sort_keys=True),
        )
        for external_id, as_of, score, band, coverage, parts in HealthScore.objects.values_list(
            "account__external_id", "as_of", "score", "band", "coverage", "parts"
        )
    )
    return {"observations": observations, "scores": scores}


def scores_of(account: Account) -> list[HealthScore]:
    return list(HealthScore.objects.filter(account=account).order_by("as_of"))


def test_the_seed_reports_the_health_it_wrote(seeded):
    lines = seeded.lines()
    health = next(line for line in lines if line.startswith("Health:"))
    assert len(HISTORY) == 53 + 17 == 70
    assert "for 150 accounts, scored on 70 days" in health
    assert seeded.created["observations"] == Observation.objects.count() > 50_000


def test_the_same_seed_writes_the_same_signals_and_scores():
    first = health_dump()
    Observation.objects.all().delete()
    HealthScore.objects.all().delete()
    Account.objects.update(health_score=None, health_band="", health_as_of=None)

    demo_data.seed_demo(now=NOW)

    assert health_dump() == first
    # The plan alone is a pure function of the seed and the day.
    facts = [AccountFacts(f"DEMO-{i:04d}", "smb", "csm", Decimal(9000), TODAY) for i in range(1, 4)]
    assert demo_health.plan_stories(facts, [], TODAY) == demo_health.plan_stories(facts, [], TODAY)


def test_a_second_run_writes_no_more_health_data():
    before = (Observation.objects.count(), HealthScore.objects.count())

    report = demo_data.seed_demo(now=NOW)

    assert (Observation.objects.count(), HealthScore.objects.count()) == before
    assert report.created["observations"] == 0


def test_every_account_has_weekly_observations_for_a_year_and_four_weekly_before():
    assert len(WEEKS) == 53 and WEEKS[-1] == TODAY
    days_by_account: dict[int, set[dt.date]] = {}
    weekly_by_measure: Counter[tuple[int, str]] = Counter()
    for account_id, code, day in Observation.objects.values_list(
        "account_id", "measure__code", "observed_on"
    ):
        days_by_account.setdefault(account_id, set()).add(day)
        weekly_by_measure[(account_id, code)] += 1
    accounts = list(Account.objects.filter(external_id__startswith="DEMO-"))
    assert len(accounts) == 150
    for account in accounts:
        until = account.churned_on or TODAY
        expected = {day for day in HISTORY if day <= until}
        assert expected <= days_by_account[account.pk], account.external_id
        assert min(days_by_account[account.pk]) == HISTORY[0]
        assert max(days_by_account[account.pk]) <= until, "no data after the churn"
    # Every weekly measure on each day (a few accounts lost their product
    # feed), NPS once a quarter: 4 or 5 times a year, 9 to 11 times in all.
    full_year = [account for account in accounts if account.churned_on is None]
    for code in WEEKLY:
        complete = sum(weekly_by_measure[(a.pk, code)] >= 70 for a in full_year)
        assert complete >= len(full_year) - 4, code
    nps = Observation.objects.filter(measure__code="nps", account__in=full_year)
    last_year = Counter(nps.filter(observed_on__gt=WEEKS[0]).values_list("account", flat=True))
    assert all(4 <= last_year[a.pk] <= 5 for a in full_year)
    assert all(9 <= weekly_by_measure[(a.pk, "nps")] <= 11 for a in full_year)


def test_the_score_history_covers_every_day_observed():
    days = set(HealthScore.objects.values_list("as_of", flat=True))
    assert days == set(HISTORY)
    for account in Account.objects.filter(status=AccountStatus.ACTIVE):
        assert HealthScore.objects.filter(account=account).count() == 70
        assert account.health_as_of == TODAY
        assert account.health_band


def test_churned_accounts_were_red_and_falling_before_their_churn():
    churned = list(Account.objects.filter(status=AccountStatus.CHURNED))
    assert len(churned) >= 20
    for account in churned:
        history = [s for s in scores_of(account) if s.as_of < account.churned_on]
        assert history, f"{account.external_id} was never scored before its churn"
        last = history[-1]
        assert last.band == "red", (account.external_id, [s.score for s in history])
        # Where the year reaches back far enough, the fall shows: the half year
        # before the churn began well above where it ended.
        if len(history) >= 16:
            best = max(s.score for s in history[-26:] if s.score is not None)
            assert best - last.score >= 20, (account.external_id, [s.score for s in history])


def test_churned_accounts_showed_the_signals_weeks_ahead():
    churned = list(Account.objects.filter(status=AccountStatus.CHURNED))
    sponsor_gone = ticket_aged = with_history = 0
    for account in churned:
        observed = Observation.objects.filter(account=account).order_by("observed_on")
        left = observed.filter(measure__code="sponsor-left").values_list("observed_on", flat=True)
        for day in left:
            assert day <= account.churned_on - dt.timedelta(days=14), account.external_id
        sponsor_gone += bool(left)
        logins = list(observed.filter(measure__code="logins-30d").values_list("value", flat=True))
        ages = list(
            observed.filter(measure__code="oldest-ticket-age").values_list("value", flat=True)
        )
        if len(logins) >= 10:
            with_history += 1
            # The last weeks' logins are a fraction of the year's best ...
            assert logins[-1] < max(logins) / 2, account.external_id
            # ... and a ticket has stayed open for weeks, older every week.
            ticket_aged += ages[-1] >= ages[-5] + 21 >= 21
    assert sponsor_gone >= len(churned) * 0.6
    assert with_history >= 20
    assert ticket_aged >= with_history * 0.8


def test_saved_accounts_dip_around_the_record_and_recover():
    recovered = 0
    checked = 0
    for record in RiskRecord.objects.filter(status=RiskStatus.SAVED).select_related("account"):
        closed_on = timezone.localdate(record.closed_at)
        opened_on = timezone.localdate(record.opened_at)
        if (
            closed_on > TODAY - dt.timedelta(days=70)
            or record.account.risks.filter(opened_at__gt=record.closed_at).exists()
        ):
            continue  # too recent to have recovered, or troubled again since
        history = scores_of(record.account)
        during = [s.score for s in history if opened_on <= s.as_of <= closed_on and s.score]
        after = [
            s.score
            for s in history
            if closed_on + dt.timedelta(days=49) <= s.as_of <= closed_on + dt.timedelta(70)
        ]
        if not during or not after:
            continue
        checked += 1
        recovered += min(during) < 70 and min(after) >= 70
    assert checked >= 20
    assert recovered >= checked * 0.8


def test_accounts_that_turned_red_unnoticed_are_on_the_list_or_caught_by_a_rule():
    """The demo's quiet accounts that turned red lately: where a demo rule
    watches their segment, the rule opened their record; elsewhere nobody
    noticed, and they are on the Health page's accountability list."""
    open_accounts = RiskRecord.objects.filter(status=RiskStatus.OPEN).values("account")
    unnoticed = Account.objects.filter(status=AccountStatus.ACTIVE, health_band="red").exclude(
        pk__in=open_accounts
    )
    caught = Account.objects.filter(
        risks__status=RiskStatus.OPEN, risks__opened_by__username=SYSTEM_USERNAME
    ).distinct()
    assert unnoticed.count() >= 2
    assert caught.filter(health_band="red").exists()
    assert {a.segment.code for a in unnoticed} <= {"mid-market", "smb"}
    # They turned red lately: green or yellow a month ago.
    for account in [*unnoticed, *caught.filter(health_band="red")]:
        month_ago = HealthScore.objects.get(account=account, as_of=TODAY - dt.timedelta(days=28))
        assert month_ago.band != "red", account.external_id


def test_most_accounts_are_green_a_few_unknown_and_open_records_are_down():
    bands = Counter(
        Account.objects.filter(status=AccountStatus.ACTIVE).values_list("health_band", flat=True)
    )
    assert bands["green"] > bands["yellow"] > bands["red"] >= 5
    assert 1 <= bands["unknown"] <= 5
    open_bands = Counter(
        RiskRecord.objects.filter(status=RiskStatus.OPEN, tier=3).values_list(
            "account__health_band", flat=True
        )
    )
    assert open_bands["red"] > open_bands["yellow"] + open_bands["green"]
    # Accounts with no record open and none closed lately are mostly green.
    settled = (
        Account.objects.filter(status=AccountStatus.ACTIVE)
        .exclude(risks__status=RiskStatus.OPEN)
        .exclude(risks__closed_at__gte=NOW - dt.timedelta(days=150))
        .distinct()
    )
    settled_bands = Counter(settled.values_list("health_band", flat=True))
    assert settled_bands["green"] >= 2 * settled.count() / 3
