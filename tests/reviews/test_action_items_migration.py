"""The migration that turns the weekly review's action items into tasks
(reviews 0005, then 0006 drops the model), on PostgreSQL with the historical
models: every action item becomes a task with the same id and the same facts,
the timeline is untouched and its action ids still name the same commitment,
the id sequence goes on after the highest id, and migrating back restores the
action items.

These tests move the real test database between migration states, so they run
on a transactional database and always migrate it back to the latest state."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from reviews import services as review_services
from reviews.models import AgendaItem
from risks.models import RiskRecord, Task, TaskSource, TimelineEvent, TimelineKind
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True)]

BEFORE = [
    ("reviews", "0004_move_outbound_email_to_notifications"),
    ("risks", "0007_root_cause_code_help"),
]
UTC = dt.UTC
CREATED = dt.datetime(2026, 10, 7, 15, 30, tzinfo=UTC)

LONG_LINE = "Ship the export fix " + "x" * 300
LONG_LINES = "Investigate why " + "y" * 250 + "\nSecond line.\n\n- the third"
TWO_HUNDRED = "z" * 200
# The texts the review wrote, with the (title, description) each task must get,
# worked out by hand: a title is at most 200 characters, a cut one ends in an
# ellipsis, and anything but one short line keeps its whole text as description.
TEXTS = [
    (
        "Send the remediation plan.\nInclude the dates Product gave.\n- owner: the CSM",
        "Send the remediation plan.",
        "Send the remediation plan.\nInclude the dates Product gave.\n- owner: the CSM",
    ),
    (LONG_LINE, "Ship the export fix " + "x" * 179 + "\u2026", LONG_LINE),
    (LONG_LINES, "Investigate why " + "y" * 183 + "\u2026", LONG_LINES),
    (TWO_HUNDRED, TWO_HUNDRED, ""),
]


def migrate(targets):
    """Migrate the test database to ``targets``; the apps (historical models) there."""
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.fixture
def at_the_latest_afterwards(transactional_db):
    """Whatever happens in the test, the database ends at the latest migrations
    (before pytest-django empties it for the next test)."""
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    yield
    migrate(latest)
    assert not MigrationExecutor(connection).migration_plan(latest)


def build_old_world(apps) -> dict:
    """Agendas of three regions with 36 action items covering every combination
    of owner (none, the CSM, the reviewer), department (none, product, finance),
    due date (none, a day) and done, plus the timeline events the review wrote."""
    RootCause = apps.get_model("risks", "RootCause")
    RiskRecord = apps.get_model("risks", "RiskRecord")
    TimelineEvent = apps.get_model("risks", "TimelineEvent")
    Agenda = apps.get_model("reviews", "Agenda")
    AgendaItem = apps.get_model("reviews", "AgendaItem")
    ActionItem = apps.get_model("reviews", "ActionItem")
    ReviewNote = apps.get_model("reviews", "ReviewNote")

    cause = RootCause.objects.create(
        code="low-usage-m", name="Low usage", category="adoption", description="d"
    )
    regions = {
        "EMEA": ("Europe/Berlin", [dt.date(2026, 10, 5), dt.date(2026, 10, 12)], 2),
        "NA": ("America/New_York", [dt.date(2026, 10, 5)], 2),
        "APAC": ("Asia/Singapore", [dt.date(2026, 10, 12)], 1),
    }
    items = []
    people = {}
    for code, (zone, weeks, risk_count) in regions.items():
        region = factories.RegionFactory(code=code, timezone=zone)
        manager = factories.ManagerFactory(username=f"{code.lower()}-manager", region=region)
        csm = factories.CsmFactory(username=f"{code.lower()}-csm", manager=manager, region=region)
        reviewer = factories.ReviewerFactory(username=f"{code.lower()}-reviewer", region=region)
        people[code] = {"csm": csm, "reviewer": reviewer, "manager": manager}
        risks = []
        for n in range(risk_count):
            account = factories.AccountFactory(csm=csm, region=region, name=f"{code} customer {n}")
            risk = RiskRecord.objects.create(
                account_id=account.pk,
                primary_cause_id=cause.pk,
                tier=3,
                max_tier=3,
                status="open",
                summary="Usage halved.",
                next_steps="Call.",
                arr_at_risk=account.arr,
                opened_by_id=csm.pk,
                opened_at=CREATED - dt.timedelta(days=40),
                tier_changed_at=CREATED - dt.timedelta(days=20),
            )
            TimelineEvent.objects.create(
                risk_id=risk.pk,
                kind="opened",
                actor_id=csm.pk,
                at=risk.opened_at,
                text="Usage halved.",
                data={"tier": 1, "primary_cause": cause.code},
            )
            risks.append(risk)
        for week in weeks:
            agenda = Agenda.objects.create(
                region_id=region.pk,
                week_start=week,
                meeting_at=dt.datetime.combine(week + dt.timedelta(days=2), dt.time(13), UTC),
                status="held",
                generated_at=CREATED - dt.timedelta(days=8),
            )
            for position, risk in enumerate(risks, start=1):
                item = AgendaItem.objects.create(
                    agenda_id=agenda.pk, risk_id=risk.pk, section="carried_over", position=position
                )
                items.append((item, agenda, code, risk))
    first_item = items[0][0]
    ReviewNote.objects.create(
        item_id=first_item.pk, author_id=people["EMEA"]["reviewer"].pk, text="n"
    )

    expected = []
    combinations = itertools.product(
        [None, "csm", "reviewer"],
        ["", "product", "finance"],
        [None, dt.date(2026, 10, 30)],
        [False, True],
    )
    for number, (owner_key, department, due_date, done) in enumerate(combinations):
        item, agenda, code, risk = items[number % len(items)]
        if number < len(TEXTS):
            text, title, description = TEXTS[number]
        else:
            text = title = f"Action {number}: call the sponsor."
            description = ""
        owner = people[code][owner_key] if owner_key else None
        author = people[code]["reviewer" if number % 2 else "manager"]
        created_at = CREATED + dt.timedelta(hours=number)
        done_at = created_at + dt.timedelta(days=2) if done else None
        action = ActionItem.objects.create(
            item_id=item.pk,
            description=text,
            owner_id=owner.pk if owner else None,
            department=department,
            due_date=due_date,
            done=done,
            done_at=done_at,
            created_by_id=author.pk,
            created_at=created_at,
        )
        TimelineEvent.objects.create(
            risk_id=risk.pk,
            kind="action_added",
            actor_id=author.pk,
            at=created_at,
            text=text,
            data={
                "agenda": agenda.pk,
                "region": code,
                "week_start": agenda.week_start.isoformat(),
                "item": item.pk,
                "action": action.pk,
                "owner": owner.pk if owner else None,
                "department": department,
                "due_date": due_date.isoformat() if due_date else None,
            },
        )
        expected.append(
            {
                "id": action.pk,
                "risk": risk.pk,
                "agenda_item": item.pk,
                "text": text,
                "title": title,
                "description": description,
                "owner": owner.pk if owner else None,
                "department": department,
                "due_date": due_date,
                "done_at": done_at,
                "created_by": author.pk,
                "created_at": created_at,
            }
        )
    return {"expected": expected, "people": people}


EVENT_FIELDS = ("id", "risk_id", "kind", "actor_id", "at", "text", "data")


def events(model) -> list[tuple]:
    return list(model.objects.order_by("id").values_list(*EVENT_FIELDS))


def old_rows(apps) -> list[dict]:
    ActionItem = apps.get_model("reviews", "ActionItem")
    return [
        {
            "id": action.pk,
            "agenda_item": action.item_id,
            "text": action.description,
            "owner": action.owner_id,
            "department": action.department,
            "due_date": action.due_date,
            "done": action.done,
            "done_at": action.done_at,
            "created_by": action.created_by_id,
            "created_at": action.created_at,
        }
        for action in ActionItem.objects.order_by("pk")
    ]


def expected_old_rows(expected: list[dict]) -> list[dict]:
    keys = ("id", "agenda_item", "text", "owner", "department", "due_date", "done_at")
    return [
        {
            **{key: row[key] for key in keys},
            "done": row["done_at"] is not None,
            "created_by": row["created_by"],
            "created_at": row["created_at"],
        }
        for row in expected
    ]


def test_action_items_become_tasks_with_the_same_ids_and_facts(at_the_latest_afterwards):
    old = migrate(BEFORE)
    world = build_old_world(old)
    expected = world["expected"]
    assert len(expected) == 36
    events_before = events(old.get_model("risks", "TimelineEvent"))
    assert old_rows(old) == expected_old_rows(expected)

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    tasks = list(Task.objects.order_by("pk"))
    assert [task.pk for task in tasks] == [row["id"] for row in expected]
    for task, row in zip(tasks, expected, strict=True):
        assert {
            "id": task.pk,
            "risk": task.risk_id,
            "agenda_item": task.agenda_item_id,
            "text": row["text"],
            "title": task.title,
            "description": task.description,
            "owner": task.owner_id,
            "department": task.department,
            "due_date": task.due_date,
            "done_at": task.done_at,
            "created_by": task.created_by_id,
            "created_at": task.created_at,
        } == row
        assert (task.source, task.step_id, task.done_by_id) == (TaskSource.REVIEW, None, None)
        assert len(task.title) <= 200
    # Every combination made it: done and open, with and without owner, department, date.
    assert sum(task.done_at is not None for task in tasks) == 18
    assert sum(task.owner_id is None for task in tasks) == 12
    assert sum(task.department == "" for task in tasks) == 12
    assert sum(task.due_date is None for task in tasks) == 18

    # The timeline is exactly as it was, and each action id names its task.
    assert events(TimelineEvent) == events_before
    added = TimelineEvent.objects.filter(kind=TimelineKind.ACTION_ADDED).order_by("id")
    assert added.count() == 36
    for event in added:
        task = Task.objects.get(pk=event.data["action"])
        assert (task.risk_id, task.agenda_item_id) == (event.risk_id, event.data["item"])
        assert (task.owner_id, task.created_at) == (event.data["owner"], event.at)

    # The next task gets the id after the highest one moved (the sequence was reset).
    emea_item = AgendaItem.objects.filter(agenda__region__code="EMEA").order_by("pk").first()
    fresh = review_services.action_item_add(
        user=world["people"]["EMEA"]["reviewer"], item=emea_item, description="A new one."
    )
    assert fresh.pk == max(row["id"] for row in expected) + 1
    manual = factories.TaskFactory(risk=RiskRecord.objects.order_by("pk").first())
    assert manual.pk == fresh.pk + 1


def test_migrating_back_restores_the_action_items(at_the_latest_afterwards):
    old = migrate(BEFORE)
    world = build_old_world(old)
    expected = world["expected"]
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    migrate(latest)
    # After the move: one more action agreed in a review, and a task added by hand.
    emea_item = AgendaItem.objects.filter(agenda__region__code="EMEA").order_by("pk").first()
    reviewer = world["people"]["EMEA"]["reviewer"]
    fresh = review_services.action_item_add(
        user=reviewer,
        item=emea_item,
        description="Agreed after the move.\nWith a second line.",
        department="support",
    )
    factories.TaskFactory(risk=RiskRecord.objects.order_by("pk").first(), title="By hand")

    old = migrate(BEFORE)

    restored = old_rows(old)
    assert restored[:-1] == expected_old_rows(expected)
    assert restored[-1] == {
        "id": fresh.pk,
        "agenda_item": emea_item.pk,
        "text": "Agreed after the move.\nWith a second line.",
        "owner": None,
        "department": "support",
        "due_date": None,
        "done": False,
        "done_at": None,
        "created_by": reviewer.pk,
        "created_at": fresh.created_at,
    }
    # The action items' own sequence goes on after the highest id.
    ActionItem = old.get_model("reviews", "ActionItem")
    newer = ActionItem.objects.create(
        item_id=emea_item.pk, description="Later.", created_by_id=reviewer.pk
    )
    assert newer.pk == fresh.pk + 1
