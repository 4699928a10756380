"""Agenda generation, review notes and action items (tasks of the risk record,
source ``review``) through reviews.services (docs/domain.md): sections and
order, idempotence, refresh, freezing, the timeline, permissions, and two
generations at once on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from accounts.models import Role
from core.exceptions import Conflict, InvalidInput, NotAllowed
from reviews import selectors, services
from reviews.models import Agenda, AgendaItem, AgendaStatus, ReviewNote
from risks import services as risk_services
from risks.models import (
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    Task,
    TaskSource,
    TimelineEvent,
    TimelineKind,
)
from tests import factories
from tests.concurrency import run_at_once

UTC = dt.UTC
# The EMEA review (Europe/Berlin, Wednesday 15:00) of the week of 1 June 2026.
WEEK = dt.date(2026, 6, 1)
MEETING = dt.datetime(2026, 6, 3, 13, tzinfo=UTC)
# Without an earlier agenda, "since the previous meeting" means since the slot a week before.
PREVIOUS = MEETING - dt.timedelta(days=7)
NOW = dt.datetime(2026, 6, 2, 8, tzinfo=UTC)


def at(days_before_meeting: float) -> dt.datetime:
    return MEETING - dt.timedelta(days=days_before_meeting)


def make_risk(
    region,
    name: str,
    *,
    renewal_in_days: int = 60,
    arr: str = "100000.00",
    tier: int = 3,
    max_tier: int | None = None,
    tier_changed_at: dt.datetime | None = None,
    status: str = RiskStatus.OPEN,
    closed_at: dt.datetime | None = None,
) -> RiskRecord:
    csm = factories.CsmFactory(username=f"csm-{name}", region=region)
    account = factories.AccountFactory(
        name=name,
        region=region,
        csm=csm,
        arr=Decimal(arr),
        renewal_date=MEETING.date() + dt.timedelta(days=renewal_in_days),
    )
    closed = status != RiskStatus.OPEN
    return factories.RiskRecordFactory(
        account=account,
        tier=tier,
        max_tier=max_tier or tier,
        tier_changed_at=tier_changed_at or at(30),
        opened_at=at(60),
        status=status,
        closed_at=closed_at if closed else None,
        closed_by=csm if closed else None,
        arr_retained=Decimal(arr)
        if status == RiskStatus.SAVED
        else (Decimal(0) if closed else None),
        outcome_note="Renewed." if closed else "",
    )


def layout(agenda: Agenda) -> list[tuple[int, str, str]]:
    return list(
        AgendaItem.objects.filter(agenda=agenda)
        .order_by("position")
        .values_list("position", "section", "risk__account__name")
    )


@pytest.fixture
def dataset(region):
    """A week of the EMEA review with something for every section and every exclusion."""
    make_risk(region, "New later renewal", renewal_in_days=30, tier_changed_at=at(4))
    make_risk(region, "New soon renewal", renewal_in_days=10, tier_changed_at=at(5))
    make_risk(region, "Carried small", renewal_in_days=20, arr="50000.00", tier_changed_at=at(30))
    make_risk(region, "Carried big", renewal_in_days=20, arr="90000.00", tier_changed_at=at(60))
    pending = make_risk(region, "Pending to three", tier=2)
    factories.EscalationFactory(risk=pending, status=EscalationStatus.PENDING)
    asking_two = make_risk(region, "Pending to two", tier=1)
    factories.EscalationFactory(risk=asking_two, status=EscalationStatus.PENDING)
    make_risk(region, "Saved this week", status=RiskStatus.SAVED, closed_at=at(3))
    make_risk(
        region, "Churned this week", status=RiskStatus.CHURNED, closed_at=at(2), renewal_in_days=5
    )
    make_risk(region, "Saved long ago", status=RiskStatus.SAVED, closed_at=at(9))
    make_risk(region, "Closed at tier two", tier=2, status=RiskStatus.SAVED, closed_at=at(1))
    make_risk(region, "De-escalated", tier=2, max_tier=3)
    make_risk(region, "Tier one", tier=1)
    apac = factories.RegionFactory(code="APAC", timezone="Asia/Singapore")
    make_risk(apac, "Other region", tier_changed_at=at(2))
    return region


EXPECTED = [
    (1, "new", "New soon renewal"),
    (2, "new", "New later renewal"),
    (3, "carried_over", "Carried big"),
    (4, "carried_over", "Carried small"),
    (5, "pending_escalation", "Pending to three"),
    (6, "resolved", "Churned this week"),
    (7, "resolved", "Saved this week"),
]


# --- sections and order -------------------------------------------------------------


@pytest.mark.django_db
def test_agenda_has_the_four_sections_in_order_of_renewal_then_arr(dataset, emails):
    agenda = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)

    assert (agenda.week_start, agenda.meeting_at) == (WEEK, MEETING)
    assert agenda.status == AgendaStatus.SCHEDULED
    assert layout(agenda) == EXPECTED
    assert emails == [agenda]


@pytest.mark.django_db
def test_default_week_is_the_regions_next_meeting(dataset, emails):
    agenda = services.agenda_generate(region=dataset, now=NOW)

    assert agenda.week_start == WEEK


@pytest.mark.django_db
def test_new_and_resolved_count_from_the_previous_agendas_meeting(region, emails):
    # The review of 27 May did not happen: the previous agenda is of 20 May.
    Agenda.objects.create(
        region=region, week_start=dt.date(2026, 5, 18), meeting_at=at(14), generated_at=at(15)
    )
    make_risk(region, "Tier three since 22 May", tier_changed_at=at(12))
    make_risk(region, "Tier three before 20 May", tier_changed_at=at(15))
    make_risk(region, "Churned 25 May", status=RiskStatus.CHURNED, closed_at=at(9))

    agenda = services.agenda_generate(region=region, week_start=WEEK, now=NOW)

    assert [(section, name) for _, section, name in layout(agenda)] == [
        ("new", "Tier three since 22 May"),
        ("carried_over", "Tier three before 20 May"),
        ("resolved", "Churned 25 May"),
    ]


# --- idempotence, refresh, freezing -----------------------------------------------------


@pytest.mark.django_db
def test_generating_twice_gives_the_same_agenda_and_items(dataset, emails):
    first = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)
    items = list(AgendaItem.objects.filter(agenda=first).values_list("pk", "risk", "position"))

    second = services.agenda_generate(
        region=dataset, week_start=WEEK + dt.timedelta(days=2), now=NOW + dt.timedelta(hours=1)
    )

    assert second.pk == first.pk
    assert Agenda.objects.count() == 1
    assert list(AgendaItem.objects.filter(agenda=first).values_list("pk", "risk", "position")) == (
        items
    )
    assert emails == [first], "only the first generation is announced"


@pytest.mark.django_db
def test_refresh_before_the_meeting_follows_the_risks_and_keeps_notes_and_actions(
    dataset, emails, reviewer
):
    agenda = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)
    by_name = {
        item.risk.account.name: item
        for item in AgendaItem.objects.filter(agenda=agenda).select_related("risk__account")
    }
    note = services.review_note_add(
        user=reviewer, item=by_name["Carried small"], text="Product to confirm the fix date."
    )
    action = services.action_item_add(
        user=reviewer, item=by_name["Saved this week"], description="Send the case study."
    )
    # Both leave the sections; so does "Carried big", which has nothing written on it.
    RiskRecord.objects.filter(account__name__in=["Carried small", "Carried big"]).update(tier=2)
    RiskRecord.objects.filter(account__name="Saved this week").update(closed_at=at(20))
    make_risk(dataset, "Newest", renewal_in_days=1, tier_changed_at=at(1))

    services.agenda_generate(region=dataset, week_start=WEEK, now=NOW + dt.timedelta(hours=2))

    assert layout(agenda) == [
        (1, "new", "Newest"),
        (2, "new", "New soon renewal"),
        (3, "new", "New later renewal"),
        (4, "carried_over", "Carried small"),
        (5, "pending_escalation", "Pending to three"),
        (6, "resolved", "Churned this week"),
        (7, "resolved", "Saved this week"),
    ]
    assert ReviewNote.objects.get() == note
    assert Task.objects.get() == action
    assert note.item_id == by_name["Carried small"].pk
    assert action.agenda_item_id == by_name["Saved this week"].pk


@pytest.mark.django_db
def test_refresh_runs_a_constant_number_of_queries(dataset, emails, django_assert_max_num_queries):
    services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)
    for n in range(10):
        make_risk(dataset, f"More {n}", renewal_in_days=n, tier_changed_at=at(2))
    RiskRecord.objects.filter(account__name="Carried big").update(tier=2)

    with django_assert_max_num_queries(15):
        agenda = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)

    assert len(layout(agenda)) == len(EXPECTED) + 10 - 1


@pytest.mark.django_db
def test_agenda_is_frozen_from_the_meeting_on(dataset, emails):
    agenda = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)
    RiskRecord.objects.filter(account__name="Carried big").update(tier=2)
    make_risk(dataset, "Too late", tier_changed_at=at(0.1))

    for now in (MEETING, MEETING + dt.timedelta(days=3)):
        frozen = services.agenda_generate(region=dataset, week_start=WEEK, now=now)
        assert frozen.pk == agenda.pk
        assert layout(frozen) == EXPECTED

    frozen.refresh_from_db()
    assert frozen.status == AgendaStatus.HELD
    assert frozen.generated_at == NOW


@pytest.mark.django_db
def test_an_agenda_is_not_first_created_after_its_meeting_started(dataset, emails, manager):
    with pytest.raises(Conflict):
        services.agenda_generate(region=dataset, week_start=WEEK, user=manager, now=MEETING)

    assert not Agenda.objects.exists()


# --- the agenda page's read --------------------------------------------------------------


@pytest.mark.django_db
def test_agenda_with_items_reads_everything_in_constant_queries(
    dataset, emails, reviewer, django_assert_num_queries
):
    agenda = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)
    first = AgendaItem.objects.get(agenda=agenda, position=1)
    services.review_note_add(user=reviewer, item=first, text="Noted.")
    services.action_item_add(user=reviewer, item=first, description="Call.")
    TimelineEvent.objects.create(risk=first.risk, kind=TimelineKind.NOTE, text="Older", at=at(3))
    TimelineEvent.objects.create(risk=first.risk, kind=TimelineKind.NOTE, text="Latest", at=at(2))

    with django_assert_num_queries(4):
        loaded = selectors.agenda_with_items(agenda.pk)
        for item in loaded.item_list:
            _ = (
                item.risk.account.segment.name,
                item.risk.account.csm.manager,
                item.risk.primary_cause.name,
                item.risk.secondary_cause,
                [note.author.username for note in item.notes.all()],
                [task.owner for task in selectors.item_tasks(item)],
            )

    assert [section["section"] for section in loaded.sections] == [
        "new",
        "carried_over",
        "pending_escalation",
        "resolved",
    ]
    assert [len(section["items"]) for section in loaded.sections] == [2, 2, 1, 2]
    top = loaded.item_list[0]
    assert top.risk.account.name == "New soon renewal"
    assert [task.title for task in selectors.item_tasks(top)] == ["Call."]
    assert top.days_to_renewal == 10
    assert top.days_open == 60
    assert top.days_at_tier3 == 5
    assert top.latest_note_text == "Latest"
    resolved = loaded.sections[3]["items"][0]
    assert resolved.days_open == 58  # opened 60 days before, closed 2 days before the meeting


@pytest.mark.django_db
def test_an_item_shows_its_actions_and_every_other_open_task_of_its_record(
    dataset, emails, reviewer
):
    agenda = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)
    item = AgendaItem.objects.select_related("risk__account").get(agenda=agenda, position=1)
    risk, csm = item.risk, item.risk.account.csm
    earlier_agenda = Agenda.objects.create(
        region=dataset, week_start=WEEK - dt.timedelta(days=7), meeting_at=PREVIOUS
    )
    earlier = AgendaItem.objects.create(
        agenda=earlier_agenda, risk=risk, section="carried_over", position=1
    )
    services.action_item_add(
        user=reviewer, item=earlier, description="Earlier, open.", due_date="2026-06-01"
    )
    earlier_done = services.action_item_add(
        user=reviewer, item=earlier, description="Earlier, done."
    )
    risk_services.task_set_done(user=reviewer, task=earlier_done, done=True)
    own_done = services.action_item_add(user=reviewer, item=item, description="Agreed, done.")
    risk_services.task_set_done(user=reviewer, task=own_done, done=True)
    services.action_item_add(
        user=reviewer, item=item, description="Agreed, open.", due_date="2026-06-20"
    )
    factories.TaskFactory(
        risk=risk, title="By hand", owner=csm, created_by=csm, due_date=dt.date(2026, 6, 5)
    )
    factories.TaskFactory(risk=risk, title="By hand, done", owner=csm, created_by=csm, done_at=NOW)
    factories.TaskFactory(
        risk=risk,
        title="From the playbook",
        source=TaskSource.PLAYBOOK,
        owner=csm,
        created_by=csm,
        due_date=dt.date(2026, 6, 4),
    )
    factories.TaskFactory(title="Another record's task")

    loaded = selectors.agenda_with_items(agenda.pk)
    shown = next(entry for entry in loaded.item_list if entry.pk == item.pk)

    # Open ones first, soonest due first; done ones only when agreed on this item.
    assert [task.title for task in selectors.item_tasks(shown)] == [
        "Earlier, open.",
        "From the playbook",
        "By hand",
        "Agreed, open.",
        "Agreed, done.",
    ]


# --- review notes and action items -----------------------------------------------------


@pytest.fixture
def item(dataset, emails) -> AgendaItem:
    """The first item of the dataset's agenda (not the conftest's one-risk agenda)."""
    agenda = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)
    return AgendaItem.objects.select_related("risk").get(agenda=agenda, position=1)


@pytest.mark.django_db
def test_review_note_appears_on_the_risks_timeline(item, reviewer):
    note = services.review_note_add(user=reviewer, item=item.pk, text="  Exec call Friday. ")

    assert note.text == "Exec call Friday."
    event = TimelineEvent.objects.get(risk=item.risk, kind=TimelineKind.REVIEW_NOTE)
    assert (event.actor, event.text) == (reviewer, "Exec call Friday.")
    assert event.data["agenda"] == item.agenda_id
    assert event.data["item"] == item.pk


@pytest.mark.django_db
def test_action_item_is_a_task_of_the_record_and_on_its_timeline(item, reviewer, manager):
    action = services.action_item_add(
        user=reviewer,
        item=item,
        description="Ship the hotfix.",
        owner=manager,
        department="product",
        due_date="2026-06-10",
    )

    assert isinstance(action, Task)
    assert (action.risk, action.agenda_item, action.source) == (
        item.risk,
        item,
        TaskSource.REVIEW,
    )
    assert (action.title, action.description) == ("Ship the hotfix.", "")
    assert (action.owner, action.department, action.due_date) == (
        manager,
        "product",
        dt.date(2026, 6, 10),
    )
    assert (action.created_by, action.done_at, action.step) == (reviewer, None, None)
    event = TimelineEvent.objects.get(risk=item.risk, kind=TimelineKind.ACTION_ADDED)
    assert (event.actor, event.text, event.at) == (reviewer, "Ship the hotfix.", action.created_at)
    assert event.data == {
        "task": action.pk,
        "owner": manager.pk,
        "department": "product",
        "due_date": "2026-06-10",
        "agenda": item.agenda_id,
        "region": "EMEA",
        "week_start": WEEK.isoformat(),
        "item": item.pk,
    }


@pytest.mark.django_db
def test_a_long_action_gets_its_first_line_as_title_and_keeps_the_whole_text(item, reviewer):
    text = "Send the remediation plan.\nWith the dates Product gave.\n"
    action = services.action_item_add(user=reviewer, item=item, description=text)

    assert action.title == "Send the remediation plan."
    assert action.description == "Send the remediation plan.\nWith the dates Product gave."

    one_line = services.action_item_add(user=reviewer, item=item, description="w" * 250)
    assert (one_line.title, one_line.description) == ("w" * 199 + "\u2026", "w" * 250)


@pytest.mark.django_db
def test_the_timeline_shows_a_multi_line_action_as_written(item, reviewer):
    text = "Send the remediation plan.\nWith the dates Product gave."
    services.action_item_add(user=reviewer, item=item, description=text)

    event = TimelineEvent.objects.get(risk=item.risk, kind=TimelineKind.ACTION_ADDED)
    assert event.text == text


@pytest.mark.django_db
def test_an_action_longer_than_the_limit_is_refused(item, reviewer):
    with pytest.raises(InvalidInput) as refusal:
        services.action_item_add(user=reviewer, item=item, description="x" * 4001)

    assert refusal.value.errors == {
        "description": ["Use at most 4,000 characters (this is 4,001)."]
    }
    assert services.action_item_add(user=reviewer, item=item, description="x" * 4000)


@pytest.mark.django_db
def test_notes_and_actions_are_allowed_on_a_frozen_agenda(item, reviewer):
    services.agenda_generate(region=item.agenda.region, week_start=WEEK, now=MEETING)

    services.review_note_add(user=reviewer, item=item, text="Decided in the meeting.")
    services.action_item_add(user=reviewer, item=item, description="Follow up.")

    assert ReviewNote.objects.count() == Task.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"description": "  "}, "description"),
        ({"description": "Call.", "department": "marketing"}, "department"),
        ({"description": "Call.", "due_date": "next week"}, "due_date"),
        ({"description": "Call.", "due_date": "2026-02-30"}, "due_date"),
        ({"description": "Call.", "owner": "inactive"}, "owner"),
    ],
)
def test_invalid_action_item_is_refused(item, reviewer, kwargs, field):
    if kwargs.get("owner") == "inactive":
        kwargs["owner"] = factories.CsmFactory(username="gone", is_active=False)

    with pytest.raises(InvalidInput) as refusal:
        services.action_item_add(user=reviewer, item=item, **kwargs)

    assert set(refusal.value.errors) == {field}
    assert not Task.objects.exists()
    assert not TimelineEvent.objects.filter(kind=TimelineKind.ACTION_ADDED).exists()


@pytest.mark.django_db
def test_an_action_needs_neither_owner_nor_date(item, reviewer):
    action = services.action_item_add(user=reviewer, item=item, description="Think about it.")

    assert (action.owner, action.department, action.due_date) == (None, "", None)


@pytest.mark.django_db
def test_blank_review_note_is_refused(item, reviewer):
    with pytest.raises(InvalidInput) as refusal:
        services.review_note_add(user=reviewer, item=item, text=" \n ")

    assert "text" in refusal.value.errors
    assert not ReviewNote.objects.exists()


@pytest.mark.django_db
def test_marking_an_action_done_and_open_again(item, reviewer):
    action = services.action_item_add(user=reviewer, item=item, description="Call.")

    done = risk_services.task_set_done(user=reviewer, task=action.pk, done=True)
    assert done.done_at is not None and done.done_by == reviewer
    reopened = risk_services.task_set_done(user=reviewer, task=action, done=False)
    assert (reopened.done_at, reopened.done_by) == (None, None)
    assert list(
        TimelineEvent.objects.filter(risk=item.risk)
        .order_by("at", "id")
        .values_list("kind", flat=True)
    ) == [TimelineKind.ACTION_ADDED, TimelineKind.TASK_DONE, TimelineKind.TASK_REOPENED]


# --- permissions ---------------------------------------------------------------------------


def people(region) -> dict:
    apac = factories.RegionFactory(code="APAC", timezone="Asia/Singapore")
    return {
        "csm": factories.CsmFactory(username="p-csm", region=region),
        "reviewer": factories.ReviewerFactory(username="p-reviewer", region=region),
        "manager": factories.ManagerFactory(username="p-manager", region=region),
        "admin": factories.AdminFactory(username="p-admin"),
        "other_reviewer": factories.ReviewerFactory(username="p-other-reviewer", region=apac),
        "other_manager": factories.ManagerFactory(username="p-other-manager", region=apac),
    }


REVIEW_TABLE = {
    "csm": False,
    "reviewer": True,
    "manager": True,
    "admin": True,
    "other_reviewer": False,
    "other_manager": False,
}
GENERATE_TABLE = {
    "csm": False,
    "reviewer": False,
    "manager": True,
    "admin": True,
    "other_reviewer": False,
    "other_manager": False,  # managers generate only for their own region
}


@pytest.mark.django_db
@pytest.mark.parametrize("who", REVIEW_TABLE)
@pytest.mark.parametrize(
    "act",
    [
        lambda user, item: services.review_note_add(user=user, item=item, text="Hm."),
        lambda user, item: services.action_item_add(user=user, item=item, description="Do."),
    ],
    ids=["note", "action"],
)
def test_who_may_write_notes_and_actions(region, item, who, act: Callable):
    user = people(region)[who]

    if REVIEW_TABLE[who]:
        act(user, item)
        assert TimelineEvent.objects.filter(actor=user).count() == 1
    else:
        with pytest.raises(NotAllowed):
            act(user, item)
        assert not TimelineEvent.objects.filter(actor=user).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", GENERATE_TABLE)
def test_who_may_generate_an_agenda(dataset, emails, who):
    user = people(dataset)[who]

    if GENERATE_TABLE[who]:
        assert services.agenda_generate(region=dataset, week_start=WEEK, user=user, now=NOW)
    else:
        with pytest.raises(NotAllowed):
            services.agenda_generate(region=dataset, week_start=WEEK, user=user, now=NOW)
        assert not Agenda.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", REVIEW_TABLE)
def test_who_may_mark_an_action_done(region, item, reviewer, who):
    """Whoever may write on the review may mark its actions; so may the owner
    (below). ``csm`` here is a CSM of the region who is not the record's."""
    action = services.action_item_add(user=reviewer, item=item, description="Send the plan.")
    user = people(region)[who]

    if REVIEW_TABLE[who]:
        assert risk_services.task_set_done(user=user, task=action, done=True).done_by == user
    else:
        with pytest.raises(NotAllowed):
            risk_services.task_set_done(user=user, task=action, done=True)
        action.refresh_from_db()
        assert action.done_at is None


@pytest.mark.django_db
def test_the_actions_owner_may_mark_it_done_but_another_csm_may_not(region, item, reviewer):
    everyone = people(region)
    owner = everyone["csm"]
    action = services.action_item_add(
        user=reviewer, item=item, description="Send the plan.", owner=owner
    )

    with pytest.raises(NotAllowed):
        risk_services.task_set_done(
            user=factories.CsmFactory(username="stranger", role=Role.CSM, region=region),
            task=action,
            done=True,
        )
    assert risk_services.task_set_done(user=owner, task=action, done=True).done_by == owner


@pytest.mark.django_db
def test_the_records_csm_may_mark_the_reviews_action_done(item, reviewer):
    action = services.action_item_add(user=reviewer, item=item, description="Send the plan.")
    record_csm = item.risk.account.csm

    assert risk_services.task_set_done(user=record_csm, task=action, done=True).is_done


# --- two at once, on real PostgreSQL ---------------------------------------------------------


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("reference_data")
def test_generations_at_once_give_one_agenda_without_duplicate_items(dataset, emails):
    results, errors = run_at_once(
        [
            lambda: services.agenda_generate(region=dataset.pk, week_start=WEEK, now=NOW)
            for _ in range(6)
        ]
    )

    assert errors == []
    assert len({agenda.pk for agenda in results}) == 1
    assert Agenda.objects.count() == 1
    assert layout(Agenda.objects.get()) == EXPECTED
    assert len(emails) == 1


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("reference_data")
def test_a_note_racing_a_refresh_is_never_lost(dataset, emails, reviewer):
    agenda = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)
    leaving = AgendaItem.objects.get(agenda=agenda, risk__account__name="Carried big")
    RiskRecord.objects.filter(pk=leaving.risk_id).update(tier=2)

    _, errors = run_at_once(
        [
            lambda: services.agenda_generate(region=dataset.pk, week_start=WEEK, now=NOW),
            lambda: services.review_note_add(user=reviewer, item=leaving.pk, text="Keep."),
        ]
    )

    # Either the note came first and its item stayed, or the refresh removed
    # the item first and the note was refused: never a note silently dropped.
    if ReviewNote.objects.exists():
        assert errors == []
        assert AgendaItem.objects.filter(pk=leaving.pk).exists()
    else:
        assert len(errors) == 1 and isinstance(errors[0], Conflict)
        assert not AgendaItem.objects.filter(pk=leaving.pk).exists()


# --- admin -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_shows_the_review_read_only_and_refreshes_through_the_service(
    client, dataset, emails, reviewer
):
    from django.urls import reverse

    agenda = services.agenda_generate(region=dataset, week_start=WEEK, now=NOW)
    first = AgendaItem.objects.get(agenda=agenda, position=1)
    services.review_note_add(user=reviewer, item=first, text="Noted.")
    services.action_item_add(user=reviewer, item=first, description="Call.")
    client.force_login(factories.AdminFactory(username="ops", is_superuser=True))

    for model in ("agenda", "reviewnote"):
        assert client.get(reverse(f"admin:reviews_{model}_changelist")).status_code == 200
    assert client.get(reverse("admin:notifications_outboundmessage_changelist")).status_code == 200
    page = client.get(reverse("admin:reviews_agenda_change", args=[agenda.pk]))
    assert page.status_code == 200
    assert "New soon renewal" in page.content.decode()
    assert client.get(reverse("admin:reviews_agenda_add")).status_code == 403

    response = client.post(
        reverse("admin:reviews_agenda_changelist"),
        {"action": "refresh", "_selected_action": [agenda.pk]},
        follow=True,
    )
    assert response.status_code == 200
    # Refreshed now, after this week's meeting (the clock is real): frozen, unchanged.
    assert layout(agenda) == EXPECTED
