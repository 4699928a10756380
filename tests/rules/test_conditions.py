"""Each condition type at its boundaries, as of a day D, through the one query
a rule runs (rule_preview shows what evaluation would match). The expected
accounts and evidence are worked out by hand in each test."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import AccountStatus
from rules.evaluation import rule_preview
from tests import factories
from tests.rules.conftest import D, event, number, observe, rule, scored

pytestmark = pytest.mark.django_db


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def matched(r, as_of=D) -> dict[str, list[dict]]:
    preview = rule_preview(r, as_of=as_of)
    assert preview.count == len(preview.rows)
    return {row.account.name: row.evidence for row in preview.rows}


def accounts(*names: str, **fields):
    return [factories.AccountFactory(name=name, **fields) for name in names]


def test_band_is_uses_the_newest_score_on_or_before_the_day():
    red_now, red_later, green, _never = accounts("red now", "red later", "green", "never")
    scored(red_now, D - days(3), 31, "red")
    scored(red_later, D - days(3), 75, "green")
    scored(red_later, D + days(1), 20, "red")  # after D: not known on D
    scored(green, D, 80, "green")
    found = matched(rule({"type": "band_is", "band": "red"}))
    assert found == {"red now": [{"type": "band_is", "band": "red", "score": 31}]}
    # The account's mirror is the red row of D+1, so D's band comes from history.
    assert matched(rule({"type": "band_is", "band": "green"})).keys() == {"red later", "green"}


def test_band_is_unknown_includes_accounts_never_scored():
    accounts("never")
    found = matched(rule({"type": "band_is", "band": "unknown"}))
    assert found == {"never": [{"type": "band_is", "band": "unknown", "score": None}]}


def test_score_drop_compares_with_the_newest_score_days_before():
    exactly, one_short, no_history = accounts("exactly", "one short", "no history")
    # 30 days before D: 70; on D: 50 → fell 20 points (the rule asks for 20).
    scored(exactly, D - days(30), 70, "green")
    scored(exactly, D, 50, "yellow")
    # The newest score on or before D-30 is the one of D-40 (69): fell 19.
    scored(one_short, D - days(40), 69, "yellow")
    scored(one_short, D - days(29), 90, "green")
    scored(one_short, D, 50, "yellow")
    scored(no_history, D, 10, "red")
    found = matched(rule({"type": "score_drop", "points": 20, "days": 30}))
    assert found == {
        "exactly": [{"type": "score_drop", "points": 20, "days": 30, "was": 70, "score": 50}]
    }


def test_measure_below_and_above_use_the_latest_fresh_value_strictly():
    logins = number("logins", stale_after_days=45)
    below, equal, stale, newer_high = accounts("below", "equal", "stale", "newer high")
    observe(below, logins, "4.5", D - days(45))  # exactly 45 days old: still fresh
    observe(equal, logins, 5, D)
    observe(stale, logins, 1, D - days(46))
    observe(newer_high, logins, 1, D - days(10))
    observe(newer_high, logins, 9, D - days(2))  # the latest wins
    observe(newer_high, logins, 0, D + days(1))  # after D: unknown on D
    found = matched(rule({"type": "measure_below", "measure": "logins", "value": 5}))
    assert found == {
        "below": [
            {
                "type": "measure_below",
                "measure": "logins",
                "name": logins.name,
                "limit": 5,
                "value": 4.5,
                "observed_on": str(D - days(45)),
            }
        ]
    }
    above = matched(rule({"type": "measure_above", "measure": "logins", "value": 5}))
    assert above.keys() == {"newer high"}
    assert above["newer high"][0]["value"] == 9


def test_measure_change_below_is_the_scoring_change_against_the_baseline():
    usage = number("usage", scoring="change", baseline_days=90, stale_after_days=45)
    down, flat_edge, no_baseline, zero_baseline = accounts(
        "down", "edge", "no baseline", "zero baseline"
    )
    # Baseline [D-100, D-10) of the latest (D-10): mean of 100 and 200 = 150
    # (D-101 is outside it); latest 90 → 100 * (90 - 150) / 150 = -40%.
    observe(down, usage, 500, D - days(101))
    observe(down, usage, 100, D - days(100))
    observe(down, usage, 200, D - days(50))
    observe(down, usage, 90, D - days(10))
    # Mean 100, latest 70 → exactly -30%: not below -30.
    observe(flat_edge, usage, 100, D - days(20))
    observe(flat_edge, usage, 70, D)
    observe(no_baseline, usage, 10, D)
    observe(zero_baseline, usage, 0, D - days(5))
    observe(zero_baseline, usage, 10, D)
    found = matched(rule({"type": "measure_change_below", "measure": "usage", "percent": -30}))
    assert list(found) == ["down"]
    (evidence,) = found["down"]
    assert evidence["change"] == -40.0
    assert evidence["value"] == 90
    assert evidence["observed_on"] == str(D - days(10))
    assert evidence["limit"] == -30
    assert evidence["baseline_days"] == 90
    edge = matched(rule({"type": "measure_change_below", "measure": "usage", "percent": "-29.9"}))
    assert edge.keys() == {"down", "edge"}


def test_event_within_counts_the_days_after_d_minus_days_up_to_d():
    sponsor = event("sponsor-left")
    inside, boundary, future = accounts("inside", "boundary", "future")
    observe(inside, sponsor, 1, D - days(29))
    observe(boundary, sponsor, 1, D - days(30))  # (D-30, D]: left out
    observe(future, sponsor, 1, D + days(1))
    found = matched(rule({"type": "event_within", "measure": "sponsor-left", "days": 30}))
    assert found == {
        "inside": [
            {
                "type": "event_within",
                "measure": "sponsor-left",
                "name": sponsor.name,
                "days": 30,
                "observed_on": str(D - days(29)),
            }
        ]
    }


def test_renewal_within_counts_from_d_to_d_plus_days_inclusive():
    accounts("today", renewal_date=D)
    accounts("last day", renewal_date=D + days(60))
    accounts("too late", renewal_date=D + days(61))
    accounts("past", renewal_date=D - days(1))
    found = matched(rule({"type": "renewal_within", "days": 60}))
    assert found.keys() == {"today", "last day"}
    assert found["last day"] == [
        {"type": "renewal_within", "days": 60, "renewal_date": str(D + days(60))}
    ]


def test_every_condition_must_hold_and_evidence_follows_the_rule_order():
    both, only_red = accounts("both", renewal_date=D + days(10)) + accounts(
        "only red", renewal_date=D + days(200)
    )
    scored(both, D, 20, "red")
    scored(only_red, D, 20, "red")
    found = matched(
        rule({"type": "band_is", "band": "red"}, {"type": "renewal_within", "days": 90})
    )
    assert list(found) == ["both"]
    assert [item["type"] for item in found["both"]] == ["band_is", "renewal_within"]


def test_scope_and_churned_accounts():
    segment, region = factories.SegmentFactory(), factories.RegionFactory()
    smb = factories.SegmentFactory(code="smb", name="SMB")
    inside = factories.AccountFactory(name="inside", segment=segment, region=region)
    factories.AccountFactory(name="other segment", segment=smb, region=region)
    factories.AccountFactory(name="other region", segment=segment)
    factories.AccountFactory(
        name="churned",
        segment=segment,
        region=region,
        status=AccountStatus.CHURNED,
        churned_on=D - days(5),
    )
    for account in type(inside).objects.all():
        scored(account, D, 10, "red")
    r = rule({"type": "band_is", "band": "red"}, segment=segment, region=region)
    assert matched(r).keys() == {"inside"}


def test_preview_lists_the_largest_arr_first_and_counts_beyond_the_limit():
    for n, arr in enumerate([100, 300, 200]):
        factories.AccountFactory(name=f"a{n}", arr=arr)
    preview = rule_preview(rule({"type": "band_is", "band": "unknown"}), as_of=D, limit=2)
    assert preview.count == 3
    assert [row.account.name for row in preview.rows] == ["a1", "a2"]
