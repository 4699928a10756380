"""/api/v1/tasks/ and /api/v1/risks/{id}/tasks/ (docs/api.md): everyone
signed in reads tasks; ``PATCH tasks/{id}/`` marks one done or open again
(``task_set_done``, ``rules.can_mark_task``); ``POST risks/{id}/tasks/`` adds
one by hand (``task_add``, ``rules.can_add_task``)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from risks.models import RiskStatus, Task, TaskSource, TimelineEvent, TimelineKind
from tests import factories

pytestmark = pytest.mark.django_db

FIELDS = [
    "id",
    "risk",
    "title",
    "description",
    "owner",
    "department",
    "due_date",
    "done",
    "done_at",
    "done_by",
    "overdue",
    "record_closed",
    "source",
    "step",
    "agenda_item",
    "created_by",
    "created_at",
]


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def url(pk: int | None = None) -> str:
    return "/api/v1/tasks/" if pk is None else f"/api/v1/tasks/{pk}/"


def risk_tasks_url(risk_id: int) -> str:
    return f"/api/v1/risks/{risk_id}/tasks/"


def titles(response) -> list[str]:
    return [row["title"] for row in response.json()["results"]]


def days(n: int) -> dt.date:
    """The day ``n`` days from today (before it when negative)."""
    return timezone.localdate() + dt.timedelta(days=n)


@pytest.fixture
def risk(account, low_usage):
    return factories.RiskRecordFactory(account=account, primary_cause=low_usage)


@pytest.fixture
def closed_risk(csm, region, low_usage):
    account = factories.AccountFactory(csm=csm, region=region)
    return factories.RiskRecordFactory(
        account=account,
        primary_cause=low_usage,
        status=RiskStatus.SAVED,
        closed_at=timezone.now(),
        arr_retained=account.arr,
    )


@pytest.fixture
def other_team_risk(other_csm, region, low_usage):
    account = factories.AccountFactory(csm=other_csm, region=region)
    return factories.RiskRecordFactory(account=account, primary_cause=low_usage)


# --- reading -------------------------------------------------------------------------------


def test_task_is_represented_with_exactly_the_fields_of_the_design(reviewer, csm, risk):
    task = factories.TaskFactory(
        risk=risk, title="Call the sponsor", description="About the renewal.", due_date=days(-1)
    )

    response = client_for(reviewer).get(url(task.pk))

    assert response.status_code == 200
    body = response.json()
    assert list(body) == FIELDS
    assert body == {
        "id": task.pk,
        "risk": risk.pk,
        "title": "Call the sponsor",
        "description": "About the renewal.",
        "owner": csm.pk,
        "department": "",
        "due_date": days(-1).isoformat(),
        "done": False,
        "done_at": None,
        "done_by": None,
        "overdue": True,
        "record_closed": False,
        "source": "manual",
        "step": None,
        "agenda_item": None,
        "created_by": csm.pk,
        "created_at": body["created_at"],
    }


def test_list_is_overdue_first_then_open_by_due_date_then_done(csm, risk):
    factories.TaskFactory(risk=risk, title="done early", due_date=days(-9), done_at=timezone.now())
    factories.TaskFactory(risk=risk, title="open later", due_date=days(9))
    factories.TaskFactory(risk=risk, title="open no date", due_date=None)
    factories.TaskFactory(risk=risk, title="overdue recent", due_date=days(-1))
    factories.TaskFactory(risk=risk, title="open today", due_date=days(0))
    factories.TaskFactory(risk=risk, title="overdue old", due_date=days(-5))

    response = client_for(csm).get(url())

    assert response.status_code == 200
    assert titles(response) == [
        "overdue old",
        "overdue recent",
        "open today",
        "open later",
        "open no date",
        "done early",
    ]


def test_tasks_of_closed_records_are_left_out_unless_asked_for(csm, risk, closed_risk):
    factories.TaskFactory(risk=risk, title="on the open record")
    factories.TaskFactory(risk=closed_risk, title="on the closed record")
    client = client_for(csm)

    assert titles(client.get(url())) == ["on the open record"]
    assert titles(client.get(url(), {"include_closed": "false"})) == ["on the open record"]
    assert set(titles(client.get(url(), {"include_closed": "true"}))) == {
        "on the open record",
        "on the closed record",
    }
    # Naming the record shows its tasks, closed or not, unless told otherwise.
    closed = client.get(url(), {"risk": closed_risk.pk})
    assert titles(closed) == ["on the closed record"]
    assert closed.json()["results"][0]["record_closed"] is True
    assert titles(client.get(url(), {"risk": closed_risk.pk, "include_closed": "false"})) == []


@pytest.fixture
def task_world(csm, manager, other_csm, reviewer, risk, other_team_risk, other_region):
    """One task per filter to tell apart, on open records of EMEA and NA."""
    na_account = factories.AccountFactory(
        csm=factories.CsmFactory(username="nick", region=other_region), region=other_region
    )
    na_risk = factories.RiskRecordFactory(account=na_account)
    factories.TaskFactory(risk=risk, title="carl's overdue", due_date=days(-2))
    factories.TaskFactory(risk=risk, title="carl's done", done_at=timezone.now(), done_by=csm)
    factories.TaskFactory(risk=risk, title="maria's", owner=manager, source=TaskSource.REVIEW)
    factories.TaskFactory(
        risk=risk, title="product's", owner=None, department="product", due_date=days(-3)
    )
    factories.TaskFactory(
        risk=risk, title="product's with rita", owner=reviewer, department="product"
    )
    factories.TaskFactory(risk=na_risk, title="NA product's", owner=None, department="product")
    factories.TaskFactory(
        risk=other_team_risk, title="olga's", owner=other_csm, source=TaskSource.PLAYBOOK
    )


ALL = {
    "carl's overdue",
    "carl's done",
    "maria's",
    "product's",
    "product's with rita",
    "NA product's",
    "olga's",
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ALL),
        ({"owner": "carl"}, {"carl's overdue", "carl's done"}),
        ({"department": "product"}, {"product's", "product's with rita", "NA product's"}),
        ({"source": "review"}, {"maria's"}),
        ({"source": "playbook"}, {"olga's"}),
        ({"overdue": "true"}, {"carl's overdue", "product's"}),
        ({"overdue": "false"}, ALL - {"carl's overdue", "product's"}),
        ({"done": "true"}, {"carl's done"}),
        ({"done": "false"}, ALL - {"carl's done"}),
        ({"risk": "olga"}, {"olga's"}),
        ({"owner": "carl", "done": "false"}, {"carl's overdue"}),
    ],
)
def test_each_filter_selects_the_matching_tasks(
    csm, other_csm, other_team_risk, task_world, params, expected
):
    ids = {"carl": csm.pk, "olga": other_team_risk.pk}
    params = {name: ids.get(value, value) for name, value in params.items()}

    response = client_for(csm).get(url(), params)

    assert response.status_code == 200
    assert set(titles(response)) == expected


@pytest.mark.parametrize(
    ("who", "mine"),
    [
        ("csm", {"carl's overdue", "carl's done"}),
        ("manager", {"maria's"}),
        # A product reviewer in EMEA: their own, and product's tasks with no owner in EMEA.
        ("reviewer", {"product's", "product's with rita"}),
        ("admin_user", set()),
    ],
)
def test_mine_is_the_requesters_own_tasks(request, task_world, who, mine):
    client = client_for(request.getfixturevalue(who))

    assert set(titles(client.get(url(), {"mine": "true"}))) == mine
    assert set(titles(client.get(url(), {"mine": "false"}))) == ALL - mine


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"overdue": "perhaps"}, "overdue"),
        ({"done": "yes"}, "done"),
        ({"mine": "1"}, "mine"),
        ({"include_closed": "maybe"}, "include_closed"),
        ({"owner": "999999"}, "owner"),
        ({"owner": "carl"}, "owner"),
        ({"risk": "999999"}, "risk"),
        ({"department": "legal"}, "department"),
        ({"source": "email"}, "source"),
    ],
)
def test_invalid_filter_values_are_400_on_the_parameter(csm, params, field):
    response = client_for(csm).get(url(), params)

    assert response.status_code == 400
    assert field in response.json()


def test_a_task_of_a_closed_record_is_found_by_its_own_url(csm, closed_risk):
    task = factories.TaskFactory(risk=closed_risk)

    response = client_for(csm).get(url(task.pk))

    assert response.status_code == 200
    assert response.json()["record_closed"] is True


def test_unknown_task_is_404(csm):
    assert client_for(csm).get(url(999999)).status_code == 404
    assert client_for(csm).patch(url(999999), {"done": True}).status_code == 404


def test_tasks_are_not_created_replaced_or_deleted_here(admin_user, risk):
    task = factories.TaskFactory(risk=risk)
    client = client_for(admin_user)

    assert client.post(url(), {"risk": risk.pk, "title": "x"}).status_code == 405
    assert client.put(url(task.pk), {"done": True}).status_code == 405
    assert client.delete(url(task.pk)).status_code == 405
    assert Task.objects.filter(pk=task.pk, done_at__isnull=True).count() == 1


# --- marking done ------------------------------------------------------------------------------


def test_the_owner_marks_a_task_done_and_open_again_on_the_timeline(csm, risk):
    task = factories.TaskFactory(risk=risk, title="Send the plan", due_date=days(-1))
    client = client_for(csm)

    done = client.patch(url(task.pk), {"done": True})

    assert done.status_code == 200
    assert (done.json()["done"], done.json()["done_by"], done.json()["overdue"]) == (
        True,
        csm.pk,
        False,
    )
    task.refresh_from_db()
    assert task.done_by == csm and task.done_at is not None

    reopened = client.patch(url(task.pk), {"done": False})

    assert reopened.status_code == 200
    assert (reopened.json()["done"], reopened.json()["done_at"], reopened.json()["overdue"]) == (
        False,
        None,
        True,
    )
    events = list(
        TimelineEvent.objects.filter(risk=risk).order_by("id").values_list("kind", "text")
    )
    assert events[-2:] == [
        (TimelineKind.TASK_DONE, "Send the plan"),
        (TimelineKind.TASK_REOPENED, "Send the plan"),
    ]


def test_marking_a_done_task_done_again_changes_nothing(csm, risk):
    task = factories.TaskFactory(risk=risk)
    client = client_for(csm)
    client.patch(url(task.pk), {"done": True})
    first = Task.objects.get(pk=task.pk).done_at

    response = client.patch(url(task.pk), {"done": True})

    assert response.status_code == 200
    assert Task.objects.get(pk=task.pk).done_at == first
    assert TimelineEvent.objects.filter(risk=risk, kind=TimelineKind.TASK_DONE).count() == 1


def test_a_task_of_a_closed_record_can_still_be_finished(csm, closed_risk):
    task = factories.TaskFactory(risk=closed_risk)

    response = client_for(csm).patch(url(task.pk), {"done": True})

    assert response.status_code == 200
    assert response.json()["done"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "done"),
        ({"done": "perhaps"}, "done"),
        ({"done": None}, "done"),
        ({"done": True, "title": "Renamed"}, "title"),
        ({"done": True, "due_date": "2030-01-01"}, "due_date"),
    ],
)
def test_a_patch_other_than_done_is_400_on_the_field(csm, risk, body, field):
    task = factories.TaskFactory(risk=risk, title="Kept")

    response = client_for(csm).patch(url(task.pk), body)

    assert response.status_code == 400
    assert field in response.json()
    task.refresh_from_db()
    assert (task.title, task.done_at) == ("Kept", None)


def test_csm_cannot_patch_another_teams_task(csm, other_team_risk):
    task = factories.TaskFactory(risk=other_team_risk)

    response = client_for(csm).patch(url(task.pk), {"done": True})

    assert response.status_code == 403
    assert "Only the task's owner" in response.json()["detail"]
    task.refresh_from_db()
    assert task.done_at is None


def test_a_task_given_to_someone_else_may_be_ticked_by_that_owner(csm, other_csm, risk):
    task = factories.TaskFactory(risk=risk, owner=other_csm)
    assert client_for(other_csm).patch(url(task.pk), {"done": True}).status_code == 200


@pytest.mark.parametrize(
    ("department", "reviewer_region", "expected"),
    [
        ("product", "EMEA", 200),  # the department's reviewer in the account's region
        ("support", "EMEA", 403),  # another department's task
        ("product", "NA", 403),  # the department's reviewer in another region
    ],
)
def test_a_departments_task_is_ticked_by_that_departments_reviewers_of_the_region(
    risk, other_region, department, reviewer_region, expected
):
    task = factories.TaskFactory(risk=risk, owner=None, department=department)
    region = risk.account.region if reviewer_region == "EMEA" else other_region
    reviewer = factories.ReviewerFactory(username="pat", department="product", region=region)

    response = client_for(reviewer).patch(url(task.pk), {"done": True})

    assert response.status_code == expected
    task.refresh_from_db()
    assert (task.done_at is not None) is (expected == 200)


def test_a_task_agreed_in_the_review_is_ticked_by_the_regions_reviewers(reviewer, risk):
    review_task = factories.TaskFactory(risk=risk, source=TaskSource.REVIEW)
    manual_task = factories.TaskFactory(risk=risk, source=TaskSource.MANUAL)
    client = client_for(reviewer)

    assert client.patch(url(review_task.pk), {"done": True}).status_code == 200
    assert client.patch(url(manual_task.pk), {"done": True}).status_code == 403


# --- adding a task to a record -------------------------------------------------------------------

NEW_TASK = {
    "title": "Book the training",
    "description": "Two sessions for the new admins.",
    "department": "professional_services",
}


def test_the_csm_adds_a_task_to_their_record(csm, risk):
    body = {**NEW_TASK, "owner": csm.pk, "due_date": days(10).isoformat()}

    response = client_for(csm).post(risk_tasks_url(risk.pk), body)

    assert response.status_code == 201
    task = Task.objects.get()
    assert response.json() == {
        "id": task.pk,
        "risk": risk.pk,
        "title": "Book the training",
        "description": "Two sessions for the new admins.",
        "owner": csm.pk,
        "department": "professional_services",
        "due_date": days(10).isoformat(),
        "done": False,
        "done_at": None,
        "done_by": None,
        "overdue": False,
        "record_closed": False,
        "source": "manual",
        "step": None,
        "agenda_item": None,
        "created_by": csm.pk,
        "created_at": response.json()["created_at"],
    }
    event = TimelineEvent.objects.get(risk=risk, kind=TimelineKind.TASK_ADDED)
    assert event.data["task"] == task.pk and event.actor == csm


def test_a_department_alone_is_enough_as_the_keeper(manager, risk):
    body = {"title": "Check the invoices", "department": "finance", "due_date": "2030-01-31"}

    response = client_for(manager).post(risk_tasks_url(risk.pk), body)

    assert response.status_code == 201
    assert (response.json()["owner"], response.json()["department"]) == (None, "finance")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"due_date": None}, "due_date"),
        ({"due_date": "next week"}, "due_date"),
        ({"due_date": "0999-01-01"}, "due_date"),
        ({"owner": None, "department": ""}, "owner"),
        ({"owner": 999999}, "owner"),
        ({"owner": "carl"}, "owner"),
        ({"department": "legal"}, "department"),
        ({"description": "d" * 4001}, "description"),
    ],
)
def test_an_invalid_task_is_400_on_the_field(csm, risk, change, field):
    body = {"title": "Call", "owner": csm.pk, "due_date": days(3).isoformat(), **change}

    response = client_for(csm).post(risk_tasks_url(risk.pk), body)

    assert response.status_code == 400
    assert field in response.json()
    assert not Task.objects.exists()


def test_a_missing_due_date_is_400_on_due_date(csm, risk):
    response = client_for(csm).post(risk_tasks_url(risk.pk), {"title": "Call", "owner": csm.pk})

    assert response.status_code == 400
    assert list(response.json()) == ["due_date"]


def test_an_inactive_owner_is_400_on_owner(csm, other_csm, risk):
    other_csm.is_active = False
    other_csm.save()
    body = {"title": "Call", "owner": other_csm.pk, "due_date": days(3).isoformat()}

    response = client_for(csm).post(risk_tasks_url(risk.pk), body)

    assert response.status_code == 400
    assert list(response.json()) == ["owner"]


def test_a_closed_record_takes_no_new_tasks(csm, closed_risk):
    body = {"title": "Call", "owner": csm.pk, "due_date": days(3).isoformat()}

    response = client_for(csm).post(risk_tasks_url(closed_risk.pk), body)

    assert response.status_code == 409
    assert "closed" in response.json()["detail"]
    assert not Task.objects.exists()


def test_another_teams_csm_cannot_add_a_task(other_csm, risk):
    body = {"title": "Call", "owner": other_csm.pk, "due_date": days(3).isoformat()}

    response = client_for(other_csm).post(risk_tasks_url(risk.pk), body)

    assert response.status_code == 403
    assert not Task.objects.exists()


def test_adding_a_task_to_an_unknown_record_is_404(csm):
    body = {"title": "Call", "owner": csm.pk, "due_date": days(3).isoformat()}
    assert client_for(csm).post(risk_tasks_url(999999), body).status_code == 404


def test_a_records_tasks_are_listed_overdue_first_closed_or_not(reviewer, closed_risk, risk):
    factories.TaskFactory(risk=closed_risk, title="done", done_at=timezone.now())
    factories.TaskFactory(risk=closed_risk, title="later", due_date=days(4))
    factories.TaskFactory(risk=closed_risk, title="overdue", due_date=days(-4))
    factories.TaskFactory(risk=risk, title="another record's")

    response = client_for(reviewer).get(risk_tasks_url(closed_risk.pk))

    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert titles(response) == ["overdue", "later", "done"]


def test_the_records_task_list_ignores_the_risk_list_filters(csm, risk):
    factories.TaskFactory(risk=risk, title="mine")

    response = client_for(csm).get(risk_tasks_url(risk.pk), {"status": "churned", "tier": 3})

    assert titles(response) == ["mine"]


# --- permission table -------------------------------------------------------------------------

ROLES = ["anonymous", "csm", "other_csm", "manager", "reviewer", "admin"]
SIGNED_IN = set(ROLES) - {"anonymous"}
WORKS_ON_THE_RECORD = {"csm", "manager", "admin"}  # the account's CSM, their manager, admins
NOBODY: set[str] = set()

# (cell, allowed roles, status when allowed, status for the other signed-in roles).
# The task is the CSM's own, added by hand, on their team's open record.
CELLS = [
    ("list", SIGNED_IN, 200, 403),
    ("retrieve", SIGNED_IN, 200, 403),
    ("patch_done", WORKS_ON_THE_RECORD, 200, 403),
    ("put", NOBODY, None, 405),
    ("delete", NOBODY, None, 405),
    ("post_tasks", NOBODY, None, 405),
    ("record_list", SIGNED_IN, 200, 403),
    ("record_add", WORKS_ON_THE_RECORD, 201, 403),
]


@pytest.fixture
def people(csm, other_csm, manager, reviewer, admin_user):
    return {
        "anonymous": None,
        "csm": csm,
        "other_csm": other_csm,
        "manager": manager,
        "reviewer": reviewer,
        "admin": admin_user,
    }


def _call(client: APIClient, cell: str, task: Task) -> int:
    new = {"title": "New", "owner": task.owner_id, "due_date": days(5).isoformat()}
    calls = {
        "list": lambda: client.get(url()),
        "retrieve": lambda: client.get(url(task.pk)),
        "patch_done": lambda: client.patch(url(task.pk), {"done": True}),
        "put": lambda: client.put(url(task.pk), {"done": True}),
        "delete": lambda: client.delete(url(task.pk)),
        "post_tasks": lambda: client.post(url(), {**new, "risk": task.risk_id}),
        "record_list": lambda: client.get(risk_tasks_url(task.risk_id)),
        "record_add": lambda: client.post(risk_tasks_url(task.risk_id), new),
    }
    return calls[cell]().status_code


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("cell", "allowed", "status", "refused"), CELLS, ids=[cell[0] for cell in CELLS]
)
def test_permission_table(people, risk, role, cell, allowed, status, refused):
    task = factories.TaskFactory(risk=risk, title="Unchanged")
    if role == "anonymous":
        expected = 401
    elif role in allowed:
        expected = status
    else:
        expected = refused

    assert _call(client_for(people[role]), cell, task) == expected

    if expected >= 400:
        assert list(Task.objects.values_list("pk", "title", "done_at")) == [
            (task.pk, "Unchanged", None)
        ]


# --- query counts ----------------------------------------------------------------------------


@pytest.fixture
def many_tasks(csm, risk, reviewer):
    Task.objects.bulk_create(
        Task(
            risk=risk,
            title=f"Task {n}",
            owner=csm if n % 2 else None,
            department="" if n % 2 else "product",
            due_date=days(n - 50),
            done_at=timezone.now() if n % 7 == 0 else None,
            done_by=csm if n % 7 == 0 else None,
            source=TaskSource.MANUAL,
            created_by=csm,
        )
        for n in range(120)
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 2),  # count, page
        ({"mine": "true", "overdue": "true", "done": "false", "source": "manual"}, 2),
        ({"owner": "csm", "done": "false"}, 3),  # + the owner of the filter
        ({"risk": "risk", "include_closed": "true"}, 3),  # + the record of the filter
    ],
)
def test_task_list_costs_the_same_queries_for_1_and_100_rows(
    csm, risk, many_tasks, django_assert_num_queries, params, expected
):
    ids = {"csm": csm.pk, "risk": risk.pk}
    params = {name: ids.get(value, value) for name, value in params.items()}
    client = client_for(csm)
    with django_assert_num_queries(expected):
        small = client.get(url(), {**params, "page_size": 1})
    with django_assert_num_queries(expected):
        large = client.get(url(), {**params, "page_size": 100})

    assert small.status_code == large.status_code == 200
    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) > 1


def test_a_records_task_list_costs_the_same_queries_for_1_and_100_rows(
    csm, risk, many_tasks, django_assert_num_queries
):
    client = client_for(csm)
    # the record, count, page
    with django_assert_num_queries(3):
        small = client.get(risk_tasks_url(risk.pk), {"page_size": 1})
    with django_assert_num_queries(3):
        large = client.get(risk_tasks_url(risk.pk), {"page_size": 100})

    assert len(small.json()["results"]) == 1
    assert len(large.json()["results"]) == 100
