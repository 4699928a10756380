"""Evaluating rules: episodes (fire once, clear, fire again), the actions a
match takes through the risk workflow (a tier-1 record by the system user
with its evidence and playbook, or a note on the open record, and email),
churned accounts, scope, and the fixed number of statements per rule."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountStatus
from core.exceptions import Conflict, InvalidInput, NotAllowed
from health.tasks import score_some_accounts
from notifications.models import OutboundMessage
from risks.models import RiskRecord, RiskStatus, StepOwner, Task, TimelineEvent, TimelineKind
from rules.evaluation import (
    SYSTEM_USERNAME,
    act_on_match,
    act_on_pending,
    evaluate_rules,
    rule_preview,
    system_user,
)
from rules.models import Outcome, RuleMatch
from rules.services import evaluate_now, rule_update
from tests import factories
from tests.rules.conftest import D, event, number, observe, rule, scored

pytestmark = pytest.mark.django_db

RED = {"type": "band_is", "band": "red"}


@pytest.fixture
def team():
    region = factories.RegionFactory(code="EMEA")
    manager = factories.ManagerFactory(username="mgr", email="mgr@example.com", region=region)
    csm = factories.CsmFactory(
        username="csm", email="csm@example.com", manager=manager, region=region
    )
    return manager, csm


def red_account(csm, name="Acme", score=31, **fields):
    account = factories.AccountFactory(name=name, csm=csm, **fields)
    scored(account, D, score, "red")
    return account


def test_a_match_fires_once_per_episode_clears_and_fires_again(team):
    _, csm = team
    account = red_account(csm)
    r = rule(RED)
    assert evaluate_rules(as_of=D).matched == 1
    # Still red: the same episode, no second match.
    result = evaluate_rules(as_of=D)
    assert (result.matched, result.cleared) == (0, 0)
    assert RuleMatch.objects.filter(rule=r).count() == 1
    # Green: the episode clears.
    scored(account, D + dt.timedelta(days=1), 75, "green")
    result = evaluate_rules(as_of=D + dt.timedelta(days=1))
    assert (result.matched, result.cleared) == (0, 1)
    first = RuleMatch.objects.get(rule=r)
    assert first.cleared_at is not None
    # Red again: a new episode, a new match.
    scored(account, D + dt.timedelta(days=2), 20, "red")
    assert evaluate_rules(as_of=D + dt.timedelta(days=2)).matched == 1
    assert RuleMatch.objects.filter(rule=r).count() == 2
    assert RuleMatch.objects.filter(rule=r, cleared_at__isnull=True).get().evidence == [
        {"type": "band_is", "band": "red", "score": 20}
    ]


def test_the_database_allows_one_uncleared_match_per_rule_and_account(team):
    _, csm = team
    account = red_account(csm)
    r = rule(RED)
    now = timezone.now()
    RuleMatch.objects.create(rule=r, account=account, matched_at=now, as_of=D)
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        RuleMatch.objects.create(rule=r, account=account, matched_at=now, as_of=D)
    RuleMatch.objects.update(cleared_at=now)
    RuleMatch.objects.create(rule=r, account=account, matched_at=now, as_of=D)


def test_inactive_rules_are_not_evaluated_and_keep_their_matches(team):
    _, csm = team
    red_account(csm)
    r = rule(RED, active=False)
    assert evaluate_rules(as_of=D).rules == 0
    assert not RuleMatch.objects.exists()
    r.active = True
    r.save()
    evaluate_rules(as_of=D)
    r.active = False
    r.save()
    evaluate_rules(as_of=D + dt.timedelta(days=30))
    assert RuleMatch.objects.get().cleared_at is None


def test_a_churned_account_is_never_matched_and_its_episode_clears(team):
    _, csm = team
    churned = red_account(csm, "Gone", status=AccountStatus.CHURNED, churned_on=D)
    account = red_account(csm)
    r = rule(RED)
    evaluate_rules(as_of=D)
    assert list(RuleMatch.objects.values_list("account", flat=True)) == [account.pk]
    assert not RuleMatch.objects.filter(account=churned).exists()
    type(account).objects.filter(pk=account.pk).update(status=AccountStatus.CHURNED, churned_on=D)
    assert evaluate_rules(as_of=D).cleared == 1
    assert RuleMatch.objects.get(rule=r).cleared_at is not None


def test_a_match_opens_a_tier_1_record_by_the_system_user_with_evidence_and_playbook(team):
    _, csm = team
    account = red_account(csm, score=31)
    cause = factories.RootCauseFactory(code="low-usage-rule", name="Low usage")
    playbook = factories.PlaybookFactory(root_cause=cause, segment=None, name="Low usage play")
    factories.PlaybookStepFactory(playbook=playbook, position=1, title="Call", owner=StepOwner.CSM)
    factories.PlaybookStepFactory(
        playbook=playbook, position=2, title="Exec sponsor", owner=StepOwner.MANAGER
    )
    r = rule(RED, name="Red band", primary_cause=cause)
    evaluate_rules(as_of=D)
    assert act_on_pending() == 1

    match = RuleMatch.objects.get(rule=r)
    risk = RiskRecord.objects.get(account=account)
    assert (match.risk_id, match.outcome, match.acted_at is not None) == (
        risk.pk,
        Outcome.OPENED,
        True,
    )
    assert (risk.tier, risk.status, risk.primary_cause, risk.opened_by) == (
        1,
        RiskStatus.OPEN,
        cause,
        system_user(),
    )
    assert risk.opened_by.username == SYSTEM_USERNAME
    assert str(risk.opened_by) and not risk.opened_by.is_active
    assert risk.summary == (
        "The rule \u201cRed band\u201d matched Acme on 30 Jun 2026:\n- Health is red (score 31)."
    )
    assert "playbook" in risk.next_steps
    assert sorted(Task.objects.filter(risk=risk).values_list("title", flat=True)) == [
        "Call",
        "Exec sponsor",
    ]
    opened = TimelineEvent.objects.get(risk=risk, kind=TimelineKind.OPENED)
    assert opened.data["rule"] == r.pk
    assert opened.data["match"] == match.pk
    assert opened.data["rule_name"] == "Red band"


def test_an_account_with_an_open_record_gets_the_evidence_as_a_note(team):
    _, csm = team
    account = red_account(csm)
    existing = factories.RiskRecordFactory(account=account)
    r = rule(RED, name="Red band")
    evaluate_rules(as_of=D)
    act_on_pending()
    match = RuleMatch.objects.get(rule=r)
    assert (match.risk_id, match.outcome) == (existing.pk, Outcome.NOTED)
    assert RiskRecord.objects.filter(account=account).count() == 1
    note = TimelineEvent.objects.get(risk=existing, kind=TimelineKind.NOTE)
    assert note.actor == system_user()
    assert "Health is red (score 31)." in note.text
    assert note.data == {"rule": r.pk, "rule_name": "Red band", "match": match.pk}


def test_notify_emails_the_csm_and_their_manager_once(team):
    _manager, csm = team
    account = red_account(csm)
    rule(RED, name="Red band", actions=["notify"])
    evaluate_rules(as_of=D)
    act_on_pending()
    match = RuleMatch.objects.get()
    assert match.outcome == Outcome.NOTIFIED
    assert not RiskRecord.objects.filter(account=account).exists()
    mail = OutboundMessage.objects.get(kind="rule_matched")
    assert mail.to == ["csm@example.com", "mgr@example.com"]
    assert mail.subject == "Acme: the rule \u201cRed band\u201d matched"
    assert "- Health is red (score 31)." in mail.body
    # Acting again does nothing: the match is acted on.
    assert act_on_match(match) is None
    assert act_on_pending() == 0
    assert OutboundMessage.objects.filter(kind="rule_matched").count() == 1


def test_open_and_notify_links_the_new_record_in_the_email(team):
    _, csm = team
    red_account(csm)
    rule(RED, actions=["open_risk", "notify"])
    evaluate_rules(as_of=D)
    act_on_pending()
    risk = RiskRecord.objects.get()
    mail = OutboundMessage.objects.get(kind="rule_matched")
    assert f"/risks/{risk.pk}/" in mail.body
    assert "It opened a tier-1 risk record" in mail.body


def test_a_match_whose_record_cannot_be_opened_is_skipped_with_the_reason(team):
    _, csm = team
    red_account(csm)
    cause = factories.RootCauseFactory(code="retired", name="Retired cause")
    rule(RED, primary_cause=cause)
    cause.active = False
    cause.save()
    evaluate_rules(as_of=D)
    act_on_pending()
    match = RuleMatch.objects.get()
    assert match.outcome == Outcome.SKIPPED
    assert match.outcome_note
    assert not RiskRecord.objects.exists()


def test_a_match_cleared_before_its_actions_is_skipped(team):
    _, csm = team
    account = red_account(csm)
    rule(RED)
    evaluate_rules(as_of=D)
    scored(account, D + dt.timedelta(days=1), 80, "green")
    evaluate_rules(as_of=D + dt.timedelta(days=1))
    act_on_pending()
    match = RuleMatch.objects.get()
    assert (match.outcome, match.outcome_note) == (
        Outcome.SKIPPED,
        "Cleared before it was acted on.",
    )
    assert not RiskRecord.objects.exists()


def test_two_rules_on_one_account_open_one_record_and_note_it_once(team):
    _, csm = team
    account = red_account(csm, renewal_date=D + dt.timedelta(days=20))
    rule(RED, name="Red")
    rule({"type": "renewal_within", "days": 30}, name="Renewing")
    evaluate_rules(as_of=D)
    act_on_pending()
    risk = RiskRecord.objects.get(account=account)
    outcomes = dict(RuleMatch.objects.values_list("rule__name", "outcome"))
    assert outcomes == {"Red": Outcome.OPENED, "Renewing": Outcome.NOTED}
    assert TimelineEvent.objects.filter(risk=risk, kind=TimelineKind.NOTE).count() == 1


def test_statements_per_rule_do_not_grow_with_accounts(team):
    _, csm = team
    sponsor = event("sponsor-left")
    rule(RED, {"type": "renewal_within", "days": 400})
    rule({"type": "event_within", "measure": "sponsor-left", "days": 30})

    def statements() -> int:
        RuleMatch.objects.all().delete()
        with CaptureQueriesContext(connection) as queries:
            evaluate_rules(as_of=D)
        return len(queries)

    red_account(csm, "one")
    few = statements()
    for n in range(12):
        account = red_account(csm, f"more {n}")
        observe(account, sponsor, 1, D)
    assert statements() == few
    assert RuleMatch.objects.count() == 13 + 12


def test_a_scoring_run_of_today_evaluates_the_rules_for_its_accounts(
    team, django_capture_on_commit_callbacks
):
    _, csm = team
    account = factories.AccountFactory(csm=csm)
    factories.AccountFactory(csm=csm, name="not rescored")
    rule({"type": "band_is", "band": "unknown"}, actions=["notify"])
    with django_capture_on_commit_callbacks(execute=True):
        score_some_accounts([account.pk])
    match = RuleMatch.objects.get()
    assert match.account == account
    assert match.as_of == timezone.localdate()
    assert match.outcome == Outcome.NOTIFIED


def test_a_scoring_run_of_a_past_day_does_not(team):
    _, csm = team
    account = factories.AccountFactory(csm=csm)
    rule({"type": "band_is", "band": "unknown"})
    score_some_accounts([account.pk], as_of="2020-01-01")
    assert not RuleMatch.objects.exists()


def test_a_rule_whose_measure_is_gone_is_skipped_and_the_others_run(team):
    _, csm = team
    account = red_account(csm)
    logins = number("logins-gone")
    observe(account, logins, 1, D)
    broken = rule({"type": "measure_below", "measure": "logins-gone", "value": 5}, name="Old")
    rule(RED, name="Red")
    evaluate_rules(as_of=D)
    assert RuleMatch.objects.filter(rule=broken).count() == 1
    # The measure is renamed: the stored condition no longer names a measure.
    type(logins).objects.filter(pk=logins.pk).update(code="logins-renamed")
    scored(account, D + dt.timedelta(days=1), 90, "green")
    result = evaluate_rules(as_of=D + dt.timedelta(days=1))
    assert result.rules == 1
    assert result.cleared == 1  # the red rule's episode
    assert result.problems == [
        "The rule \u201cOld\u201d cannot run: it tests the measure 'logins-gone', which no "
        "longer exists. Edit its conditions."
    ]
    # Nothing is known about the broken rule's episode: it stays open.
    assert RuleMatch.objects.get(rule=broken).cleared_at is None
    with pytest.raises(Conflict):
        rule_preview(broken, as_of=D)


def test_a_rule_whose_measure_changed_kind_cannot_run(team):
    sponsor = event("sponsor-x")
    r = rule({"type": "event_within", "measure": "sponsor-x", "days": 30}, name="Sponsor")
    type(sponsor).objects.filter(pk=sponsor.pk).update(kind="number", better="higher")
    with pytest.raises(Conflict, match="tests Sponsor x as an event, which it no longer is"):
        rule_preview(r, as_of=D)


def test_evaluating_now_is_for_admins_and_always_as_of_today(team):
    _, csm = team
    factories.AccountFactory(csm=csm)
    rule({"type": "band_is", "band": "unknown"}, actions=["notify"])
    with pytest.raises(NotAllowed):
        evaluate_now(user=factories.CsmFactory())
    result = evaluate_now(user=factories.AdminFactory())
    assert (result.as_of, result.matched) == (timezone.localdate(), 1)
    assert RuleMatch.objects.get().as_of == timezone.localdate()


def test_switching_a_rule_off_ends_its_episodes_and_skips_its_pending_actions(team):
    _, csm = team
    red_account(csm, "first")
    red_account(csm, "second")
    admin = factories.AdminFactory()
    r = rule(RED, actions=["open_risk", "notify"])
    evaluate_rules(as_of=D)
    act_on_match(RuleMatch.objects.order_by("pk").first())
    rule_update(user=admin, rule=r, values={"active": False})
    assert not RuleMatch.objects.filter(rule=r, cleared_at__isnull=True).exists()
    act_on_pending()
    pending = RuleMatch.objects.order_by("pk").last()
    assert (pending.outcome, pending.outcome_note) == (
        Outcome.SKIPPED,
        "The rule was switched off before its actions were taken.",
    )
    assert RiskRecord.objects.count() == 1
    # Switched on again, it starts afresh with the accounts it matches.
    rule_update(user=admin, rule=r, values={"active": True})
    assert evaluate_rules(as_of=D).matched == 2


def test_rule_names_are_unique_whatever_the_case_in_the_database():
    from django.db import IntegrityError, transaction

    rule(RED, name="Red band")
    with pytest.raises(IntegrityError), transaction.atomic():
        rule(RED, name="RED BAND")


def test_an_evaluation_for_listed_accounts_leaves_the_others_alone(team):
    _, csm = team
    listed, other, other_open = (red_account(csm, name) for name in ("listed", "other", "open"))
    r = rule(RED)
    evaluate_rules(as_of=D, account_ids=[other_open.pk])
    assert list(RuleMatch.objects.values_list("account", flat=True)) == [other_open.pk]
    # other_open turns green; only listed is rescored: other_open's episode stays.
    scored(other_open, D + dt.timedelta(days=1), 90, "green")
    result = evaluate_rules(as_of=D + dt.timedelta(days=1), account_ids=[listed.pk])
    assert (result.matched, result.cleared) == (1, 0)
    assert set(
        RuleMatch.objects.filter(rule=r, cleared_at__isnull=True).values_list("account", flat=True)
    ) == {listed.pk, other_open.pk}
    assert not RuleMatch.objects.filter(account=other).exists()
    # Rescoring other_open clears it.
    assert evaluate_rules(as_of=D + dt.timedelta(days=1), account_ids=[other_open.pk]).cleared == 1
    assert evaluate_rules(as_of=D, account_ids=[]).matched == 0


def test_a_rule_whose_measure_is_gone_can_be_switched_off_but_not_on(team):
    admin = factories.AdminFactory()
    gone = number("gone-measure")
    r = rule({"type": "measure_below", "measure": "gone-measure", "value": 5})
    gone.delete()
    switched_off = rule_update(user=admin, rule=r, values={"active": False}, version=r.version)
    assert (switched_off.active, switched_off.version) == (False, r.version + 1)
    with pytest.raises(InvalidInput) as refused:
        rule_update(user=admin, rule=r, values={"active": True})
    assert "conditions[0].measure" in refused.value.errors
