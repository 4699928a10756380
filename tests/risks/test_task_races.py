"""Tasks under concurrent use, on real PostgreSQL: people marking the same task
at the same instant write one timeline event, and filings racing on one
account give one record with one set of its playbook's tasks."""

from __future__ import annotations

import pytest

from core.exceptions import Conflict
from risks import services
from risks.models import RiskRecord, RootCause, StepOwner, Task, TimelineEvent, TimelineKind
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


def test_two_people_marking_the_same_task_done_at_once_write_one_event(team):
    manager, csm, _admin, account = team
    risk = factories.RiskRecordFactory(account=account)
    task = factories.TaskFactory(risk=risk, owner=csm)

    results, errors = run_at_once(
        [
            lambda: services.task_set_done(user=csm, task=task.pk, done=True),
            lambda: services.task_set_done(user=manager, task=task.pk, done=True),
        ]
    )

    # The second waits for the first's lock, then finds the task done: no error.
    assert errors == []
    assert len(results) == 2
    task.refresh_from_db()
    assert task.done_by in (csm, manager)
    [event] = TimelineEvent.objects.filter(risk=risk, kind=TimelineKind.TASK_DONE)
    assert event.actor == task.done_by
    assert event.at == task.done_at


def test_many_people_toggling_one_task_leave_events_that_match_its_state(team):
    manager, csm, admin, account = team
    risk = factories.RiskRecordFactory(account=account)
    task = factories.TaskFactory(risk=risk, owner=csm)
    people = [csm, manager, admin] * 2

    _, errors = run_at_once(
        [
            lambda user=user, n=n: services.task_set_done(user=user, task=task.pk, done=n % 2 == 0)
            for n, user in enumerate(people)
        ]
    )

    assert errors == []
    task.refresh_from_db()
    changes = list(
        TimelineEvent.objects.filter(
            risk=risk, kind__in=[TimelineKind.TASK_DONE, TimelineKind.TASK_REOPENED]
        )
        .order_by("at", "id")
        .values_list("kind", flat=True)
    )
    # Every change is a real change: done and reopened alternate, starting
    # with done, and the last one is the task's state now.
    assert changes, "at least one 'done' got through"
    assert changes == [
        TimelineKind.TASK_DONE if n % 2 == 0 else TimelineKind.TASK_REOPENED
        for n in range(len(changes))
    ]
    assert (changes[-1] == TimelineKind.TASK_DONE) is (task.done_at is not None)


def test_filings_racing_on_one_account_give_one_record_with_one_set_of_tasks(team):
    manager, csm, admin, account = team
    cause = RootCause.objects.get(code="low-usage")
    playbook = factories.PlaybookFactory(root_cause=cause, name="Adoption rescue")
    for position, owner in enumerate([StepOwner.CSM, StepOwner.MANAGER, "support"], start=1):
        factories.PlaybookStepFactory(
            playbook=playbook, position=position, owner=owner, due_days=position
        )
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
    record = RiskRecord.objects.get()
    assert Task.objects.count() == 3
    assert list(
        Task.objects.filter(risk=record).order_by("id").values_list("owner", "department")
    ) == [(csm.pk, ""), (manager.pk, ""), (None, "support")]
    assert list(record.events.order_by("id").values_list("kind", flat=True)) == [
        TimelineKind.OPENED,
        TimelineKind.PLAYBOOK_STARTED,
    ]
