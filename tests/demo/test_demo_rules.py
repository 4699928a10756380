"""The demo's risk rules: the ones a CS lead starts with, switched on after a
preview, evaluated once, their matches and the records they opened there to
look at."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from demo import data as demo_data
from risks.models import RiskRecord, RiskStatus, Task, TimelineEvent, TimelineKind
from rules.evaluation import SYSTEM_USERNAME, evaluate_rules, rule_preview
from rules.evidence import sentences
from rules.models import Outcome, Rule, RuleMatch

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(second=0, microsecond=0)
TODAY = timezone.localdate(NOW)
NAMES = {
    "Red health in Enterprise": "enterprise",
    "Red health in Strategic": "strategic",
    "SMB usage down 30%": "smb",
    "Sponsor left": None,
}


@pytest.fixture(scope="module", autouse=True)
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        report = demo_data.seed_demo(now=NOW)
        yield report
        transaction.set_rollback(True)


def test_the_starting_rules_are_active_with_their_scope(seeded):
    rules = {rule.name: rule for rule in Rule.objects.select_related("segment")}
    assert set(rules) == set(NAMES)
    for name, segment in NAMES.items():
        assert rules[name].active
        assert (rules[name].segment.code if rules[name].segment else None) == segment
        assert rules[name].primary_cause is not None
    assert "Risk rules: 4 created and switched on" in "\n".join(seeded.lines())


def test_every_rule_matched_and_its_matches_agree_with_its_preview(seeded):
    for rule in Rule.objects.all():
        holding = RuleMatch.objects.filter(rule=rule, cleared_at__isnull=True)
        assert holding.exists(), rule.name
        assert rule_preview(rule, as_of=TODAY).count == holding.count(), rule.name
        for match in holding:
            assert match.acted_at is not None
            assert len(sentences(match.evidence)) == len(rule.conditions)


def test_rules_opened_records_with_evidence_and_playbook_and_noted_the_open_ones(seeded):
    opened = RuleMatch.objects.filter(outcome=Outcome.OPENED).select_related("risk", "rule")
    noted = RuleMatch.objects.filter(outcome=Outcome.NOTED)
    assert opened.exists() and noted.exists()
    for match in opened:
        risk = match.risk
        assert (risk.status, risk.tier, risk.opened_by.username) == (
            RiskStatus.OPEN,
            1,
            SYSTEM_USERNAME,
        )
        assert risk.primary_cause_id == match.rule.primary_cause_id
        assert all(line in risk.summary for line in sentences(match.evidence))
        assert Task.objects.filter(risk=risk).exists()
    for match in noted:
        assert TimelineEvent.objects.filter(
            risk=match.risk, kind=TimelineKind.NOTE, data__match=match.pk
        ).exists()


def test_no_churned_account_matched_and_evaluating_again_finds_nothing_new(seeded):
    assert not RuleMatch.objects.filter(account__status="churned").exists()
    before = RiskRecord.objects.count()
    assert evaluate_rules(as_of=TODAY).matched == 0
    assert RiskRecord.objects.count() == before


def test_a_second_seed_writes_no_rule_and_no_match(seeded):
    matches = RuleMatch.objects.count()
    report = demo_data.seed_demo(now=NOW)
    assert report.created["rules"] == 0
    assert report.present["rules"] == 4
    assert RuleMatch.objects.count() == matches
