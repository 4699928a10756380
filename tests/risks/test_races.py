"""Two users acting on the same record at the same moment, on real PostgreSQL:
exactly one wins, the others get a Conflict, and nothing is half-written."""

from __future__ import annotations

import pytest

from core.exceptions import Conflict
from risks import services
from risks.models import Escalation, EscalationStatus, RiskRecord, RootCause, TimelineKind
from tests import factories
from tests.concurrency import run_at_once

pytestmark = [
    pytest.mark.race,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]

THREADS = 6


@pytest.fixture
def team():
    region = factories.RegionFactory(code="EMEA")
    manager = factories.ManagerFactory(username="race-manager", region=region)
    csm = factories.CsmFactory(username="race-csm", manager=manager, region=region)
    admin = factories.AdminFactory(username="race-admin")
    account = factories.AccountFactory(csm=csm, region=region)
    return manager, csm, admin, account


def test_opening_several_records_on_one_account_at_once_opens_exactly_one(team):
    manager, csm, admin, account = team
    cause = RootCause.objects.get(code="low-usage")
    users = [csm, manager, admin] * 2

    results, errors = run_at_once(
        [
            lambda user=user: services.risk_open(
                user=user, account=account, primary_cause=cause, summary="s", next_steps="n"
            )
            for user in users
        ]
    )

    assert len(results) == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(error, Conflict) for error in errors), errors
    assert RiskRecord.objects.filter(account=account).count() == 1
    winner = RiskRecord.objects.get()
    assert list(winner.events.values_list("kind", flat=True)) == [TimelineKind.OPENED]


def test_two_managers_approving_the_same_escalation_at_once_approve_it_once(team):
    manager, csm, admin, account = team
    risk = services.risk_open(
        user=csm,
        account=account,
        primary_cause=RootCause.objects.get(code="defects"),
        summary="s",
        next_steps="n",
    )
    escalation = services.escalation_request(user=csm, risk=risk, reason="Help.")
    deciders = [manager, admin] * (THREADS // 2)

    results, errors = run_at_once(
        [
            lambda user=user: services.escalation_approve(user=user, escalation=escalation.pk)
            for user in deciders
        ]
    )

    assert len(results) == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(error, Conflict) for error in errors), errors
    risk.refresh_from_db()
    assert (risk.tier, risk.version) == (2, 2)
    assert risk.events.filter(kind=TimelineKind.ESCALATION_APPROVED).count() == 1
    assert Escalation.objects.get().status == EscalationStatus.APPROVED


def test_approve_and_reject_racing_leave_one_decision(team):
    manager, csm, admin, account = team
    risk = services.risk_open(
        user=csm,
        account=account,
        primary_cause=RootCause.objects.get(code="defects"),
        summary="s",
        next_steps="n",
    )
    escalation = services.escalation_request(user=csm, risk=risk, reason="Help.")

    results, errors = run_at_once(
        [
            lambda: services.escalation_approve(user=manager, escalation=escalation.pk),
            lambda: services.escalation_reject(user=admin, escalation=escalation.pk, note="No."),
        ]
    )

    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], Conflict)
    decided = Escalation.objects.get()
    risk.refresh_from_db()
    decisions = risk.events.filter(
        kind__in=[TimelineKind.ESCALATION_APPROVED, TimelineKind.ESCALATION_REJECTED]
    )
    assert decisions.count() == 1
    assert risk.tier == (2 if decided.status == EscalationStatus.APPROVED else 1)


def test_closing_the_same_record_at_once_closes_it_once(team):
    manager, csm, admin, account = team
    risk = services.risk_open(
        user=csm,
        account=account,
        primary_cause=RootCause.objects.get(code="usability"),
        summary="s",
        next_steps="n",
    )
    outcomes = ["saved", "churned", "withdrawn"] * 2
    closers = [csm, manager, admin] * 2

    results, errors = run_at_once(
        [
            lambda user=user, outcome=outcome: services.risk_close(
                user=user, risk=risk.pk, outcome=outcome, note=f"{outcome} by {user}"
            )
            for user, outcome in zip(closers, outcomes, strict=True)
        ]
    )

    assert len(results) == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(error, Conflict) for error in errors), errors
    risk.refresh_from_db()
    winner = results[0]
    assert risk.status == winner.status
    assert risk.outcome_note == winner.outcome_note
    assert risk.events.filter(kind=TimelineKind.CLOSED).count() == 1


def test_stale_edits_racing_keep_exactly_one(team):
    manager, csm, admin, account = team
    risk = services.risk_open(
        user=csm,
        account=account,
        primary_cause=RootCause.objects.get(code="usability"),
        summary="s",
        next_steps="n",
    )
    editors = [csm, manager, admin] * 2

    results, errors = run_at_once(
        [
            lambda user=user, n=n: services.risk_edit(
                user=user, risk=risk.pk, version=1, next_steps=f"plan {n}"
            )
            for n, user in enumerate(editors)
        ]
    )

    assert len(results) == 1
    assert all(isinstance(error, Conflict) for error in errors), errors
    risk.refresh_from_db()
    assert risk.version == 2
    assert risk.next_steps == results[0].next_steps
    assert risk.events.filter(kind=TimelineKind.EDITED).count() == 1
