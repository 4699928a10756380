"""/api/v1/rules/ and /api/v1/rule-matches/ (docs/api.md): everyone signed in
reads rules, previews them and reads their matches; CS operations admins write
rules (``rule_create``, ``rule_update``, ``rule_delete``) and evaluate them now
(``evaluate_now``). The figures of the evidence are worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Segment
from health.models import Measure
from risks.models import RiskRecord, RiskStatus, RootCause
from rules.models import Outcome, Rule, RuleMatch
from tests import factories
from tests.rules.conftest import D, observe, rule, scored

pytestmark = pytest.mark.django_db

RULE_FIELDS = [
    "id",
    "name",
    "description",
    "active",
    "segment",
    "region",
    "conditions",
    "actions",
    "primary_cause",
    "version",
    "created_at",
    "updated_at",
    "recent_matches",
    "open_matches",
]
MATCH_FIELDS = [
    "id",
    "rule",
    "rule_name",
    "account",
    "account_name",
    "matched_at",
    "as_of",
    "evidence",
    "explanation",
    "risk",
    "outcome",
    "outcome_note",
    "acted_at",
    "cleared_at",
]

RED = {"type": "band_is", "band": "red"}
USAGE_DOWN = {"type": "measure_change_below", "measure": "usage-volume", "percent": -30}
RENEWS = {"type": "renewal_within", "days": 730}

NEW_RULE = {
    "name": "Red and usage falling",
    "description": "Red health while usage falls: open a record.",
    "conditions": [RED, USAGE_DOWN],
    "actions": ["open_risk", "notify"],
    "primary_cause": "low-usage",
}


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def url(pk: int | None = None, action: str | None = None) -> str:
    if pk is None:
        return "/api/v1/rules/" if action is None else f"/api/v1/rules/{action}/"
    return f"/api/v1/rules/{pk}/" if action is None else f"/api/v1/rules/{pk}/{action}/"


def matches_url(pk: int | None = None) -> str:
    return "/api/v1/rule-matches/" if pk is None else f"/api/v1/rule-matches/{pk}/"


def names(response) -> list[str]:
    return [row["name"] for row in response.json()["results"]]


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def match(r: Rule, account, *, ago: int = 0, cleared: bool = False, **fields) -> RuleMatch:
    """A match written straight to the database, ``ago`` days ago."""
    at = timezone.now() - days(ago)
    values = {
        "matched_at": at,
        "as_of": at.date(),
        "evidence": [{"type": "renewal_within", "days": 730, "renewal_date": "2026-10-01"}],
        "cleared_at": at + days(1) if cleared else None,
    }
    values.update(fields)
    return RuleMatch.objects.create(rule=r, account=account, **values)


@pytest.fixture
def smb() -> Segment:
    return Segment.objects.get(code="smb")


# --- reading rules ---------------------------------------------------------------------------


def test_rule_is_represented_with_its_fields_and_match_counts(reviewer, account, region, low_usage):
    r = rule(
        RED,
        USAGE_DOWN,
        name="Usage drop",
        description="Why.",
        segment=account.segment,
        region=region,
        actions=["open_risk", "notify"],
        primary_cause=low_usage,
    )
    other = factories.AccountFactory(csm=account.csm, region=region)
    match(r, account, ago=2)  # recent and open
    match(r, other, ago=10, cleared=True)  # recent, cleared
    match(r, other, ago=40, cleared=True)  # older than 30 days

    response = client_for(reviewer).get(url(r.pk))

    assert response.status_code == 200
    body = response.json()
    assert list(body) == RULE_FIELDS
    assert dt.datetime.fromisoformat(body.pop("created_at")) == r.created_at
    assert dt.datetime.fromisoformat(body.pop("updated_at")) == r.updated_at
    assert body == {
        "id": r.pk,
        "name": "Usage drop",
        "description": "Why.",
        "active": True,
        "segment": "enterprise",
        "region": "EMEA",
        "conditions": [RED, USAGE_DOWN],
        "actions": ["open_risk", "notify"],
        "primary_cause": "low-usage",
        "version": 1,
        "recent_matches": 2,
        "open_matches": 1,
    }


def test_list_is_active_rules_first_then_by_name(csm):
    rule(RED, name="B active")
    rule(RED, name="A inactive", active=False)
    rule(RED, name="A active")

    response = client_for(csm).get(url())

    assert response.status_code == 200
    assert names(response) == ["A active", "B active", "A inactive"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"active": "true"}, ["On"]), ({"active": "false"}, ["Off"]), ({}, ["On", "Off"])],
)
def test_the_active_filter(csm, params, expected):
    rule(RED, name="On")
    rule(RED, name="Off", active=False)

    assert names(client_for(csm).get(url(), params)) == expected


def test_an_invalid_filter_value_is_400_on_the_parameter(csm):
    response = client_for(csm).get(url(), {"active": "perhaps"})

    assert response.status_code == 400
    assert list(response.json()) == ["active"]


def test_a_rules_own_url_ignores_the_list_filters(csm):
    r = rule(RED, active=False)

    assert client_for(csm).get(url(r.pk), {"active": "true"}).status_code == 200


def test_unknown_rule_is_404(csm):
    assert client_for(csm).get(url(999999)).status_code == 404


# --- creating rules ----------------------------------------------------------------------------


def test_admin_adds_a_rule_which_starts_inactive(admin_user):
    response = client_for(admin_user).post(url(), NEW_RULE)

    assert response.status_code == 201
    body = response.json()
    r = Rule.objects.get(pk=body["id"])
    assert (r.name, r.active, r.segment, r.region, r.primary_cause.code, r.created_by) == (
        "Red and usage falling",
        False,
        None,
        None,
        "low-usage",
        admin_user,
    )
    assert r.conditions == [RED, USAGE_DOWN]
    assert r.actions == ["open_risk", "notify"]
    assert {key: body[key] for key in ("active", "version", "recent_matches", "open_matches")} == {
        "active": False,
        "version": 1,
        "recent_matches": 0,
        "open_matches": 0,
    }
    assert body["conditions"] == [RED, USAGE_DOWN]


def test_a_rule_is_created_active_when_asked_with_its_scope_and_cleaned_conditions(
    admin_user, smb, region
):
    body = {
        "name": "  SMB   renewals ",
        "active": True,
        "segment": "smb",
        "region": "EMEA",
        # A decimal string is a number; notify needs no cause.
        "conditions": [{"type": "measure_below", "measure": "nps", "value": "-10.50"}],
        "actions": ["notify", "notify"],
    }

    response = client_for(admin_user).post(url(), body)

    assert response.status_code == 201
    assert {key: response.json()[key] for key in body} == {
        "name": "SMB renewals",
        "active": True,
        "segment": "smb",
        "region": "EMEA",
        "conditions": [{"type": "measure_below", "measure": "nps", "value": -10.5}],
        "actions": ["notify"],
    }
    assert response.json()["primary_cause"] is None
    r = Rule.objects.get()
    assert (r.segment, r.region) == (smb, region)


def four(*extra):
    return [RED, RENEWS, {"type": "score_drop", "points": 10, "days": 30}, *extra]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        # conditions: each parameter named by the condition's index, from 0
        (
            {"conditions": [{"type": "measure_below", "measure": "no-such", "value": 5}]},
            "conditions[0].measure",
        ),
        (
            {"conditions": [{"type": "measure_below", "measure": "sponsor-left", "value": 5}]},
            "conditions[0].measure",
        ),
        ({"conditions": [{"type": "band_is", "band": "purple"}]}, "conditions[0].band"),
        ({"conditions": [RED, {**USAGE_DOWN, "percent": -150}]}, "conditions[1].percent"),
        ({"conditions": [{**USAGE_DOWN, "percent": "a lot"}]}, "conditions[0].percent"),
        ({"conditions": [{"type": "renewal_within", "days": 0}]}, "conditions[0].days"),
        ({"conditions": [{"type": "renewal_within", "days": 731}]}, "conditions[0].days"),
        (
            {"conditions": [{"type": "score_drop", "points": 101, "days": 30}]},
            "conditions[0].points",
        ),
        ({"conditions": [{"type": "score_drop", "days": 30}]}, "conditions[0].points"),
        (
            {"conditions": [{"type": "measure_below", "measure": "nps", "value": 1.23456}]},
            "conditions[0].value",
        ),
        ({"conditions": [{"type": "churn_soon"}]}, "conditions[0].type"),
        ({"conditions": [{**RED, "score": 3}]}, "conditions[0]"),
        ({"conditions": ["red"]}, "conditions[0]"),
        # the list as a whole
        (
            {
                "conditions": [
                    {"type": "measure_below", "measure": "nps", "value": 5},
                    {"type": "measure_above", "measure": "nps", "value": 10},
                ]
            },
            "conditions",
        ),
        ({"conditions": [RED, {"type": "band_is", "band": "yellow"}]}, "conditions"),
        ({"conditions": []}, "conditions"),
        ({"conditions": four({"type": "band_is", "band": "green"})}, "conditions"),
        ({"conditions": "red"}, "conditions"),
        # the other fields
        ({"primary_cause": None}, "primary_cause"),
        ({"primary_cause": "no-such-cause"}, "primary_cause"),
        ({"actions": ["open_risk", "call"]}, "actions"),
        ({"actions": []}, "actions"),
        ({"actions": "notify"}, "actions"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"description": "x" * 2001}, "description"),
        ({"segment": "no-such-segment"}, "segment"),
        ({"region": "XX"}, "region"),
        ({"active": "perhaps"}, "active"),
    ],
)
def test_an_invalid_rule_is_400_on_the_field(admin_user, change, field):
    response = client_for(admin_user).post(url(), {**NEW_RULE, **change})

    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert all(isinstance(message, str) for message in response.json()[field])
    assert not Rule.objects.exists()


@pytest.mark.parametrize("field", ["name", "conditions", "actions"])
def test_a_missing_required_field_is_400_on_it(admin_user, field):
    body = {name: value for name, value in NEW_RULE.items() if name != field}

    response = client_for(admin_user).post(url(), body)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_every_error_comes_back_at_once(admin_user):
    body = {**NEW_RULE, "conditions": [RED, {**USAGE_DOWN, "percent": -150}]}
    body.pop("primary_cause")

    response = client_for(admin_user).post(url(), body)

    assert response.status_code == 400
    assert response.json() == {
        "conditions[1].percent": ["Enter a number greater than -100 and less than 10000."],
        "primary_cause": ["A rule that opens risk records needs their primary cause."],
    }


def test_a_second_rule_with_the_same_name_in_other_case_is_400_on_name(admin_user):
    rule(RED, name="Red and usage falling")

    response = client_for(admin_user).post(url(), {**NEW_RULE, "name": "RED AND USAGE FALLING"})

    assert response.status_code == 400
    assert response.json() == {"name": ["Another rule has this name."]}


def test_a_retired_cause_is_refused_for_a_new_rule(admin_user, low_usage):
    RootCause.objects.filter(pk=low_usage.pk).update(active=False)

    response = client_for(admin_user).post(url(), NEW_RULE)

    assert response.status_code == 400
    assert list(response.json()) == ["primary_cause"]


# --- changing rules ----------------------------------------------------------------------------


@pytest.fixture
def saved(region, smb, defects) -> Rule:
    return rule(
        RENEWS,
        name="Renewals",
        description="Old text.",
        segment=smb,
        region=region,
        active=True,
        actions=["open_risk"],
        primary_cause=defects,
    )


def test_put_replaces_the_rule_and_fields_left_out_take_their_defaults(admin_user, saved):
    response = client_for(admin_user).put(url(saved.pk), NEW_RULE)

    assert response.status_code == 200
    saved.refresh_from_db()
    assert (saved.name, saved.description, saved.active, saved.segment, saved.region) == (
        "Red and usage falling",
        "Red health while usage falls: open a record.",
        False,
        None,
        None,
    )
    assert saved.conditions == [RED, USAGE_DOWN]
    assert saved.primary_cause.code == "low-usage"
    assert saved.version == 2
    assert response.json()["version"] == 2
    assert response.json()["active"] is False


def test_patch_changes_only_the_fields_sent(admin_user, saved):
    response = client_for(admin_user).patch(
        url(saved.pk), {"conditions": [RED], "version": 1}, format="json"
    )

    assert response.status_code == 200
    saved.refresh_from_db()
    assert saved.conditions == [RED]
    assert (saved.name, saved.description, saved.active, saved.segment.code) == (
        "Renewals",
        "Old text.",
        True,
        "smb",
    )
    assert (saved.region.code, saved.primary_cause.code, saved.version) == ("EMEA", "defects", 2)
    assert response.json()["conditions"] == [RED]
    assert response.json()["version"] == 2


def test_patch_active_false_switches_a_rule_off(admin_user, saved):
    response = client_for(admin_user).patch(url(saved.pk), {"active": False})

    assert response.status_code == 200
    saved.refresh_from_db()
    assert (saved.active, saved.version) == (False, 2)


def test_patch_may_keep_the_retired_cause_the_rule_already_has(admin_user, saved, defects):
    RootCause.objects.filter(pk=defects.pk).update(active=False)
    client = client_for(admin_user)

    kept = client.patch(url(saved.pk), {"description": "New text."})
    chosen_again = client.patch(url(saved.pk), {"primary_cause": "defects"})

    assert kept.status_code == chosen_again.status_code == 200
    saved.refresh_from_db()
    assert (saved.description, saved.primary_cause) == ("New text.", defects)


def test_a_stale_version_is_409_and_changes_nothing(admin_user, saved):
    client = client_for(admin_user)
    first = client.patch(url(saved.pk), {"description": "First.", "version": 1})

    second = client.patch(url(saved.pk), {"description": "Second.", "version": 1})
    put = client.put(url(saved.pk), {**NEW_RULE, "version": 1})

    assert first.status_code == 200
    assert second.status_code == put.status_code == 409
    assert second.json()["existing"] == saved.pk
    assert "Someone changed the rule" in second.json()["detail"]
    saved.refresh_from_db()
    assert (saved.description, saved.name, saved.version) == ("First.", "Renewals", 2)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"conditions": [{**USAGE_DOWN, "percent": -100}]}, "conditions[0].percent"),
        ({"actions": ["notify", "escalate"]}, "actions"),
        ({"primary_cause": None}, "primary_cause"),  # the rule opens records
        ({"version": 0}, "version"),
        ({"version": "latest"}, "version"),
        ({"name": "Taken"}, "name"),
    ],
)
def test_an_invalid_patch_is_400_on_the_field_and_changes_nothing(admin_user, saved, change, field):
    rule(RED, name="Taken")

    response = client_for(admin_user).patch(url(saved.pk), change)

    assert response.status_code == 400
    assert list(response.json()) == [field]
    saved.refresh_from_db()
    assert (saved.conditions, saved.actions, saved.version) == ([RENEWS], ["open_risk"], 1)


def test_writing_an_unknown_rule_is_404(admin_user):
    client = client_for(admin_user)
    assert client.put(url(999999), NEW_RULE).status_code == 404
    assert client.patch(url(999999), {"active": False}).status_code == 404
    assert client.delete(url(999999)).status_code == 404


def test_admin_deletes_a_rule_that_never_matched(admin_user, saved):
    response = client_for(admin_user).delete(url(saved.pk))

    assert response.status_code == 204
    assert not Rule.objects.exists()


def test_a_rule_with_matches_is_kept_409(admin_user, saved, account):
    match(saved, account, cleared=True)

    response = client_for(admin_user).delete(url(saved.pk))

    assert response.status_code == 409
    assert "switch it off instead" in response.json()["detail"]
    assert Rule.objects.filter(pk=saved.pk).exists()


# --- preview -------------------------------------------------------------------------------------


@pytest.fixture
def red_and_falling(csm, region):
    """Red on D (score 31) with usage down 40% (mean 100 over the 90 days
    before, 60 on D); red but usage flat; green with usage down; never scored."""
    accounts = {
        name: factories.AccountFactory(name=name, csm=csm, region=region, arr=arr)
        for name, arr in [
            ("Red falling", "90000.00"),
            ("Red flat", "300000.00"),
            ("Green falling", "500000.00"),
            ("Never scored", "1000.00"),
        ]
    }
    scored(accounts["Red falling"], D, 31, "red")
    scored(accounts["Red flat"], D - days(2), 12, "red")
    scored(accounts["Green falling"], D, 80, "green")
    usage = Measure.objects.get(code="usage-volume")
    for name, baseline, latest in [
        ("Red falling", 100, 60),
        ("Red flat", 100, 100),
        ("Green falling", 100, 50),
    ]:
        observe(accounts[name], usage, baseline, D - days(20))
        observe(accounts[name], usage, latest, D)
    return accounts


def test_preview_lists_the_matching_accounts_with_their_evidence(reviewer, csm, red_and_falling):
    r = rule(RED, USAGE_DOWN, active=False)  # inactive: a preview is for before switching on
    account = red_and_falling["Red falling"]

    response = client_for(reviewer).get(url(r.pk, "preview"), {"as_of": "2026-06-30"})

    assert response.status_code == 200
    assert response.json() == {
        "as_of": "2026-06-30",
        "count": 1,
        "accounts": [
            {
                "id": account.pk,
                "name": "Red falling",
                "segment": "enterprise",
                "region": "EMEA",
                "csm": csm.pk,
                "arr": "90000.00",
                "evidence": [
                    {"type": "band_is", "band": "red", "score": 31},
                    {
                        "type": "measure_change_below",
                        "measure": "usage-volume",
                        "name": "Usage volume",
                        "limit": -30,
                        # 100 * (60 - 100) / 100
                        "change": -40.0,
                        "value": 60,
                        "observed_on": "2026-06-30",
                        "baseline_days": 90,
                    },
                ],
                "explanation": [
                    "Health is red (score 31).",
                    "Usage volume was 60 on 30 Jun 2026: \u221240% against its average of "
                    "the 90 days before (the rule looks for under \u221230%).",
                ],
            }
        ],
    }


def test_preview_judges_the_conditions_on_the_day_asked_for(csm, red_and_falling):
    r = rule(RED)
    client = client_for(csm)

    on_d = client.get(url(r.pk, "preview"), {"as_of": "2026-06-30"})
    # The day before D only "Red flat" was scored (12 on D-2).
    before = client.get(url(r.pk, "preview"), {"as_of": "2026-06-29"})

    # The largest ARR first.
    assert [row["name"] for row in on_d.json()["accounts"]] == ["Red flat", "Red falling"]
    assert on_d.json()["count"] == 2
    assert before.json()["count"] == 1
    assert before.json()["accounts"][0]["evidence"] == [
        {"type": "band_is", "band": "red", "score": 12}
    ]


def test_preview_keeps_to_the_rules_scope(csm, other_region, red_and_falling, smb):
    elsewhere = factories.AccountFactory(name="Elsewhere", csm=csm, region=other_region)
    scored(elsewhere, D, 5, "red")
    small = factories.AccountFactory(name="Small", csm=csm, segment=smb, region=other_region)
    scored(small, D, 7, "red")
    client = client_for(csm)

    def matched(r):
        response = client.get(url(r.pk, "preview"), {"as_of": "2026-06-30"})
        return {row["name"] for row in response.json()["accounts"]}

    assert matched(rule(RED, region=other_region)) == {"Elsewhere", "Small"}
    assert matched(rule(RED, segment=smb)) == {"Small"}
    assert matched(rule(RED)) == {"Red falling", "Red flat", "Elsewhere", "Small"}


def test_preview_without_as_of_judges_on_today(csm, account):
    scored(account, timezone.localdate(), 20, "red")
    r = rule(RED)

    response = client_for(csm).get(url(r.pk, "preview"))

    assert response.json()["as_of"] == timezone.localdate().isoformat()
    assert [row["id"] for row in response.json()["accounts"]] == [account.pk]


@pytest.mark.parametrize("as_of", ["2026-13-01", "yesterday", "0999-01-01", "9999-12-31"])
def test_preview_with_a_bad_date_is_400_on_as_of(csm, as_of):
    r = rule(RED)

    response = client_for(csm).get(url(r.pk, "preview"), {"as_of": as_of})

    assert response.status_code == 400
    assert list(response.json()) == ["as_of"]


def test_preview_of_an_unknown_rule_is_404(csm):
    assert client_for(csm).get(url(999999, "preview")).status_code == 404


def test_preview_costs_the_same_queries_for_1_and_12_accounts(
    csm, region, django_assert_num_queries
):
    for n in range(12):
        account = factories.AccountFactory(csm=csm, region=region)
        scored(account, D, 10 + n, "red" if n else "yellow")
    one = rule({"type": "band_is", "band": "yellow"})
    many = rule(RED)
    client = client_for(csm)
    # the rule, the measures, the rule's query, the accounts
    with django_assert_num_queries(4):
        small = client.get(url(one.pk, "preview"), {"as_of": "2026-06-30"})
    with django_assert_num_queries(4):
        large = client.get(url(many.pk, "preview"), {"as_of": "2026-06-30"})

    assert small.json()["count"] == 1
    assert large.json()["count"] == 11


# --- evaluating now -----------------------------------------------------------------------------


def today_is(monkeypatch, day: dt.date) -> None:
    """Evaluating now is always as of today: make today the day the data is about."""
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: day)


def test_evaluate_as_admin_writes_the_matches(admin_user, red_and_falling, monkeypatch):
    on = rule(RED, USAGE_DOWN, name="On")
    rule(RED, name="Off", active=False)
    today_is(monkeypatch, D)

    response = client_for(admin_user).post(url(action="evaluate"))

    assert response.status_code == 200
    assert response.json() == {
        "as_of": "2026-06-30",
        "rules": 1,
        "matched": 1,
        "cleared": 0,
        "problems": [],
    }
    (found,) = RuleMatch.objects.all()
    assert (found.rule, found.account, found.as_of, found.cleared_at) == (
        on,
        red_and_falling["Red falling"],
        D,
        None,
    )
    assert found.evidence[0] == {"type": "band_is", "band": "red", "score": 31}


def test_evaluate_again_clears_the_episodes_that_stopped_holding(
    admin_user, red_and_falling, monkeypatch
):
    rule(RED)
    client = client_for(admin_user)
    today_is(monkeypatch, D)
    first = client.post(url(action="evaluate"))
    scored(red_and_falling["Red flat"], D + days(1), 75, "green")

    today_is(monkeypatch, D + days(1))
    second = client.post(url(action="evaluate"))

    assert first.json() == {
        "as_of": "2026-06-30",
        "rules": 1,
        "matched": 2,
        "cleared": 0,
        "problems": [],
    }
    assert second.json() == {
        "as_of": "2026-07-01",
        "rules": 1,
        "matched": 0,
        "cleared": 1,
        "problems": [],
    }
    cleared = RuleMatch.objects.get(account=red_and_falling["Red flat"])
    assert cleared.cleared_at is not None


def test_the_new_matches_actions_run_after_the_evaluation_commits(
    admin_user, red_and_falling, low_usage, django_capture_on_commit_callbacks, monkeypatch
):
    r = rule(RED, USAGE_DOWN, actions=["open_risk"], primary_cause=low_usage)
    account = red_and_falling["Red falling"]
    today_is(monkeypatch, D)

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(url(action="evaluate"))
        assert RuleMatch.objects.get().acted_at is None

    assert response.json()["matched"] == 1
    found = RuleMatch.objects.get(rule=r)
    record = RiskRecord.objects.get(account=account)
    assert (found.outcome, found.risk, found.acted_at is not None) == (
        Outcome.OPENED,
        record,
        True,
    )
    assert (record.status, record.primary_cause) == (RiskStatus.OPEN, low_usage)


def test_evaluate_judges_on_today_whatever_the_body_says(admin_user):
    rule(RENEWS)

    response = client_for(admin_user).post(url(action="evaluate"), {"as_of": "2020-01-01"})

    assert response.json() == {
        "as_of": timezone.localdate().isoformat(),
        "rules": 1,
        "matched": 0,
        "cleared": 0,
        "problems": [],
    }


def test_a_rule_whose_measure_was_renamed_cannot_be_previewed_and_is_skipped(admin_user):
    usage = factories.MeasureFactory(code="usage-gone")
    r = rule({"type": "measure_below", "measure": "usage-gone", "value": 5}, name="Gone")
    type(usage).objects.filter(pk=usage.pk).update(code="usage-renamed")
    message = (
        "The rule \u201cGone\u201d cannot run: it tests the measure 'usage-gone', which "
        "no longer exists. Edit its conditions."
    )

    preview = client_for(admin_user).get(url(r.pk, "preview"))
    evaluated = client_for(admin_user).post(url(action="evaluate"))

    assert preview.status_code == 409
    assert preview.json()["detail"] == message
    assert evaluated.json()["rules"] == 0
    assert evaluated.json()["problems"] == [message]


# --- rule matches ------------------------------------------------------------------------------


def test_a_match_is_represented_with_its_evidence_in_words(reviewer, account, low_usage):
    r = rule(RED, name="Red accounts")
    record = factories.RiskRecordFactory(account=account, primary_cause=low_usage)
    m = match(
        r,
        account,
        ago=3,
        cleared=True,
        as_of=D,
        evidence=[{"type": "band_is", "band": "red", "score": 31}],
        risk=record,
        outcome=Outcome.NOTED,
        acted_at=timezone.now(),
    )

    response = client_for(reviewer).get(matches_url(m.pk))

    assert response.status_code == 200
    body = response.json()
    assert list(body) == MATCH_FIELDS
    for name in ("matched_at", "acted_at", "cleared_at"):
        assert dt.datetime.fromisoformat(body.pop(name)) == getattr(m, name)
    assert body == {
        "id": m.pk,
        "rule": r.pk,
        "rule_name": "Red accounts",
        "account": account.pk,
        "account_name": account.name,
        "as_of": "2026-06-30",
        "evidence": [{"type": "band_is", "band": "red", "score": 31}],
        "explanation": ["Health is red (score 31)."],
        "risk": record.pk,
        "outcome": "noted",
        "outcome_note": "",
    }


def test_a_pending_match_has_a_blank_outcome_and_no_record(csm, account):
    m = match(rule(RED), account)

    body = client_for(csm).get(matches_url(m.pk)).json()

    assert (body["outcome"], body["risk"], body["acted_at"], body["cleared_at"]) == (
        "",
        None,
        None,
        None,
    )


@pytest.fixture
def match_world(csm, region, account):
    """Rule "A" matched ``account`` (open, pending) and "other" (cleared,
    opened); rule "B" matched ``account`` (open, notified)."""
    a, b = rule(RED, name="A"), rule(RENEWS, name="B")
    other = factories.AccountFactory(csm=csm, region=region)
    return {
        "a": a,
        "b": b,
        "account": account,
        "other": other,
        "a-open": match(a, account, ago=1),
        "a-cleared": match(a, other, ago=5, cleared=True, outcome=Outcome.OPENED),
        "b-open": match(b, account, ago=3, outcome=Outcome.NOTIFIED),
    }


def test_matches_are_listed_newest_first(csm, match_world):
    response = client_for(csm).get(matches_url())

    assert [row["id"] for row in response.json()["results"]] == [
        match_world[key].pk for key in ("a-open", "b-open", "a-cleared")
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"rule": "a"}, {"a-open", "a-cleared"}),
        ({"rule": "b"}, {"b-open"}),
        ({"account": "account"}, {"a-open", "b-open"}),
        ({"account": "other"}, {"a-cleared"}),
        ({"open": "true"}, {"a-open", "b-open"}),
        ({"open": "false"}, {"a-cleared"}),
        ({"outcome": "pending"}, {"a-open"}),
        ({"outcome": "opened"}, {"a-cleared"}),
        ({"outcome": "notified"}, {"b-open"}),
        ({"outcome": "skipped"}, set()),
        ({"rule": "a", "open": "true"}, {"a-open"}),
    ],
)
def test_each_filter_selects_the_matching_matches(csm, match_world, params, expected):
    query = {
        name: match_world[value].pk if value in match_world else value
        for name, value in params.items()
    }

    response = client_for(csm).get(matches_url(), query)

    assert response.status_code == 200
    found = {row["id"] for row in response.json()["results"]}
    assert found == {match_world[key].pk for key in expected}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"rule": "999999"}, "rule"),
        ({"rule": "first"}, "rule"),
        ({"account": "abc"}, "account"),
        ({"open": "perhaps"}, "open"),
        ({"outcome": "won"}, "outcome"),
    ],
)
def test_invalid_match_filter_values_are_400_on_the_parameter(csm, params, field):
    response = client_for(csm).get(matches_url(), params)

    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_unknown_match_is_404(csm):
    assert client_for(csm).get(matches_url(999999)).status_code == 404


# --- permission table ---------------------------------------------------------------------------

ROLES = ["anonymous", "csm", "manager", "reviewer", "admin"]
SIGNED_IN = set(ROLES) - {"anonymous"}
ADMINS = {"admin"}
NOBODY: set[str] = set()

# (cell, allowed roles, status when allowed, status for the other signed-in roles)
CELLS = [
    ("list", SIGNED_IN, 200, 403),
    ("retrieve", SIGNED_IN, 200, 403),
    ("preview", SIGNED_IN, 200, 403),
    ("create", ADMINS, 201, 403),
    ("update", ADMINS, 200, 403),
    ("partial_update", ADMINS, 200, 403),
    ("destroy", ADMINS, 204, 403),
    ("evaluate", ADMINS, 200, 403),
    ("match_list", SIGNED_IN, 200, 403),
    ("match_retrieve", SIGNED_IN, 200, 403),
    ("match_create", NOBODY, None, 405),
    ("match_update", NOBODY, None, 405),
    ("match_partial_update", NOBODY, None, 405),
    ("match_destroy", NOBODY, None, 405),
]


@pytest.fixture
def people(csm, manager, reviewer, admin_user):
    return {
        "anonymous": None,
        "csm": csm,
        "manager": manager,
        "reviewer": reviewer,
        "admin": admin_user,
    }


def _call(client: APIClient, cell: str, target: Rule, existing: RuleMatch) -> int:
    calls = {
        "list": lambda: client.get(url()),
        "retrieve": lambda: client.get(url(target.pk)),
        "preview": lambda: client.get(url(target.pk, "preview")),
        "create": lambda: client.post(url(), NEW_RULE),
        "update": lambda: client.put(url(target.pk), {**NEW_RULE, "name": "Renamed"}),
        "partial_update": lambda: client.patch(url(target.pk), {"name": "Renamed"}),
        "destroy": lambda: client.delete(url(target.pk)),
        "evaluate": lambda: client.post(url(action="evaluate"), {}),
        "match_list": lambda: client.get(matches_url()),
        "match_retrieve": lambda: client.get(matches_url(existing.pk)),
        "match_create": lambda: client.post(
            matches_url(), {"rule": target.pk, "account": existing.account_id}
        ),
        "match_update": lambda: client.put(matches_url(existing.pk), {"outcome": "skipped"}),
        "match_partial_update": lambda: client.patch(
            matches_url(existing.pk), {"outcome": "skipped"}
        ),
        "match_destroy": lambda: client.delete(matches_url(existing.pk)),
    }
    return calls[cell]().status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("cell", "allowed", "status", "refused"), CELLS, ids=[cell[0] for cell in CELLS]
)
def test_permission_table(people, csm, region, account, role, cell, allowed, status, refused):
    # The rule written to: inactive, never matched. A second, active rule has
    # matched ``account`` and would newly match ``waiting`` when evaluated.
    target = rule(RED, name="Unchanged", active=False, actions=["notify"])
    history = rule(RENEWS, name="History", actions=["notify"])
    existing = match(history, account)
    waiting = factories.AccountFactory(csm=csm, region=region)
    if role == "anonymous":
        expected = 401
    elif role in allowed:
        expected = status
    else:
        expected = refused

    assert _call(client_for(people[role]), cell, target, existing) == expected

    if expected >= 400:
        assert list(Rule.objects.order_by("pk").values_list("pk", "name", "version")) == [
            (target.pk, "Unchanged", 1),
            (history.pk, "History", 1),
        ]
        assert list(RuleMatch.objects.values_list("pk", "outcome", "cleared_at")) == [
            (existing.pk, "", None)
        ]
    elif cell == "evaluate":
        assert RuleMatch.objects.filter(account=waiting, rule=history).exists()


# --- query counts ---------------------------------------------------------------------------------


def test_rule_list_costs_the_same_queries_for_1_and_30_rules(
    csm, account, django_assert_num_queries
):
    for n in range(30):
        r = rule(RED, name=f"Rule {n:02d}", segment=account.segment, region=account.region)
        match(r, account, ago=n, cleared=n % 2 == 0)
    client = client_for(csm)
    # count, page (with the match counts, scope and cause)
    with django_assert_num_queries(2):
        small = client.get(url(), {"page_size": 1})
    with django_assert_num_queries(2):
        large = client.get(url(), {"page_size": 30})

    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 30
    assert sum(row["open_matches"] for row in large.json()["results"]) == 15


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 2),  # count, page
        ({"open": "false", "outcome": "pending"}, 2),
        ({"rule": "rule", "account": "account"}, 4),  # + the rule and the account of the filters
    ],
)
def test_match_list_costs_the_same_queries_for_1_and_60_rows(
    csm, region, account, django_assert_num_queries, params, expected
):
    r = rule(RED)
    others = [factories.AccountFactory(csm=csm, region=region) for _ in range(3)]
    RuleMatch.objects.bulk_create(
        RuleMatch(
            rule=r,
            account=account if n % 2 else others[n % 3],
            matched_at=timezone.now() - days(n),
            as_of=D,
            evidence=[{"type": "band_is", "band": "red", "score": n}],
            cleared_at=timezone.now(),
        )
        for n in range(60)
    )
    ids = {"rule": r.pk, "account": account.pk}
    params = {name: ids.get(value, value) for name, value in params.items()}
    client = client_for(csm)
    with django_assert_num_queries(expected):
        small = client.get(matches_url(), {**params, "page_size": 1})
    with django_assert_num_queries(expected):
        large = client.get(matches_url(), {**params, "page_size": 60})

    assert small.status_code == large.status_code == 200
    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) > 1
