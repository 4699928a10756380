"""Rules under concurrent use, on real PostgreSQL: two evaluations at once
(two workers) fire a rule once, and two workers taking the actions at once
open one record with one set of its playbook's tasks."""

from __future__ import annotations

import pytest

from risks.models import RiskRecord, RiskStatus, StepOwner, Task, TimelineEvent, TimelineKind
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


def test_acting_on_a_match_while_the_record_closes_as_churned_never_deadlocks(
    red_accounts, monkeypatch
):
    """Closing as churned locks the record, then the account. The actions
    must not hold the account while they wait for the record: here the close
    takes the record's lock first and pauses until the actions are under way,
    then reaches for the account."""
    import threading
    import time

    from django.db import connection

    from risks import services as risk_services
    from risks.services import workflow
    from rules.evaluation import act_on_match

    accounts, cause = red_accounts
    account = accounts[0]
    risk = factories.RiskRecordFactory(account=account, primary_cause=cause)
    rule({"type": "band_is", "band": "red"}, primary_cause=cause)
    evaluate_rules(as_of=D)
    match = RuleMatch.objects.get(account=account)
    manager = factories.ManagerFactory(username="race-manager")
    account.csm.manager = manager
    account.csm.save()

    record_locked, acting = threading.Event(), threading.Event()
    lock_risk = workflow._lock_risk

    def lock_then_wait(risk_id):
        locked = lock_risk(risk_id)
        record_locked.set()
        acting.wait(timeout=5)
        time.sleep(0.5)  # the actions reach their first lock meanwhile
        return locked

    monkeypatch.setattr(workflow, "_lock_risk", lock_then_wait)

    def close():
        risk_services.risk_close(
            user=manager, risk=risk.pk, outcome=RiskStatus.CHURNED, note="Gone."
        )

    def act():
        record_locked.wait(timeout=5)
        acting.set()
        return act_on_match(match.pk)

    errors: list[Exception] = []

    def run(action):
        try:
            action()
        except Exception as error:  # asserted on below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in (close, act)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    match.refresh_from_db()
    # The close went first; the actions then found the account churned.
    assert RiskRecord.objects.get(pk=risk.pk).status == RiskStatus.CHURNED
    assert (match.outcome, match.risk_id) == (Outcome.SKIPPED, None)
    assert RiskRecord.objects.filter(account=account, status=RiskStatus.OPEN).count() == 0


def test_evaluations_of_one_rule_take_turns(red_accounts):
    """An evaluation waits while another holds the rule, then finds its
    matches: the rule's lock, not only the one-open-match index."""
    import threading
    import time

    from django.db import connection, transaction

    from rules.models import Rule

    accounts, cause = red_accounts
    r = rule({"type": "band_is", "band": "red"}, primary_cause=cause)
    holding, release = threading.Event(), threading.Event()
    finished: list[float] = []

    def hold():
        try:
            with transaction.atomic():
                Rule.objects.select_for_update(no_key=True).get(pk=r.pk)
                holding.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    def evaluate():
        try:
            holding.wait(timeout=10)
            result = evaluate_rules(as_of=D)
            finished.append(time.monotonic())
            assert result.matched == len(accounts)
        finally:
            connection.close()

    threads = [threading.Thread(target=hold), threading.Thread(target=evaluate)]
    for thread in threads:
        thread.start()
    holding.wait(timeout=10)
    time.sleep(0.5)
    assert finished == []  # still waiting for the rule
    released_at = time.monotonic()
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert finished and finished[0] >= released_at
    assert RuleMatch.objects.filter(rule=r).count() == len(accounts)
