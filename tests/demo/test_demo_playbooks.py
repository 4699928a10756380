"""The demo's playbooks and the tasks they gave its risk records: written as
risk_open would have written them at each (backdated) opening, in a state that
tells a believable story."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Segment, User
from demo.content import CAUSES
from risks import rules, services
from risks.models import (
    Playbook,
    RiskRecord,
    RiskStatus,
    RootCause,
    StepOwner,
    Task,
    TaskSource,
    TimelineEvent,
    TimelineKind,
)
from tests import factories

pytestmark = pytest.mark.django_db


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded() -> str:
    return seed_demo()


def weekdays_after(start: dt.date, end: dt.date) -> int:
    """Monday-to-Friday days in (start, end], counted one by one."""
    return sum(
        (start + dt.timedelta(days=n)).weekday() < 5 for n in range(1, (end - start).days + 1)
    )


def records() -> list[RiskRecord]:
    return list(
        RiskRecord.objects.select_related(
            "account__csm__manager", "account__region", "account__segment", "primary_cause"
        ).prefetch_related("tasks__step", "events")
    )


def test_every_default_cause_has_an_active_playbook_and_two_segments_have_their_own(seeded):
    defaults = Playbook.objects.filter(active=True, segment__isnull=True)
    assert sorted(defaults.values_list("root_cause__code", flat=True)) == sorted(CAUSES)
    assert all(playbook.steps.count() >= 3 for playbook in Playbook.objects.all())
    own = {
        (playbook.root_cause.code, playbook.segment.code): playbook
        for playbook in Playbook.objects.filter(segment__isnull=False)
    }
    assert set(own) == {("lost-champion", "strategic"), ("low-usage", "smb")}
    strategic = own["lost-champion", "strategic"]
    assert list(strategic.steps.values_list("owner", "due_days")) == [
        (StepOwner.CSM, 3),
        (StepOwner.MANAGER, 7),
        (StepOwner.SALES, 10),
        (StepOwner.CSM, 20),
    ]
    general = Playbook.objects.get(root_cause__code="lost-champion", segment__isnull=True)
    assert list(general.steps.values_list("owner", "due_days")) == [
        (StepOwner.CSM, 5),
        (StepOwner.MANAGER, 10),
        (StepOwner.CSM, 20),
    ]
    capability = Playbook.objects.get(root_cause__code="missing-capability")
    assert {StepOwner.PRODUCT, StepOwner.PROFESSIONAL_SERVICES} <= set(
        capability.steps.values_list("owner", flat=True)
    )


def test_every_record_has_its_plays_tasks_as_risk_open_would_have_given_them(seeded):
    for record in records():
        account = record.account
        expected = services.playbook_for(
            root_cause=record.primary_cause, segment=account.segment_id
        )
        assert expected is not None
        tasks = sorted(record.tasks.all(), key=lambda task: task.step.position)
        steps = list(expected.steps.all())
        assert [task.step for task in tasks] == steps
        opened_on = account.local_date(record.opened_at)
        for task, step in zip(tasks, steps, strict=True):
            assert (task.title, task.description) == (step.title, step.description)
            assert task.source == TaskSource.PLAYBOOK
            assert (task.created_by, task.created_at) == (record.opened_by, record.opened_at)
            # Counted day by day: the due date is the step's number of weekdays
            # after the opening day (an opening at a weekend counts from Monday).
            assert task.due_date.weekday() < 5
            extra = 1 if opened_on.weekday() >= 5 else 0
            assert weekdays_after(opened_on, task.due_date) == step.due_days + extra
            if step.owner == StepOwner.CSM:
                assert (task.owner, task.department) == (account.csm, "")
            elif step.owner == StepOwner.MANAGER:
                assert (task.owner, task.department) == (account.csm.manager, "")
            else:
                assert (task.owner, task.department) == (None, step.owner)
        events = list(record.events.all())
        assert events[0].kind == TimelineKind.OPENED
        started = events[1]
        assert (started.kind, started.at, started.actor) == (
            TimelineKind.PLAYBOOK_STARTED,
            record.opened_at,
            record.opened_by,
        )
        assert started.data == {
            "playbook": expected.pk,
            "playbook_name": expected.name,
            "tasks": len(tasks),
        }


def test_segments_own_plays_reach_their_accounts_records(seeded):
    strategic = Segment.objects.get(code="strategic")
    lost_sponsor = RootCause.objects.get(code="lost-champion")
    got = Counter(
        Task.objects.filter(
            risk__primary_cause=lost_sponsor, step__owner=StepOwner.SALES
        ).values_list("risk__account__segment__code", flat=True)
    )
    # The executive-to-executive step is only in the Strategic play.
    assert set(got) <= {"strategic"}
    records = RiskRecord.objects.filter(primary_cause=lost_sponsor, account__segment=strategic)
    assert got["strategic"] == records.count()
    smb_low_usage = RiskRecord.objects.filter(
        primary_cause__code="low-usage", account__segment__code="smb"
    )
    assert smb_low_usage.exists()
    for record in smb_low_usage:
        assert {task.step.playbook.name for task in record.tasks.all()} == {
            "Low usage: SMB quick relaunch"
        }


def test_closed_records_tasks_were_mostly_done_before_the_closing(seeded):
    tasks = list(
        Task.objects.exclude(risk__status=RiskStatus.OPEN).select_related(
            "risk__account__region", "risk__account__csm", "done_by", "owner"
        )
    )
    due_before_closing = [
        task for task in tasks if task.due_date < task.risk.account.local_date(task.risk.closed_at)
    ]
    done = [task for task in due_before_closing if task.done_at is not None]
    assert len(done) / len(due_before_closing) >= 0.8
    assert 0.7 <= sum(task.done_at is not None for task in tasks) / len(tasks) < 1
    for task in tasks:
        if task.done_at is not None:
            assert task.risk.opened_at < task.done_at < task.risk.closed_at


def test_open_records_have_older_tasks_done_a_few_overdue_and_some_still_ahead(seeded):
    now = timezone.now()
    tasks = list(
        Task.objects.filter(risk__status=RiskStatus.OPEN).select_related(
            "risk__account__region", "risk__account__csm", "done_by", "owner"
        )
    )
    states: Counter[str] = Counter()
    for task in tasks:
        today = task.risk.account.local_date(now)
        if task.done_at is not None:
            assert task.risk.opened_at < task.done_at <= now
            states["done"] += 1
        elif task.due_date < today:
            states["overdue"] += 1
        else:
            states["ahead"] += 1
    past_due = states["done"] + states["overdue"]
    assert states["overdue"] >= 5
    assert states["overdue"] / past_due <= 0.25
    assert states["ahead"] >= 3
    assert states["done"] > states["overdue"] + states["ahead"]
    # The demo CSM has overdue work on the My tasks page.
    csm = User.objects.get(username="csm")
    assert Task.objects.filter(
        risk__account__csm=csm, risk__status=RiskStatus.OPEN, done_at__isnull=True,
        due_date__lt=timezone.localdate(),
    ).exists()  # fmt: skip


def test_each_task_done_has_its_timeline_event_by_someone_allowed_to_mark_it(seeded):
    done = list(
        Task.objects.filter(done_at__isnull=False).select_related(
            "risk__account__csm__manager", "done_by"
        )
    )
    assert done
    events = {
        event.data["task"]: event
        for event in TimelineEvent.objects.filter(kind=TimelineKind.TASK_DONE)
    }
    assert len(events) == TimelineEvent.objects.filter(kind=TimelineKind.TASK_DONE).count()
    assert set(events) == {task.pk for task in done}
    departments = Counter()
    for task in done:
        event = events[task.pk]
        assert (event.risk_id, event.actor, event.at, event.text) == (
            task.risk_id,
            task.done_by,
            task.done_at,
            task.title,
        )
        assert event.data["source"] == TaskSource.PLAYBOOK
        assert rules.can_mark_task(task.done_by, task)
        if task.department:
            # A department's task is ticked by that department's reviewer.
            assert task.done_by.department == task.department
            departments[task.department] += 1
        else:
            assert task.done_by == task.owner
    assert len(departments) == 5


def test_a_second_seed_adds_no_playbook_and_no_task(seeded):
    before = (Playbook.objects.count(), Task.objects.count(), TimelineEvent.objects.count())

    output = seed_demo()

    assert (Playbook.objects.count(), Task.objects.count(), TimelineEvent.objects.count()) == (
        before
    )
    assert "Playbooks: 0 created, 12 already present" in output
    assert "Tasks: 0 created" in output


def test_an_admins_own_active_play_is_kept_and_used_by_the_demo():
    admin = factories.AdminFactory(username="admin", is_superuser=True)
    ours = services.playbook_save(
        user=admin,
        name="Our usage play",
        root_cause=RootCause.objects.get(code="low-usage"),
        steps=[{"title": "Call the admin", "owner": StepOwner.CSM, "due_days": 3}],
    )

    output = seed_demo()

    assert "Playbooks: 11 created, 1 already present" in output
    assert not Playbook.objects.filter(name="Low usage: relaunch adoption").exists()
    low_usage = RiskRecord.objects.filter(primary_cause__code="low-usage").exclude(
        account__segment__code="smb"
    )
    assert low_usage.exists()
    for record in low_usage:
        assert list(record.tasks.values_list("title", "step__playbook")) == [
            ("Call the admin", ours.pk)
        ]
