"""Playbooks and tasks through risks.services (risks/services/tasks.py): the
tasks a new record gets from its cause's playbook (owners, business-day due
dates on the region's calendar, the timeline, one transaction), tasks added by
hand, marking tasks done or open again and who may, the text of a review's
commitment, and the rules of saving a playbook."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Department, Segment
from core.exceptions import Conflict, InvalidInput, NotAllowed
from risks import selectors, services
from risks.models import (
    Playbook,
    PlaybookStep,
    RiskRecord,
    RiskStatus,
    StepOwner,
    Task,
    TaskSource,
    TimelineEvent,
    TimelineKind,
)
from risks.services import tasks as task_services
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# Friday 6 March 2026, 10:00 UTC: 11:00 in Berlin, 05:00 in New York, Friday everywhere.
FRIDAY = dt.datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
FRI_6, MON_9, TUE_10, FRI_13, TUE_17 = (
    dt.date(2026, 3, 6),
    dt.date(2026, 3, 9),
    dt.date(2026, 3, 10),
    dt.date(2026, 3, 13),
    dt.date(2026, 3, 17),
)


@pytest.fixture
def clock(monkeypatch):
    """Stops the clock (``timezone.now``, as tests/web/test_risk_list.py does) at
    FRIDAY; ``clock(at)`` moves it."""

    def stop_at(at: dt.datetime) -> dt.datetime:
        monkeypatch.setattr(timezone, "now", lambda: at)
        return at

    stop_at(FRIDAY)
    return stop_at


def make_playbook(cause, *steps, segment=None, active=True, name="Win back usage") -> Playbook:
    """A playbook for ``cause`` whose steps are (owner, due_days, title) in order."""
    playbook = factories.PlaybookFactory(
        name=name, root_cause=cause, segment=segment, active=active
    )
    for position, (owner, due_days, title) in enumerate(steps, start=1):
        factories.PlaybookStepFactory(
            playbook=playbook,
            position=position,
            owner=owner,
            due_days=due_days,
            title=title,
            description=f"How to: {title.lower()}",
        )
    return playbook


def file_record(user, account, cause, **kwargs) -> RiskRecord:
    kwargs.setdefault("summary", "Usage halved since the champion left.")
    kwargs.setdefault("next_steps", "Call the sponsor.")
    return services.risk_open(user=user, account=account, primary_cause=cause, **kwargs)


def task_rows(risk: RiskRecord) -> list[tuple]:
    return list(
        Task.objects.filter(risk=risk)
        .order_by("id")
        .values_list("title", "owner", "department", "due_date")
    )


def kinds(risk: RiskRecord) -> list[str]:
    return list(risk.events.order_by("at", "id").values_list("kind", flat=True))


# --- a new record's playbook ---------------------------------------------------------------


def test_filing_gives_the_csm_the_playbooks_tasks_due_in_business_days(
    clock, csm, account, low_usage
):
    playbook = make_playbook(
        low_usage,
        (StepOwner.CSM, 0, "Call the champion"),
        (StepOwner.CSM, 1, "Send the usage report"),
        (StepOwner.CSM, 5, "Agree a success plan"),
        (StepOwner.CSM, 7, "Relaunch the training"),
    )

    risk = file_record(csm, account, low_usage)

    # Opened on Friday 6 March: +0 that Friday, +1 Monday, +5 the next Friday,
    # +7 Tuesday of the week after.
    assert task_rows(risk) == [
        ("Call the champion", csm.pk, "", FRI_6),
        ("Send the usage report", csm.pk, "", MON_9),
        ("Agree a success plan", csm.pk, "", FRI_13),
        ("Relaunch the training", csm.pk, "", TUE_17),
    ]
    steps = list(playbook.steps.order_by("position"))
    for task, step in zip(Task.objects.filter(risk=risk).order_by("id"), steps, strict=True):
        assert task.source == TaskSource.PLAYBOOK
        assert task.step == step
        assert task.description == f"How to: {step.title.lower()}"
        assert (task.created_by, task.created_at) == (csm, FRIDAY)
        assert (task.done_at, task.done_by, task.agenda_item) == (None, None, None)


def test_a_managers_step_goes_to_the_csms_manager_whoever_files(
    clock, csm, manager, account, low_usage
):
    make_playbook(
        low_usage, (StepOwner.MANAGER, 2, "Call their VP"), (StepOwner.CSM, 3, "Send notes")
    )

    risk = file_record(manager, account, low_usage)

    # Friday + 2 business days is Tuesday; + 3 is Wednesday.
    assert task_rows(risk) == [
        ("Call their VP", manager.pk, "", TUE_10),
        ("Send notes", csm.pk, "", dt.date(2026, 3, 11)),
    ]
    assert set(Task.objects.values_list("created_by", flat=True)) == {manager.pk}


def test_a_managers_step_stays_with_a_csm_who_has_no_manager(clock, region, admin_user, low_usage):
    lone = factories.CsmFactory(username="lone", manager=None, region=region)
    account = factories.AccountFactory(csm=lone, region=region)
    make_playbook(low_usage, (StepOwner.MANAGER, 1, "Call their VP"))

    risk = file_record(admin_user, account, low_usage)

    assert task_rows(risk) == [("Call their VP", lone.pk, "", MON_9)]


def test_a_managers_step_stays_with_the_csm_when_the_manager_has_left(
    clock, csm, manager, account, low_usage
):
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    make_playbook(low_usage, (StepOwner.MANAGER, 1, "Call their VP"))

    risk = file_record(csm, account, low_usage)

    assert task_rows(risk) == [("Call their VP", csm.pk, "", MON_9)]


@pytest.mark.parametrize("department", Department.values)
def test_a_departments_step_gives_a_task_of_that_department_without_an_owner(
    clock, csm, account, low_usage, department
):
    make_playbook(low_usage, (department, 1, "Look at it"))

    risk = file_record(csm, account, low_usage)

    assert task_rows(risk) == [("Look at it", None, department, MON_9)]


def test_the_step_owners_are_the_departments_plus_csm_and_manager():
    assert set(StepOwner.values) == {"csm", "manager", *Department.values}


@pytest.fixture
def strategic() -> Segment:
    return Segment.objects.get(code="strategic")


def test_a_segments_own_playbook_wins_over_the_causes_general_one(
    clock, csm, region, low_usage, strategic
):
    make_playbook(low_usage, (StepOwner.CSM, 1, "General step"), name="General")
    make_playbook(
        low_usage, (StepOwner.MANAGER, 2, "Strategic step"), segment=strategic, name="Strategic"
    )
    big = factories.AccountFactory(csm=csm, region=region, segment=strategic)
    usual = factories.AccountFactory(csm=csm, region=region)  # enterprise

    strategic_risk = file_record(csm, big, low_usage)
    usual_risk = file_record(csm, usual, low_usage)

    assert task_rows(strategic_risk) == [("Strategic step", csm.manager_id, "", TUE_10)]
    assert task_rows(usual_risk) == [("General step", csm.pk, "", MON_9)]
    started = strategic_risk.events.get(kind=TimelineKind.PLAYBOOK_STARTED)
    assert started.data["playbook_name"] == "Strategic"


def test_a_segments_playbook_gives_nothing_to_another_segment(clock, csm, account, low_usage):
    make_playbook(
        low_usage,
        (StepOwner.CSM, 1, "Strategic only"),
        segment=Segment.objects.get(code="smb"),
    )

    risk = file_record(csm, account, low_usage)  # an enterprise account

    assert task_rows(risk) == []
    assert kinds(risk) == [TimelineKind.OPENED]


def test_without_a_playbook_a_record_gets_no_tasks_and_no_playbook_event(
    clock, csm, account, low_usage, defects
):
    make_playbook(defects, (StepOwner.CSM, 1, "Only for defects"))

    risk = file_record(csm, account, low_usage)

    assert not Task.objects.exists()
    assert kinds(risk) == [TimelineKind.OPENED]


def test_only_the_primary_causes_playbook_counts(clock, csm, account, low_usage, defects):
    make_playbook(defects, (StepOwner.CSM, 1, "Only for defects"))

    risk = file_record(csm, account, low_usage, secondary_cause=defects)

    assert not Task.objects.filter(risk=risk).exists()


def test_an_inactive_playbook_is_ignored(clock, csm, account, low_usage):
    make_playbook(low_usage, (StepOwner.CSM, 1, "Retired play"), active=False)

    risk = file_record(csm, account, low_usage)

    assert not Task.objects.exists()
    assert kinds(risk) == [TimelineKind.OPENED]


def test_an_inactive_segment_playbook_leaves_the_general_one_in_force(
    clock, csm, account, low_usage
):
    make_playbook(low_usage, (StepOwner.CSM, 1, "General step"), name="General")
    make_playbook(
        low_usage,
        (StepOwner.CSM, 1, "Retired enterprise step"),
        segment=account.segment,
        active=False,
        name="Old enterprise play",
    )

    risk = file_record(csm, account, low_usage)

    assert [row[0] for row in task_rows(risk)] == ["General step"]


def test_a_playbook_without_steps_adds_nothing(clock, csm, account, low_usage):
    make_playbook(low_usage)

    risk = file_record(csm, account, low_usage)

    assert not Task.objects.exists()
    assert kinds(risk) == [TimelineKind.OPENED]


def test_due_dates_count_from_the_day_it_is_in_the_accounts_region(clock, csm, account, low_usage):
    # Friday 23:30 UTC is already Saturday 00:30 in Berlin: the days count from
    # the Monday after, so +0 is Monday and +1 Tuesday (on UTC's Friday they
    # would be Friday and Monday).
    clock(dt.datetime(2026, 3, 6, 23, 30, tzinfo=UTC))
    make_playbook(low_usage, (StepOwner.CSM, 0, "Same day"), (StepOwner.CSM, 1, "Next day"))

    risk = file_record(csm, account, low_usage)

    assert [row[3] for row in task_rows(risk)] == [MON_9, TUE_10]


def test_due_dates_in_a_region_west_of_utc_use_its_evening(clock, other_region, low_usage):
    # Saturday 02:00 UTC is still Friday 21:00 in New York: +0 is that Friday
    # and +1 Monday (on UTC's Saturday they would be Monday and Tuesday).
    clock(dt.datetime(2026, 3, 7, 2, 0, tzinfo=UTC))
    manager = factories.ManagerFactory(username="nate", region=other_region)
    csm = factories.CsmFactory(username="nina", manager=manager, region=other_region)
    account = factories.AccountFactory(csm=csm, region=other_region)
    make_playbook(low_usage, (StepOwner.CSM, 0, "Same day"), (StepOwner.CSM, 1, "Next day"))

    risk = file_record(csm, account, low_usage)

    assert [row[3] for row in task_rows(risk)] == [FRI_6, MON_9]


def test_the_timeline_says_which_playbook_started_and_how_many_tasks(
    clock, csm, account, low_usage
):
    playbook = make_playbook(
        low_usage,
        (StepOwner.CSM, 1, "One"),
        (StepOwner.MANAGER, 2, "Two"),
        (Department.PRODUCT, 3, "Three"),
        name="Adoption rescue",
    )

    risk = file_record(csm, account, low_usage)

    assert kinds(risk) == [TimelineKind.OPENED, TimelineKind.PLAYBOOK_STARTED]
    event = risk.events.get(kind=TimelineKind.PLAYBOOK_STARTED)
    assert (event.actor, event.at) == (csm, FRIDAY)
    assert event.text == "Adoption rescue: 3 tasks."
    assert event.data == {"playbook": playbook.pk, "playbook_name": "Adoption rescue", "tasks": 3}


def test_one_task_is_named_in_the_singular(clock, csm, account, low_usage):
    make_playbook(low_usage, (StepOwner.CSM, 1, "Only"), name="Short play")

    risk = file_record(csm, account, low_usage)

    assert risk.events.get(kind=TimelineKind.PLAYBOOK_STARTED).text == "Short play: 1 task."


def test_a_failure_after_the_tasks_are_written_leaves_nothing(
    clock, monkeypatch, csm, account, low_usage
):
    make_playbook(low_usage, (StepOwner.CSM, 1, "One"), (StepOwner.CSM, 2, "Two"))

    def broken_timeline(**kwargs):
        assert Task.objects.count() == 2  # the tasks are written by now
        raise RuntimeError("timeline down")

    # The playbook's event is the last write of filing, after the tasks.
    monkeypatch.setattr(task_services, "timeline_add", broken_timeline)

    with pytest.raises(RuntimeError):
        file_record(csm, account, low_usage)

    assert not RiskRecord.objects.exists()
    assert not Task.objects.exists()
    assert not TimelineEvent.objects.exists()


def test_a_refused_filing_writes_no_tasks(clock, csm, account, low_usage):
    make_playbook(low_usage, (StepOwner.CSM, 1, "One"))
    first = file_record(csm, account, low_usage)

    with pytest.raises(Conflict):
        file_record(csm, account, low_usage)

    assert Task.objects.filter(risk=first).count() == 1
    assert Task.objects.count() == 1


def test_playbook_plan_previews_the_tasks_without_writing(csm, manager, account, low_usage):
    playbook = make_playbook(
        low_usage, (StepOwner.MANAGER, 1, "Call VP"), (Department.FINANCE, 4, "Check credit")
    )

    plan = services.playbook_plan(playbook=playbook, account=account, opened_on=FRI_6)

    assert [(p.title, p.owner, p.department, p.due_date) for p in plan] == [
        ("Call VP", manager, "", MON_9),
        ("Check credit", None, "finance", dt.date(2026, 3, 12)),
    ]
    assert [p.owner_label for p in plan] == [str(manager), "Finance"]
    assert not Task.objects.exists()


# --- tasks added by hand ---------------------------------------------------------------------


@pytest.fixture
def risk(account, low_usage) -> RiskRecord:
    return factories.RiskRecordFactory(account=account, primary_cause=low_usage)


def test_the_csm_adds_a_task_with_an_owner_and_a_date(clock, risk, csm, manager):
    task = services.task_add(
        user=csm,
        risk=risk.pk,
        title="  Book the QBR  ",
        description="With the new sponsor.",
        owner=manager.pk,
        due_date="2026-03-20",
    )

    task.refresh_from_db()
    assert (task.risk, task.title, task.description) == (
        risk,
        "Book the QBR",
        "With the new sponsor.",
    )
    assert (task.owner, task.department, task.due_date) == (manager, "", dt.date(2026, 3, 20))
    assert (task.source, task.step, task.agenda_item) == (TaskSource.MANUAL, None, None)
    assert (task.created_by, task.created_at, task.done_at) == (csm, FRIDAY, None)
    event = risk.events.get()
    assert (event.kind, event.actor, event.at) == (TimelineKind.TASK_ADDED, csm, FRIDAY)
    assert event.text == "Book the QBR\n\nWith the new sponsor."
    assert event.data == {
        "task": task.pk,
        "owner": manager.pk,
        "department": "",
        "due_date": "2026-03-20",
    }


def test_a_task_may_belong_to_a_department_instead_of_a_person(risk, manager):
    task = services.task_add(
        user=manager,
        risk=risk,
        title="Confirm the fix date",
        department="product",
        due_date=dt.date(2026, 3, 20),
    )

    assert (task.owner, task.department) == (None, "product")
    event = risk.events.get(kind=TimelineKind.TASK_ADDED)
    assert event.text == "Confirm the fix date"
    assert (event.data["owner"], event.data["department"]) == (None, "product")


ADD_TABLE = {
    "csm": True,
    "manager": True,
    "admin_user": True,
    "reviewer": False,
    "other_csm": False,
    "other_manager": False,
}


@pytest.mark.parametrize(("who", "allowed"), ADD_TABLE.items())
def test_who_may_add_a_task(request, risk, csm, who, allowed):
    user = request.getfixturevalue(who)

    def add():
        return services.task_add(
            user=user, risk=risk, title="Call", owner=csm, due_date="2026-03-20"
        )

    if allowed:
        assert add().created_by == user
        assert risk.events.filter(kind=TimelineKind.TASK_ADDED, actor=user).count() == 1
    else:
        with pytest.raises(NotAllowed):
            add()
        assert not Task.objects.exists()
        assert not TimelineEvent.objects.exists()


def test_a_closed_record_takes_no_new_task(risk, csm):
    services.risk_close(user=csm, risk=risk, outcome=RiskStatus.WITHDRAWN, note="Raised in error.")

    with pytest.raises(Conflict):
        services.task_add(user=csm, risk=risk, title="Call", owner=csm, due_date="2026-03-20")

    assert not Task.objects.exists()
    assert not risk.events.filter(kind=TimelineKind.TASK_ADDED).exists()


def test_a_reviewer_is_refused_before_a_closed_record_is_mentioned(risk, csm, reviewer):
    services.risk_close(user=csm, risk=risk, outcome=RiskStatus.WITHDRAWN, note="Raised in error.")

    with pytest.raises(NotAllowed):
        services.task_add(user=reviewer, risk=risk, title="x", owner=csm, due_date="2026-03-20")


def _inactive():
    return factories.CsmFactory(username="gone", is_active=False)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"title": "   "}, "title", "This field is required."),
        ({"title": "x" * 201}, "title", "Use at most 200 characters (this is 201)."),
        ({"due_date": None}, "due_date", "Give the date it is due, e.g. 2026-06-30."),
        ({"due_date": ""}, "due_date", "Give the date it is due, e.g. 2026-06-30."),
        ({"due_date": "2026-02-30"}, "due_date", "Enter a date, e.g. 2026-06-30."),
        ({"due_date": "next week"}, "due_date", "Enter a date, e.g. 2026-06-30."),
        ({"owner": None}, "owner", "Choose an owner or a department."),
        ({"owner": "", "department": ""}, "owner", "Choose an owner or a department."),
        ({"owner": "inactive"}, "owner", "Choose an active user as the owner."),
        ({"owner": 999999}, "owner", "Choose an active user as the owner."),
        ({"owner": "abc"}, "owner", "Choose an active user as the owner."),
        (
            {"owner": None, "department": "marketing"},
            "department",
            "Choose one of: professional_services, product, support, sales, finance.",
        ),
    ],
)
def test_an_invalid_task_is_refused_next_to_its_field(risk, csm, fields, field, message):
    kwargs = {"title": "Call", "owner": csm, "due_date": "2026-03-20", **fields}
    if kwargs["owner"] == "inactive":
        kwargs["owner"] = _inactive()

    with pytest.raises(InvalidInput) as refused:
        services.task_add(user=csm, risk=risk, **kwargs)

    assert refused.value.errors == {field: [message]}
    assert not Task.objects.exists()
    assert not TimelineEvent.objects.exists()


def test_every_error_of_a_task_is_reported_at_once(risk, csm):
    with pytest.raises(InvalidInput) as refused:
        services.task_add(
            user=csm, risk=risk, title="", description="d" * 4001, owner=None, due_date=None
        )

    assert set(refused.value.errors) == {"title", "description", "owner", "due_date"}


# --- marking done --------------------------------------------------------------------------


@pytest.fixture
def people(region, other_region, csm, manager, other_manager, other_csm, admin_user) -> dict:
    """Everyone the permission table asks about. The record is ``csm``'s (EMEA),
    whose manager is ``manager``; ``owner`` is a CSM of another team."""
    return {
        "owner": factories.CsmFactory(username="owen", region=region, manager=other_manager),
        "record_csm": csm,
        "csm_manager": manager,
        "other_manager": other_manager,  # an EMEA manager of another team
        "other_csm": other_csm,  # an EMEA CSM of another team, not the owner
        "admin": admin_user,
        "superuser": factories.CsmFactory(username="root", region=None, is_superuser=True),
        "product_reviewer": factories.ReviewerFactory(
            username="pia", region=region, department="product"
        ),
        "support_reviewer": factories.ReviewerFactory(
            username="sam", region=region, department="support"
        ),
        "na_product_reviewer": factories.ReviewerFactory(
            username="nils", region=other_region, department="product"
        ),
        "na_manager": factories.ManagerFactory(username="nate", region=other_region),
    }


@pytest.fixture
def tasks(risk, people, csm) -> dict[str, Task]:
    """A person's task, the product department's, and one agreed in the review."""
    owner = people["owner"]
    return {
        "personal": factories.TaskFactory(risk=risk, owner=owner, created_by=csm),
        "department": factories.TaskFactory(
            risk=risk, owner=None, department="product", created_by=csm
        ),
        "review": factories.TaskFactory(
            risk=risk, owner=owner, source=TaskSource.REVIEW, created_by=csm
        ),
    }


MARK_TABLE = {
    #                     personal department review
    "owner": (True, False, True),
    "record_csm": (True, True, True),
    "csm_manager": (True, True, True),
    "other_manager": (False, False, True),  # runs the region's review
    "other_csm": (False, False, False),
    "admin": (True, True, True),
    "superuser": (True, True, True),
    "product_reviewer": (False, True, True),
    "support_reviewer": (False, False, True),  # another department, same region
    "na_product_reviewer": (False, False, False),  # the department, another region
    "na_manager": (False, False, False),
}


@pytest.mark.parametrize("kind", ["personal", "department", "review"])
@pytest.mark.parametrize("who", MARK_TABLE)
def test_who_may_mark_a_task_done(clock, people, tasks, who, kind):
    user = people[who]
    task = tasks[kind]
    allowed = MARK_TABLE[who][["personal", "department", "review"].index(kind)]

    if allowed:
        services.task_set_done(user=user, task=task.pk, done=True)
        task.refresh_from_db()
        assert (task.done_at, task.done_by) == (FRIDAY, user)
        event = TimelineEvent.objects.get(kind=TimelineKind.TASK_DONE)
        assert event.actor == user
    else:
        with pytest.raises(NotAllowed):
            services.task_set_done(user=user, task=task, done=True)
        task.refresh_from_db()
        assert (task.done_at, task.done_by) == (None, None)
        assert not TimelineEvent.objects.exists()


def test_done_and_reopened_go_on_the_timeline_and_done_by_is_cleared(clock, risk, csm, manager):
    task = factories.TaskFactory(risk=risk, owner=csm, title="Send the plan")

    done = services.task_set_done(user=csm, task=task, done=True)
    assert (done.done_at, done.done_by, done.is_done) == (FRIDAY, csm, True)

    later = clock(FRIDAY + dt.timedelta(hours=3))
    reopened = services.task_set_done(user=manager, task=task.pk, done=False)
    task.refresh_from_db()
    assert (task.done_at, task.done_by) == (None, None)
    assert reopened.is_done is False

    events = list(risk.events.order_by("at", "id"))
    assert [(e.kind, e.actor, e.at, e.text) for e in events] == [
        (TimelineKind.TASK_DONE, csm, FRIDAY, "Send the plan"),
        (TimelineKind.TASK_REOPENED, manager, later, "Send the plan"),
    ]
    assert events[0].data == {"task": task.pk, "source": "manual"}


def test_marking_done_twice_changes_nothing_the_second_time(clock, risk, csm, manager):
    task = factories.TaskFactory(risk=risk, owner=csm)
    services.task_set_done(user=csm, task=task, done=True)
    clock(FRIDAY + dt.timedelta(days=1))

    again = services.task_set_done(user=manager, task=task, done=True)

    task.refresh_from_db()
    assert (task.done_at, task.done_by) == (FRIDAY, csm)
    assert (again.done_at, again.done_by) == (FRIDAY, csm)
    assert risk.events.filter(kind=TimelineKind.TASK_DONE).count() == 1


def test_reopening_an_open_task_writes_nothing(risk, csm):
    task = factories.TaskFactory(risk=risk, owner=csm)

    services.task_set_done(user=csm, task=task, done=False)

    assert not TimelineEvent.objects.exists()


def test_closing_a_record_leaves_its_tasks_open_and_they_can_still_be_done(clock, risk, csm):
    task = factories.TaskFactory(risk=risk, owner=csm)
    services.risk_close(user=csm, risk=risk, outcome=RiskStatus.SAVED, note="Renewed.")

    task.refresh_from_db()
    assert task.done_at is None

    services.task_set_done(user=csm, task=task, done=True)
    task.refresh_from_db()
    assert task.done_at == FRIDAY
    assert kinds(risk)[-1] == TimelineKind.TASK_DONE
    services.task_set_done(user=csm, task=task, done=False)
    assert kinds(risk)[-1] == TimelineKind.TASK_REOPENED


def test_marking_a_task_that_is_gone_is_a_conflict(csm):
    with pytest.raises(Conflict):
        services.task_set_done(user=csm, task=999999, done=True)


# --- the text of a commitment ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Call the sponsor.", ("Call the sponsor.", "")),
        ("  Call the sponsor.  \n", ("Call the sponsor.", "")),
        ("x" * 200, ("x" * 200, "")),
        (
            "Call the sponsor.\nAsk about the budget.\n",
            ("Call the sponsor.", "Call the sponsor.\nAsk about the budget."),
        ),
        (
            "Call   the\tsponsor\nthen write",
            ("Call the sponsor", "Call   the\tsponsor\nthen write"),
        ),
        ("x" * 201, ("x" * 199 + "\u2026", "x" * 201)),
        # A cut that ends in a space loses the space before the ellipsis.
        ("a" * 198 + " " + "b" * 10, ("a" * 198 + "\u2026", "a" * 198 + " " + "b" * 10)),
    ],
    ids=["short", "padded", "200", "lines", "spaces", "201", "cut-at-space"],
)
def test_task_text_makes_a_title_and_keeps_the_whole_text(text, expected):
    title, description = services.task_text(text)

    assert (title, description) == expected
    assert len(title) <= 200


# --- playbooks ---------------------------------------------------------------------------------


def steps(*titles: str, owner: str = StepOwner.CSM, due_days: int = 3) -> list[dict]:
    return [{"title": title, "owner": owner, "due_days": due_days} for title in titles]


def save(user, cause, **fields) -> Playbook:
    fields.setdefault("name", "Adoption rescue")
    fields.setdefault("steps", steps("Call the champion"))
    return services.playbook_save(user=user, root_cause=cause, **fields)


def test_an_admin_saves_a_playbook_with_its_steps_in_order(admin_user, low_usage, strategic):
    playbook = save(
        admin_user,
        low_usage,
        name="  Strategic rescue ",
        segment=strategic,
        description="When a strategic account stops using the product.",
        steps=[
            {"title": "Call the champion", "due_days": 0},
            {"title": "Exec call", "owner": "manager", "due_days": 2, "description": "VP level."},
            {"title": "Usage review", "owner": "product", "due_days": 260},
        ],
    )

    playbook.refresh_from_db()
    assert (playbook.name, playbook.root_cause, playbook.segment, playbook.active) == (
        "Strategic rescue",
        low_usage,
        strategic,
        True,
    )
    assert list(
        playbook.steps.order_by("position").values_list(
            "position", "title", "description", "owner", "due_days"
        )
    ) == [
        (1, "Call the champion", "", "csm", 0),
        (2, "Exec call", "VP level.", "manager", 2),
        (3, "Usage review", "", "product", 260),
    ]


@pytest.mark.parametrize("who", ["manager", "csm", "reviewer"])
def test_only_admins_save_or_delete_playbooks(request, low_usage, who):
    user = request.getfixturevalue(who)
    existing = make_playbook(low_usage, (StepOwner.CSM, 1, "Keep"))

    with pytest.raises(NotAllowed):
        save(user, low_usage, active=False)
    with pytest.raises(NotAllowed):
        services.playbook_delete(user=user, playbook=existing)

    assert list(Playbook.objects.all()) == [existing]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "  "}, "name", "This field is required."),
        ({"root_cause": None}, "root_cause", "Choose the root cause the play answers."),
        ({"steps": []}, "steps", "A playbook needs at least one step."),
        ({"steps": steps(*[f"S{n}" for n in range(21)])}, "steps", "At most 20 steps."),
        ({"steps": steps("ok", " ")}, "steps[2].title", "This field is required."),
        (
            {"steps": steps("x" * 201)},
            "steps[1].title",
            "Use at most 200 characters (this is 201).",
        ),
        (
            {"steps": steps("Call", owner="ceo")},
            "steps[1].owner",
            "Choose one of: csm, manager, professional_services, product, support, sales, finance.",
        ),
        (
            {"steps": steps("Call", due_days=-1)},
            "steps[1].due_days",
            "Between 0 and 260 business days.",
        ),
        (
            {"steps": steps("Call", due_days=261)},
            "steps[1].due_days",
            "Between 0 and 260 business days.",
        ),
        (
            {"steps": steps("Call", due_days="3")},
            "steps[1].due_days",
            "Give a whole number of business days.",
        ),
        (
            {"steps": steps("Call", due_days=True)},
            "steps[1].due_days",
            "Give a whole number of business days.",
        ),
        (
            {"steps": [{"title": "Call"}]},
            "steps[1].due_days",
            "Give a whole number of business days.",
        ),
    ],
)
def test_an_invalid_playbook_is_refused_next_to_its_field(
    admin_user, low_usage, fields, field, message
):
    cause = fields.pop("root_cause", low_usage)

    with pytest.raises(InvalidInput) as refused:
        save(admin_user, cause, **fields)

    assert refused.value.errors == {field: [message]}
    assert not Playbook.objects.exists()
    assert not PlaybookStep.objects.exists()


def test_a_second_active_general_playbook_for_a_cause_is_a_conflict(admin_user, low_usage):
    first = save(admin_user, low_usage, name="First")

    with pytest.raises(Conflict) as refused:
        save(admin_user, low_usage, name="Second")

    assert refused.value.message == "This cause already has an active playbook for every segment."
    assert list(Playbook.objects.all()) == [first]
    # Kept inactive, a second one is fine; so is one for another cause.
    save(admin_user, low_usage, name="Draft", active=False)
    save(admin_user, factories.RootCauseFactory(code="pricing-gap"), name="Other cause")
    assert Playbook.objects.count() == 3


def test_a_second_active_playbook_for_a_cause_and_segment_is_a_conflict(
    admin_user, low_usage, strategic
):
    save(admin_user, low_usage, name="General")
    save(admin_user, low_usage, name="Strategic", segment=strategic)

    with pytest.raises(Conflict) as refused:
        save(admin_user, low_usage, name="Strategic again", segment=strategic)

    assert refused.value.message == "This cause already has an active playbook for this segment."
    save(admin_user, low_usage, name="SMB", segment=Segment.objects.get(code="smb"))
    assert Playbook.objects.filter(active=True).count() == 3


def test_activating_a_draft_next_to_an_active_playbook_is_a_conflict(admin_user, low_usage):
    save(admin_user, low_usage, name="Live")
    draft = save(admin_user, low_usage, name="Draft", active=False)

    with pytest.raises(Conflict):
        save(admin_user, low_usage, playbook=draft, name="Draft", active=True)

    draft.refresh_from_db()
    assert draft.active is False
    # Saving the live one again is not a conflict with itself.
    live = Playbook.objects.get(name="Live")
    assert save(admin_user, low_usage, playbook=live, name="Live v2").name == "Live v2"


def test_editing_a_playbook_replaces_its_steps_and_earlier_tasks_keep_their_text(
    clock, admin_user, csm, account, low_usage
):
    playbook = save(admin_user, low_usage, steps=steps("One", "Two", "Three"))
    old_steps = list(playbook.steps.order_by("position"))
    risk = file_record(csm, account, low_usage)

    save(
        admin_user,
        low_usage,
        playbook=playbook,
        name="Adoption rescue v2",
        steps=[
            {"title": "One, sooner", "due_days": 1},
            {"title": "Two", "owner": "support", "due_days": 4},
        ],
    )

    rows = list(playbook.steps.order_by("position").values_list("pk", "position", "title", "owner"))
    assert rows == [
        (old_steps[0].pk, 1, "One, sooner", "csm"),
        (old_steps[1].pk, 2, "Two", "support"),
    ]
    assert not PlaybookStep.objects.filter(pk=old_steps[2].pk).exists()
    tasks_now = list(Task.objects.filter(risk=risk).order_by("id").values_list("title", "step"))
    assert tasks_now == [
        ("One", old_steps[0].pk),
        ("Two", old_steps[1].pk),
        ("Three", None),
    ]


def test_deleting_a_playbook_keeps_the_tasks_it_gave(clock, admin_user, csm, account, low_usage):
    playbook = save(admin_user, low_usage, steps=steps("One", "Two"))
    risk = file_record(csm, account, low_usage)

    services.playbook_delete(user=admin_user, playbook=playbook)

    assert not Playbook.objects.exists() and not PlaybookStep.objects.exists()
    assert list(Task.objects.filter(risk=risk).values_list("title", "step")) == [
        ("One", None),
        ("Two", None),
    ]
    assert risk.events.filter(kind=TimelineKind.PLAYBOOK_STARTED).count() == 1


def test_a_retired_cause_takes_no_new_playbook_but_keeps_its_own(admin_user, low_usage):
    kept = save(admin_user, low_usage, name="Kept")
    low_usage.active = False
    low_usage.save(update_fields=["active"])

    with pytest.raises(InvalidInput) as refused:
        save(admin_user, low_usage, name="New", active=False)

    assert refused.value.errors == {
        "root_cause": [f"\u201c{low_usage.name}\u201d is no longer in use; choose an active cause."]
    }
    assert save(admin_user, low_usage, playbook=kept, name="Kept, renamed").name == "Kept, renamed"
    assert Playbook.objects.count() == 1


# --- reading tasks -----------------------------------------------------------------------------


@pytest.fixture
def task_world(region, other_region, csm, manager, other_csm, low_usage):
    """Tasks of two open records and a closed one, mine and others', on a Wednesday."""
    today = dt.date(2026, 3, 11)
    mine = factories.RiskRecordFactory(account=factories.AccountFactory(csm=csm, region=region))
    theirs = factories.RiskRecordFactory(
        account=factories.AccountFactory(csm=other_csm, region=region)
    )
    na_csm = factories.CsmFactory(username="nina", region=other_region)
    na = factories.RiskRecordFactory(
        account=factories.AccountFactory(csm=na_csm, region=other_region)
    )
    closed = factories.RiskRecordFactory(
        account=factories.AccountFactory(csm=csm, region=region),
        status=RiskStatus.SAVED,
        closed_by=csm,
        closed_at=FRIDAY,
        arr_retained=0,
        outcome_note="Renewed.",
    )

    def make(title, risk, due, *, owner=None, department="", done=False, source="manual"):
        return factories.TaskFactory(
            risk=risk,
            title=title,
            owner=owner,
            department=department,
            due_date=due,
            done_at=FRIDAY if done else None,
            source=source,
            created_by=csm,
        )

    make("Mine late", mine, today - dt.timedelta(days=2), owner=csm)
    make("Mine later", mine, today + dt.timedelta(days=5), owner=csm, source="playbook")
    make("Mine undated", mine, None, owner=csm)
    make("Mine soon", mine, today, owner=csm, source="review")
    make("Mine done", mine, today - dt.timedelta(days=9), owner=csm, done=True)
    make("Mine on a closed record", closed, today - dt.timedelta(days=1), owner=csm)
    make("Theirs late", theirs, today - dt.timedelta(days=1), owner=other_csm)
    make("Product here", theirs, today - dt.timedelta(days=3), department="product")
    make("Product with owner", theirs, today, owner=manager, department="product")
    make("Product in NA", na, today, department="product")
    make("Support here", mine, today, department="support")
    return today


def titles(tasks) -> list[str]:
    return [task.title for task in tasks]


def test_my_tasks_are_overdue_first_then_by_due_date_then_done(csm, task_world):
    today = task_world

    assert titles(selectors.task_list(user=csm, today=today)) == [
        "Mine late",
        "Mine soon",
        "Mine later",
        "Mine undated",
    ]
    assert titles(selectors.task_list(user=csm, state="all", today=today)) == [
        "Mine late",
        "Mine soon",
        "Mine later",
        "Mine undated",
        "Mine done",
    ]
    assert titles(selectors.task_list(user=csm, state="done", today=today)) == ["Mine done"]
    assert titles(
        selectors.task_list(user=csm, include_closed=True, overdue=True, today=today)
    ) == ["Mine late", "Mine on a closed record"]


def test_a_reviewers_tasks_are_their_departments_unowned_ones_in_their_region(region, task_world):
    pia = factories.ReviewerFactory(username="pia", region=region, department="product")

    assert titles(selectors.task_list(user=pia, today=task_world)) == ["Product here"]


def test_task_filters_by_source_owner_department_and_due_day(csm, manager, task_world):
    today = task_world

    assert titles(selectors.task_list(source="review", today=today)) == ["Mine soon"]
    assert titles(selectors.task_list(owner=manager, today=today)) == ["Product with owner"]
    assert titles(selectors.task_list(department="product", today=today)) == [
        "Product here",
        "Product with owner",
        "Product in NA",
    ]
    assert titles(selectors.task_list(user=csm, due_before=today, today=today)) == [
        "Mine late",
        "Mine soon",
    ]


def test_a_managers_team_overdue_count_counts_open_records_only(manager, other_manager, task_world):
    # Mine late (the team's CSM), and the product task on other_csm's record is
    # not the team's; the closed record's late task does not count.
    assert selectors.team_overdue_task_count(manager, today=task_world) == 1
    # other_manager's team: Theirs late and Product here.
    assert selectors.team_overdue_task_count(other_manager, today=task_world) == 2


def test_a_records_tasks_read_in_one_query(csm, task_world, django_assert_num_queries):
    risk = Task.objects.get(title="Mine late").risk

    with django_assert_num_queries(1):
        tasks = selectors.risk_tasks(risk, today=task_world)
        owners = [task.owner for task in tasks]

    assert titles(tasks) == [
        "Mine late",
        "Mine soon",
        "Support here",
        "Mine later",
        "Mine undated",
        "Mine done",
    ]
    assert owners[:2] == [csm, csm]
