"""A rule's backtest (rules.backtest, docs/domain.md "Rule backtest"): its
conditions replayed on a date every week back from the end, with only the
data known on each date, against the churns that followed. Every figure is
worked out by hand in the test that checks it."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AccountStatus, Renewal
from core.exceptions import Conflict, InvalidInput
from health.models import HealthScore, Observation
from rules.backtest import FiredAccount, WeekCount, backtest, replay_dates
from rules.models import Rule, RuleMatch
from rules.services import backtest_definition, backtest_parameters, rule_backtest
from tests import factories
from tests.rules.conftest import D, number, observe, rule, scored

pytestmark = pytest.mark.django_db

# The end of every backtest here unless said otherwise: a Tuesday.
E = D


def ago(n: int, end: dt.date = E) -> dt.date:
    return end - dt.timedelta(days=n)


def churned(account, on: dt.date) -> None:
    """A churned renewal on ``on``, and the account churned that day (as the
    renewal importer does)."""
    factories.RenewalFactory(account=account, renewal_date=on, outcome="churned")
    type(account).objects.filter(pk=account.pk).update(status=AccountStatus.CHURNED, churned_on=on)


def weekly(result) -> dict[int, int]:
    """The matched count of each replay date, keyed by days before E."""
    return {(E - week.day).days: week.matched for week in result.weekly}


LOW_LOGINS = {"type": "measure_below", "measure": "logins", "value": 5}


@pytest.fixture
def logins():
    # Stale 30 days after it was observed.
    return number("logins", stale_after_days=30)


def make_history(logins, end: dt.date) -> dict:
    """Six accounts whose replays are worked out by hand (3 months: 13
    replay dates E-84, E-77, …, E, E the end; horizon 60 days):

    - A: 2 logins on E-70, churned on E-40 → matches on E-70 … E-42 (fresh
      up to E-40, gone from E-40 on); first match E-70, churn in (E-70, E-10]:
      churned after, lead 30;
    - B: 3 on E-28, churned on E-8 → matches E-28, E-21, E-14; churned after,
      lead 20;
    - C: 1 on E-14 → matches E-14, E-7, E; no churn;
    - F: 4 on E-84, churned on E-23 → matches E-84 … E-56 (stale from E-49);
      the churn is 61 days after its first match, outside the horizon: not
      churned after; but it matched on E-77, and E-77 < E-23 ≤ E-17, so its
      churn is recalled;
    - G: 50 logins: never matches; churned on E-30;
    - H: churned on E-90, before the window.
    """
    accounts = {name: factories.AccountFactory(name=name) for name in "ABCFGH"}
    for name, value, days in (
        ("A", 2, 70),
        ("B", 3, 28),
        ("C", 1, 14),
        ("F", 4, 84),
        ("G", 50, 60),
    ):
        observe(accounts[name], logins, value, ago(days, end))
    for name, days in (("A", 40), ("B", 8), ("F", 23), ("G", 30), ("H", 90)):
        churned(accounts[name], ago(days, end))
    return accounts


@pytest.fixture
def history(logins):
    return make_history(logins, E)


def test_replay_dates_are_a_week_apart_back_from_the_end():
    assert len(replay_dates(E, 12)) == 52
    assert len(replay_dates(E, 1)) == 4  # 52 // 12
    assert len(replay_dates(E, 36)) == 156
    assert replay_dates(E, 1) == [ago(21), ago(14), ago(7), E]


def test_fired_churned_after_precision_recall_and_median_lead_by_hand(history):
    a, b, c, f = (history[name].pk for name in "ABCF")
    result = backtest(rule(LOW_LOGINS), months=3, horizon_days=60, end=E)

    assert (result.end, result.window_start, result.weeks) == (E, ago(84), 13)
    assert result.fired == 4  # A, B, C, F
    assert result.churned_after == 2  # A and B
    assert result.precision == Decimal("0.5000")  # 2 / 4
    assert result.churns_in_window == 4  # A E-40, B E-8, F E-23, G E-30 (not H E-90)
    assert result.recalled == 3  # A, B, F
    assert result.recall == Decimal("0.7500")  # 3 / 4
    assert result.median_lead_days == Decimal("25.0")  # (20 + 30) / 2
    assert weekly(result) == {
        84: 1,  # F
        77: 1,  # F
        70: 2,  # A F
        63: 2,  # A F
        56: 2,  # A F
        49: 1,  # A
        42: 1,  # A
        35: 0,
        28: 1,  # B
        21: 1,  # B
        14: 2,  # B C
        7: 1,  # C
        0: 1,  # C
    }
    assert result.accounts == [
        FiredAccount(f, "F", ago(84), None, None),
        FiredAccount(a, "A", ago(70), ago(40), 30),
        FiredAccount(b, "B", ago(28), ago(8), 20),
        FiredAccount(c, "C", ago(14), None, None),
    ]


def test_an_odd_number_of_leads_takes_the_middle_one_and_nothing_fired_gives_no_rates(
    history, logins
):
    # D: 0 logins on E-63, churned on E-13 → first match E-63, lead 50.
    d = factories.AccountFactory(name="D")
    observe(d, logins, 0, ago(63))
    churned(d, ago(13))
    result = backtest(rule(LOW_LOGINS), months=3, horizon_days=60, end=E)
    assert (result.fired, result.churned_after) == (5, 3)
    assert result.precision == Decimal("0.6000")
    assert result.median_lead_days == Decimal("30.0")  # 20, 30, 50
    assert (result.churns_in_window, result.recalled) == (5, 4)

    nothing = backtest(
        rule({"type": "measure_above", "measure": "logins", "value": 1000}), months=3, end=E
    )
    assert (nothing.fired, nothing.churned_after, nothing.recalled) == (0, 0, 0)
    assert nothing.churns_in_window == 5
    assert (nothing.precision, nothing.recall, nothing.median_lead_days) == (
        None,
        Decimal("0.0000"),
        None,
    )
    assert nothing.accounts == []
    assert set(weekly(nothing).values()) == {0}


def test_the_horizon_bounds_churned_after_and_recall(history):
    # Horizon 20 days: A's churn is 30 days after its first match; B's 20.
    # Recalled: B (E-28 < E-8 ≤ E-8); A's churn E-40 needs a match in
    # [E-60, E-40): E-56, E-49, E-42 ✓; F's E-23 needs one in [E-43, E-23): no.
    result = backtest(rule(LOW_LOGINS), months=3, horizon_days=20, end=E)
    assert (result.fired, result.churned_after, result.median_lead_days) == (
        4,
        1,
        Decimal("20.0"),
    )
    assert (result.recalled, result.recall) == (2, Decimal("0.5000"))


# --- only what was known on each date ------------------------------------------------------


def test_an_observation_dated_after_a_replay_date_never_changes_that_replay(logins):
    x = factories.AccountFactory(name="X")
    observe(x, logins, 50, ago(40))
    observe(x, logins, 2, ago(7))  # X first matches on E-7
    r = rule(LOW_LOGINS)
    before = backtest(r, months=3, end=E)
    until_d = backtest(r, months=3, end=ago(21))
    assert [row.first_match for row in before.accounts] == [ago(7)]
    assert until_d.fired == 0

    # On D+1 (D = E-21) an observation that makes the condition true.
    observe(x, logins, 1, ago(20))
    after = backtest(r, months=3, end=E)
    # The replays up to D are as they were, the backtest ending on D too.
    assert backtest(r, months=3, end=ago(21)) == until_d
    assert {k: n for k, n in weekly(after).items() if k >= 21} == {
        k: n for k, n in weekly(before).items() if k >= 21
    }
    # The first replay on or after it, E-14, changes; so does the first match.
    assert (weekly(before)[14], weekly(after)[14]) == (0, 1)
    assert [row.first_match for row in after.accounts] == [ago(14)]


def test_a_health_score_dated_after_a_replay_date_never_changes_that_replay():
    y = factories.AccountFactory(name="Y")
    scored(y, ago(30), 70, "green")
    r = rule({"type": "band_is", "band": "red"})
    until_d = backtest(r, months=3, end=ago(21))
    assert until_d.fired == 0

    # Red from D+1: the account's mirror now says red since E-20.
    scored(y, ago(20), 20, "red")
    assert backtest(r, months=3, end=ago(21)) == until_d
    after = backtest(r, months=3, end=E)
    assert weekly(after)[21] == 0
    assert (weekly(after)[14], weekly(after)[7], weekly(after)[0]) == (1, 1, 1)
    assert [row.first_match for row in after.accounts] == [ago(14)]


def test_band_and_score_read_the_score_rows_never_the_accounts_current_mirror():
    # The mirror of an account says red as of E-60, but no score row says so:
    # only score rows count on a replayed day.
    z = factories.AccountFactory(name="Z")
    scored(z, ago(60), 70, "green")
    type(z).objects.filter(pk=z.pk).update(health_band="red", health_score=10)
    assert backtest(rule({"type": "band_is", "band": "red"}), months=3, end=E).fired == 0
    green = backtest(rule({"type": "band_is", "band": "green"}), months=3, end=E)
    # Unknown before its first score (E-84 … E-63), green from E-56.
    assert green.fired == 1
    assert [row.first_match for row in green.accounts] == [ago(56)]
    unknown = backtest(rule({"type": "band_is", "band": "unknown"}), months=3, end=E)
    assert {k: n for k, n in weekly(unknown).items() if n} == {84: 1, 77: 1, 70: 1, 63: 1}


def test_score_drop_compares_the_score_rows_known_on_each_date():
    w = factories.AccountFactory(name="W")
    scored(w, ago(50), 80, "green")
    scored(w, ago(30), 55, "yellow")  # fell 25 points in 20 days
    result = backtest(rule({"type": "score_drop", "points": 20, "days": 14}), months=3, end=E)
    # On D the newest row on or before D-14 against the newest on or before D:
    # E-28: 80 (E-50) → 55 ✓; E-21: E-35 → 80, 55 ✓; E-14: E-28 → 55 ✗.
    assert {k: n for k, n in weekly(result).items() if n} == {28: 1, 21: 1}


def test_renewal_within_uses_the_next_renewal_known_on_each_date():
    # Renewed on E-10 (a renewal row); the account's renewal date is now the
    # next one, E+200. On E-21 the renewal known was E-10: 11 days ahead.
    v = factories.AccountFactory(name="V", renewal_date=E + dt.timedelta(days=200))
    factories.RenewalFactory(account=v, renewal_date=ago(10), outcome="renewed")
    factories.RenewalFactory(account=v, renewal_date=ago(375), outcome="renewed")
    result = backtest(rule({"type": "renewal_within", "days": 30}), months=3, end=E)
    # E-35 … E-14: E-10 is within 30 days (E-35 + 30 = E-5); E-7, E: the next
    # is the current date E+200; E-42: E-10 is 32 days ahead.
    assert {k: n for k, n in weekly(result).items() if n} == {35: 1, 28: 1, 21: 1, 14: 1}
    # The current date counts once no recorded renewal comes before it: on E
    # it is 200 days ahead, on E-7 207.
    late = backtest(rule({"type": "renewal_within", "days": 200}), months=3, end=E)
    assert (weekly(late)[7], weekly(late)[0]) == (0, 1)


def test_a_churned_account_drops_out_after_its_churn():
    u = factories.AccountFactory(name="U")
    scored(u, ago(100), 20, "red")
    churned(u, ago(10))
    result = backtest(rule({"type": "band_is", "band": "red"}), months=3, end=E)
    # Active on D while churned_on > D: up to E-14, not on E-7 nor E.
    assert {k for k, n in weekly(result).items() if n} == {
        84,
        77,
        70,
        63,
        56,
        49,
        42,
        35,
        28,
        21,
        14,
    }
    # First match E-84, churn E-10: 74 days later, within the 180-day horizon.
    assert (result.fired, result.churned_after, result.recalled) == (1, 1, 1)
    assert result.accounts == [FiredAccount(u.pk, "U", ago(84), ago(10), 74)]


def test_the_rules_scope_bounds_the_matches_and_the_churns():
    inside_segment = factories.SegmentFactory(code="ent", name="Enterprise")
    other_segment = factories.SegmentFactory(code="smb", name="SMB")
    inside = factories.AccountFactory(name="inside", segment=inside_segment)
    outside = factories.AccountFactory(name="outside", segment=other_segment)
    for account in (inside, outside):
        scored(account, ago(100), 20, "red")
        churned(account, ago(10))
    r = rule({"type": "band_is", "band": "red"}, segment=inside_segment)
    result = backtest(r, months=3, horizon_days=180, end=E)
    assert [row.name for row in result.accounts] == ["inside"]
    assert (result.fired, result.churned_after, result.churns_in_window, result.recalled) == (
        1,
        1,
        1,
        1,
    )
    assert result.median_lead_days == Decimal("74.0")  # E-84 → E-10


def test_nothing_is_written(history):
    counts = (
        RuleMatch.objects.count(),
        Renewal.objects.count(),
        Observation.objects.count(),
        HealthScore.objects.count(),
    )
    backtest(rule(LOW_LOGINS), months=3, end=E)
    assert (
        RuleMatch.objects.count(),
        Renewal.objects.count(),
        Observation.objects.count(),
        HealthScore.objects.count(),
    ) == counts


def test_queries_do_not_grow_with_accounts(logins):
    r = rule(LOW_LOGINS, {"type": "band_is", "band": "unknown"})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            backtest(r, months=12, end=E)
        return len(captured)

    one = factories.AccountFactory(name="one")
    observe(one, logins, 1, ago(3))
    few = queries()
    for n in range(15):
        account = factories.AccountFactory(name=f"more {n}")
        observe(account, logins, 1, ago(7 * n))
        factories.RenewalFactory(account=account, renewal_date=ago(n), outcome="churned")
    assert queries() == few == 2  # the measures, then every figure
    assert backtest(r, months=12, end=E).fired == 16


# --- the service: parameters, definitions, broken rules ------------------------------------


@pytest.mark.parametrize(
    ("months", "horizon", "errors"),
    [
        ("0", "180", {"months": ["Enter a whole number from 1 to 36."]}),
        ("37", "180", {"months": ["Enter a whole number from 1 to 36."]}),
        ("twelve", "180", {"months": ["Enter a whole number."]}),
        ("12", "0", {"horizon_days": ["Enter a whole number from 1 to 730."]}),
        ("12", "731", {"horizon_days": ["Enter a whole number from 1 to 730."]}),
        (
            "1.5",
            "-3",
            {
                "months": ["Enter a whole number."],
                "horizon_days": ["Enter a whole number from 1 to 730."],
            },
        ),
    ],
)
def test_months_and_horizon_out_of_range_are_refused_naming_the_field(months, horizon, errors):
    with pytest.raises(InvalidInput) as refused:
        backtest_parameters(months, horizon)
    assert refused.value.errors == errors


def test_blank_parameters_take_the_defaults_and_the_bounds_are_allowed():
    assert backtest_parameters(None, "") == (12, 180)
    assert backtest_parameters("1", "1") == (1, 1)
    assert backtest_parameters(36, 730) == (36, 730)


def test_the_service_backtests_a_saved_rule_and_an_unsaved_definition(history):
    saved = rule_backtest(rule=rule(LOW_LOGINS), months="3", horizon_days="60", end=E)
    unsaved = backtest_definition(
        {"conditions": [LOW_LOGINS]}, months="3", horizon_days="60", end=E
    )
    assert saved == unsaved
    assert (saved.fired, saved.churned_after, saved.recalled) == (4, 2, 3)
    with pytest.raises(InvalidInput) as refused:
        backtest_definition(
            {"conditions": [{"type": "band_is", "band": "purple"}], "segment": 999999},
            months="40",
        )
    assert set(refused.value.errors) == {"months", "segment", "conditions[0].band"}


def test_a_rule_whose_measure_was_deleted_cannot_be_backtested(logins):
    r = rule(LOW_LOGINS, name="Old")
    type(logins).objects.filter(pk=logins.pk).update(code="logins-renamed")
    with pytest.raises(Conflict, match="The rule \u201cOld\u201d cannot run"):
        rule_backtest(rule=r)


def test_weekly_counts_name_every_replay_date_oldest_first():
    result = backtest(rule({"type": "band_is", "band": "red"}), months=1, end=E)
    assert result.weekly == [
        WeekCount(ago(21), 0),
        WeekCount(ago(14), 0),
        WeekCount(ago(7), 0),
        WeekCount(E, 0),
    ]
    assert result.replay_dates == replay_dates(E, 1)
    assert timezone.localdate() == rule_backtest(rule=rule({"type": "band_is", "band": "red"})).end


# --- the API ---------------------------------------------------------------------------------


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def backtest_url(pk: int) -> str:
    return f"/api/v1/rules/{pk}/backtest/"


def test_the_api_answers_the_hand_computed_figures(reviewer, logins):
    today = timezone.localdate()
    accounts = make_history(logins, today)
    r = rule(LOW_LOGINS, active=False)  # inactive: a backtest is for before switching on

    response = api(reviewer).get(backtest_url(r.pk), {"months": "3", "horizon_days": "60"})

    assert response.status_code == 200
    body = response.json()
    weekly_counts = body.pop("weekly")
    assert body == {
        "months": 3,
        "horizon_days": 60,
        "end": str(today),
        "window_start": str(ago(84, today)),
        "weeks": 13,
        "fired": 4,
        "churned_after": 2,
        "precision": "0.5000",
        "churns_in_window": 4,
        "recalled": 3,
        "recall": "0.7500",
        "median_lead_days": "25.0",
        "accounts": [
            {
                "id": accounts["F"].pk,
                "name": "F",
                "first_match": str(ago(84, today)),
                "churn_date": None,
                "lead_days": None,
            },
            {
                "id": accounts["A"].pk,
                "name": "A",
                "first_match": str(ago(70, today)),
                "churn_date": str(ago(40, today)),
                "lead_days": 30,
            },
            {
                "id": accounts["B"].pk,
                "name": "B",
                "first_match": str(ago(28, today)),
                "churn_date": str(ago(8, today)),
                "lead_days": 20,
            },
            {
                "id": accounts["C"].pk,
                "name": "C",
                "first_match": str(ago(14, today)),
                "churn_date": None,
                "lead_days": None,
            },
        ],
    }
    assert [week["matched"] for week in weekly_counts] == [1, 1, 2, 2, 2, 1, 1, 0, 1, 1, 2, 1, 1]
    assert weekly_counts[0]["day"] == str(ago(84, today))
    assert not RuleMatch.objects.exists()


def test_the_api_uses_twelve_months_and_180_days_when_left_out(csm):
    body = api(csm).get(backtest_url(rule({"type": "band_is", "band": "red"}).pk)).json()
    assert (body["months"], body["horizon_days"], body["weeks"]) == (12, 180, 52)
    assert (body["precision"], body["recall"], body["median_lead_days"]) == (None, None, None)


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"months": "0"}, "months", "Enter a whole number from 1 to 36."),
        ({"months": "37"}, "months", "Enter a whole number from 1 to 36."),
        ({"months": "x"}, "months", "Enter a whole number."),
        ({"horizon_days": "0"}, "horizon_days", "Enter a whole number from 1 to 730."),
        ({"horizon_days": "731"}, "horizon_days", "Enter a whole number from 1 to 730."),
        ({"horizon_days": "7.5"}, "horizon_days", "Enter a whole number."),
    ],
)
def test_the_api_refuses_a_bad_parameter_with_400_naming_it(csm, params, field, message):
    response = api(csm).get(backtest_url(rule({"type": "band_is", "band": "red"}).pk), params)
    assert response.status_code == 400
    assert response.json() == {field: [message]}


def test_the_api_answers_409_for_a_rule_whose_measure_was_renamed(csm, logins):
    r = rule(LOW_LOGINS, name="Old")
    type(logins).objects.filter(pk=logins.pk).update(code="logins-renamed")
    response = api(csm).get(backtest_url(r.pk))
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "The rule \u201cOld\u201d cannot run: it tests the measure 'logins', which no longer "
        "exists. Edit its conditions."
    )


def test_the_api_answers_404_for_an_unknown_rule(csm):
    assert api(csm).get(backtest_url(999999)).status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("csm", 200), ("manager", 200), ("reviewer", 200), ("admin", 200)],
)
def test_every_signed_in_role_may_backtest_through_the_api(
    csm, manager, reviewer, admin_user, role, status
):
    people = {
        "anonymous": None,
        "csm": csm,
        "manager": manager,
        "reviewer": reviewer,
        "admin": admin_user,
    }
    r = rule({"type": "band_is", "band": "red"}, active=False)
    assert api(people[role]).get(backtest_url(r.pk)).status_code == status
    assert not RuleMatch.objects.exists()


def test_the_api_costs_the_same_queries_for_1_and_15_accounts(csm, logins):
    r = rule(LOW_LOGINS)
    client = api(csm)
    observe(factories.AccountFactory(), logins, 1, timezone.localdate())
    with CaptureQueriesContext(connection) as small:
        client.get(backtest_url(r.pk))
    for n in range(14):
        account = factories.AccountFactory()
        observe(account, logins, 1, ago(7 * n, timezone.localdate()))
        factories.RenewalFactory(
            account=account, renewal_date=ago(n, timezone.localdate()), outcome="churned"
        )
    with CaptureQueriesContext(connection) as large:
        body = client.get(backtest_url(r.pk)).json()
    assert body["fired"] == 15
    assert len(large) == len(small)


# --- the pages -------------------------------------------------------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


def page_text(response) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_the_rules_page_offers_the_backtest_and_runs_it_on_request(client, reviewer, logins):
    accounts = make_history(logins, timezone.localdate())
    r = rule(LOW_LOGINS)
    client.force_login(reviewer)
    page = client.get(reverse("rules:detail", args=[r.pk]))
    assert page.status_code == 200
    assert 'id="backtest"' in page.content.decode()
    assert "using only the data known on each date" in page_text(page)
    assert 'id="backtest-summary"' not in page.content.decode()  # run on request only

    url = reverse("rules:backtest", args=[r.pk])
    full = client.get(url, {"months": "3", "horizon_days": "60"})
    words = " ".join(page_text(full).split())
    assert full.status_code == 200
    assert "Replayed on 13 dates, every 7 days" in words
    assert "4 accounts matched on at least one replay date." in words
    assert "2 of them churned within 60 days after their first match." in words
    assert "50% (0.5000: churned after ÷ fired)" in words
    assert "75% (3 of the 4 churns in scope" in words
    assert "25.0 days from the first match to the churn" in words
    assert "What it matches now" in words  # the whole page
    table = full.content.decode().split('class="backtest-table')[1]
    # The fired accounts by first match, each a link to its page.
    assert re.findall(r'data-account="(\d+)"', table) == [str(accounts[name].pk) for name in "FABC"]
    assert reverse("customer_accounts:detail", args=[accounts["A"].pk]) in table
    assert 'id="backtest-chart"' in full.content.decode()

    fragment = client.get(url, {"months": "3", "horizon_days": "60"}, **HTMX)
    assert fragment.status_code == 200
    assert fragment.content.decode().lstrip().startswith("<section")
    assert "What it matches now" not in page_text(fragment)


def test_a_bad_months_on_the_rules_page_is_shown_beside_the_input(client, csm):
    r = rule({"type": "band_is", "band": "red"})
    client.force_login(csm)
    url = reverse("rules:backtest", args=[r.pk])
    response = client.get(url, {"months": "40", "horizon_days": "60"})
    assert response.status_code == 400
    block = response.content.decode().split('id="field-id_months"')[1].split('id="field-')[0]
    assert "Enter a whole number from 1 to 36." in block
    assert client.get(url, {"months": "40"}, **HTMX).status_code == 200  # htmx swaps no 4xx


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer", "admin"])
def test_every_signed_in_role_may_run_the_backtest_on_the_rules_page(
    client, csm, manager, reviewer, admin_user, role
):
    people = {"csm": csm, "manager": manager, "reviewer": reviewer, "admin": admin_user}
    r = rule({"type": "band_is", "band": "red"})
    client.force_login(people[role])
    assert client.get(reverse("rules:backtest", args=[r.pk])).status_code == 200


def test_anonymous_people_are_sent_to_sign_in(client):
    r = rule({"type": "band_is", "band": "red"})
    response = client.get(reverse("rules:backtest", args=[r.pk]))
    assert response.status_code == 302
    assert "login" in response["Location"]


def editor_data(**fields) -> dict:
    data = {
        "name": "Few logins",
        "description": "",
        "segment": "",
        "region": "",
        "primary_cause": "",
        "actions": ["notify"],
        "c1_type": "measure_below",
        "c1_measure": "logins",
        "c1_value": "5",
        "c2_type": "",
        "c3_type": "",
        "months": "3",
        "horizon_days": "60",
        "intent": "backtest",
    }
    data.update(fields)
    return data


def test_the_editor_backtests_the_unsaved_definition(client, admin_user, logins):
    make_history(logins, timezone.localdate())
    client.force_login(admin_user)
    response = client.post(reverse("rules:new"), editor_data(), **HTMX)
    words = " ".join(page_text(response).split())
    assert response.status_code == 200
    assert "4 accounts matched on at least one replay date." in words
    assert "25.0 days from the first match to the churn" in words
    assert not Rule.objects.exists()  # nothing saved


def test_the_editor_shows_a_bad_horizon_beside_its_input_and_condition_errors_beside_theirs(
    client, admin_user, logins
):
    client.force_login(admin_user)
    response = client.post(reverse("rules:new"), editor_data(horizon_days="999", c1_value=""))
    assert response.status_code == 400
    page = response.content.decode()
    horizon = page.split('id="field-id_horizon_days"')[1].split('id="field-')[0]
    assert "Enter a whole number from 1 to 730." in horizon
    value = page.split('id="field-id_c1_value"')[1].split('id="field-')[0]
    assert "This field is required." in value


def test_only_admins_open_the_editor_so_only_they_backtest_a_definition(client, csm):
    client.force_login(csm)
    assert client.post(reverse("rules:new"), editor_data()).status_code == 403


# --- the replay and the as-of query agree ----------------------------------------------------

EVERY_TYPE = [
    {"type": "band_is", "band": "red"},
    {"type": "band_is", "band": "unknown"},
    {"type": "score_drop", "points": 15, "days": 20},
    {"type": "measure_below", "measure": "logins", "value": 40},
    {"type": "measure_above", "measure": "logins", "value": 60},
    {"type": "measure_change_below", "measure": "logins", "percent": -20},
    {"type": "event_within", "measure": "sponsor-left", "days": 10},
    {"type": "renewal_within", "days": 45},
]


@pytest.mark.parametrize("condition", EVERY_TYPE, ids=[str(c) for c in EVERY_TYPE])
def test_each_replay_day_matches_what_the_as_of_query_matches_on_that_day(logins, condition):
    """With no later knowledge to leave out (every account active, no
    renewal recorded), replaying a day must find exactly the accounts the
    rule's query as of that day finds (rules.evaluation.rule_preview)."""
    from rules.evaluation import measures_by_code, rule_preview, rule_replay_query
    from tests.rules.conftest import event

    sponsor = event("sponsor-left")
    for n in range(8):
        account = factories.AccountFactory(name=f"P{n}", renewal_date=ago(10 * n - 20))
        for week in range(16):
            # Values that wander up and down, a different walk per account.
            value = (n * 37 + week * (11 + n)) % 100
            if (n + week) % 5:
                observe(account, logins, value, ago(7 * week + n))
            if week % 3 == n % 3:
                scored(account, ago(7 * week + n + 1), value, "red" if value < 40 else "green")
        if n % 2:
            # Two events 4 days apart: their days overlap.
            observe(account, sponsor, 1, ago(9 * n))
            observe(account, sponsor, 1, ago(9 * n + 4))
    # Scored from E-30 on, first as unknown, then green; never scored.
    late = factories.AccountFactory(name="late")
    scored(late, ago(30), None, "unknown")
    scored(late, ago(16), 80, "green")
    factories.AccountFactory(name="never")
    r = rule(condition)
    days = replay_dates(E, 3)
    query, _, _ = rule_replay_query(r, days=days, measures=measures_by_code())
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {query.ctes} SELECT account_id, day FROM hit", query.params)
        replayed = {(pk, str(day)[:10]) for pk, day in cursor.fetchall()}
    expected = set()
    for day in days:
        preview = rule_preview(r, as_of=day, limit=100)
        expected |= {(row.account.pk, str(day)) for row in preview.rows}
    assert replayed == expected
    assert expected  # every condition matches somewhere in this data
