"""Rules under concurrent use, on real PostgreSQL: two evaluations at once
(two workers) fire a rule once, and two workers taking the actions at once
open one record with one set of its playbook's tasks."""

from __future__ import annotations

import pytest

from risks.models import RiskRecord, StepOwner, Task, TimelineEvent, TimelineKind
from rules.evaluation import act_on_pending, evaluate_rules
from rules.models import Outcome, RuleMatch
from tests import factories
from tests.concurrency import run_at_once
from tests.rules.conftest import D, rule, scored

pytestmark = [
    pytest.mark.race,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]

THREADS = 4


@pytest.fixture
def red_accounts():
    csm = factories.CsmFactory(username="race-csm")
    accounts = [factories.AccountFactory(csm=csm, name=f"Race {n}") for n in range(5)]
    for account in accounts:
        scored(account, D, 20, "red")
    cause = factories.RootCauseFactory(code="race-cause")
    playbook = factories.PlaybookFactory(root_cause=cause)
    factories.PlaybookStepFactory(playbook=playbook, owner=StepOwner.CSM)
    factories.PlaybookStepFactory(playbook=playbook, owner=StepOwner.MANAGER)
    return accounts, cause


def test_evaluations_at_once_fire_once_and_open_one_record_per_account(red_accounts):
    accounts, cause = red_accounts
    r = rule({"type": "band_is", "band": "red"}, primary_cause=cause)

    results, errors = run_at_once([lambda: evaluate_rules(as_of=D)] * THREADS)
    assert errors == []
    assert sum(result.matched for result in results) == len(accounts)
    assert RuleMatch.objects.filter(rule=r).count() == len(accounts)

    results, errors = run_at_once([act_on_pending] * THREADS)
    assert errors == []
    assert sum(results) == len(accounts)
    assert RiskRecord.objects.count() == len(accounts)
    assert set(RuleMatch.objects.values_list("outcome", flat=True)) == {Outcome.OPENED}
    for account in accounts:
        risk = RiskRecord.objects.get(account=account)
        assert Task.objects.filter(risk=risk).count() == 2
        assert TimelineEvent.objects.filter(risk=risk, kind=TimelineKind.OPENED).count() == 1
