"""The agendas API (docs/api.md): list and detail with items, generate, the
calendar invite, notes and action items of agenda items (tasks of the record,
shown with the tasks API's fields) — with their permissions, errors and query
counts. Marking a task done is the tasks API's (``tasks/``); the old
``action-items/`` endpoint is gone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from reviews import scheduling, services
from reviews.models import Agenda, AgendaItem, AgendaSection, ReviewNote
from risks import services as risk_services
from risks.models import Task, TaskSource, TimelineEvent, TimelineKind
from tests import factories
from tests.reviews.conftest import tier3_risk

pytestmark = pytest.mark.django_db

AGENDAS = "/api/v1/agendas/"


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


# --- list and detail -------------------------------------------------------------------------


def test_detail_shows_the_agenda_with_items_notes_and_actions(csm, reviewer, agenda, item, risk):
    note = services.review_note_add(user=reviewer, item=item, text="Bring Product in.")
    action = services.action_item_add(
        user=reviewer,
        item=item,
        description="Scope the fix",
        owner=csm,
        department="product",
        due_date=dt.date(2030, 1, 31),
    )
    response = api(csm).get(f"{AGENDAS}{agenda.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == agenda.pk
    assert body["region"] == "EMEA"
    assert body["week_start"] == agenda.week_start.isoformat()
    assert body["status"] == "scheduled"
    assert {"meeting_at", "generated_at"} <= set(body)
    [entry] = body["items"]
    assert entry == {
        "id": item.pk,
        "section": item.section,
        "position": item.position,
        "risk": risk.pk,
        "account_name": risk.account.name,
        "arr_at_risk": "120000.00",
        "renewal_date": risk.account.renewal_date.isoformat(),
        "primary_cause": "low-usage",
        "secondary_cause": "defects",
        "csm": risk.account.csm_id,
        "notes": [
            {
                "id": note.pk,
                "author": reviewer.pk,
                "text": "Bring Product in.",
                "created_at": entry["notes"][0]["created_at"],
            }
        ],
        "actions": [
            {
                "id": action.pk,
                "risk": risk.pk,
                "title": "Scope the fix",
                "description": "",
                "owner": csm.pk,
                "department": "product",
                "due_date": "2030-01-31",
                "done": False,
                "done_at": None,
                "done_by": None,
                "overdue": False,
                "record_closed": False,
                "source": "review",
                "step": None,
                "agenda_item": item.pk,
                "created_by": reviewer.pk,
                "created_at": entry["actions"][0]["created_at"],
            }
        ],
    }
    assert dt.datetime.fromisoformat(entry["actions"][0]["created_at"]) == action.created_at


def test_an_items_actions_include_the_records_other_open_tasks(csm, manager, agenda, item, risk):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    playbook_task = factories.TaskFactory(
        risk=risk, title="From the playbook", source=TaskSource.PLAYBOOK, due_date=yesterday
    )
    done_by_hand = factories.TaskFactory(risk=risk, title="Done by hand")
    risk_services.task_set_done(user=csm, task=done_by_hand, done=True)

    [entry] = api(manager).get(f"{AGENDAS}{agenda.pk}/").json()["items"]

    [shown] = entry["actions"]
    assert (shown["id"], shown["title"], shown["source"]) == (
        playbook_task.pk,
        "From the playbook",
        "playbook",
    )
    assert (shown["agenda_item"], shown["overdue"], shown["done"]) == (None, True, False)


def test_an_action_marked_done_reads_done_with_who_and_when(csm, reviewer, agenda, item):
    action = services.action_item_add(user=reviewer, item=item, description="Send", owner=csm)
    risk_services.task_set_done(user=csm, task=action, done=True)

    [entry] = api(reviewer).get(f"{AGENDAS}{agenda.pk}/").json()["items"]

    [shown] = entry["actions"]
    assert (shown["id"], shown["done"], shown["done_by"]) == (action.pk, True, csm.pk)
    action.refresh_from_db()
    assert dt.datetime.fromisoformat(shown["done_at"]) == action.done_at


def test_list_filters_by_region_code_and_week_start(
    csm, agenda, other_region, other_region_manager, week
):
    other_week = week + dt.timedelta(days=7)  # newest week first
    other = services.agenda_generate(
        region=other_region, week_start=other_week, user=other_region_manager
    )
    client = api(csm)
    assert [a["id"] for a in client.get(AGENDAS).json()["results"]] == [other.pk, agenda.pk]
    assert [a["id"] for a in client.get(AGENDAS, {"region": "EMEA"}).json()["results"]] == [
        agenda.pk
    ]
    by_week = client.get(AGENDAS, {"week_start": week.isoformat()}).json()["results"]
    assert [a["id"] for a in by_week] == [agenda.pk]
    assert client.get(AGENDAS, {"region": "NOPE"}).status_code == 400
    assert client.get(AGENDAS, {"week_start": "soon"}).status_code == 400


def test_reading_needs_sign_in(agenda):
    assert api().get(AGENDAS).status_code == 401
    assert api().get(f"{AGENDAS}{agenda.pk}/").status_code == 401


def test_unknown_agenda_is_404(csm):
    assert api(csm).get(f"{AGENDAS}999999/").status_code == 404


def test_agendas_are_read_only_as_a_resource(manager, agenda):
    client = api(manager)
    assert client.post(AGENDAS, {}).status_code == 405
    assert client.delete(f"{AGENDAS}{agenda.pk}/").status_code == 405
    assert client.patch(f"{AGENDAS}{agenda.pk}/", {}).status_code == 405


def _count(client: APIClient, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(captured)


def _fill_agenda(agenda: Agenda, risks, reviewer, manager) -> None:
    """Items written straight to the database: the count is what is under test."""
    items = AgendaItem.objects.bulk_create(
        AgendaItem(agenda=agenda, risk=risk, section=AgendaSection.CARRIED_OVER, position=n)
        for n, risk in enumerate(risks)
    )
    ReviewNote.objects.bulk_create(ReviewNote(item=i, author=reviewer, text="n") for i in items)
    # Done, so that each item shows its own task only (an open one would show
    # on every item of its record).
    Task.objects.bulk_create(
        Task(
            risk_id=i.risk_id,
            agenda_item=i,
            source=TaskSource.REVIEW,
            title="a",
            owner=manager,
            created_by=reviewer,
            done_at=timezone.now(),
        )
        for i in items
    )


def test_list_costs_the_same_queries_for_page_size_1_and_100(
    csm, region, manager, reviewer, low_usage
):
    risks = [tier3_risk(factories.AccountFactory(region=region), low_usage) for _ in range(3)]
    monday = scheduling.week_start_of(dt.date(2030, 1, 7))
    for n in range(105):
        agenda = Agenda.objects.create(
            region=region,
            week_start=monday + dt.timedelta(weeks=n),
            meeting_at=timezone.now() + dt.timedelta(weeks=n),
        )
        _fill_agenda(agenda, risks, reviewer, manager)
    client = api(csm)
    small = _count(client, AGENDAS, {"page_size": 1})
    large = _count(client, AGENDAS, {"page_size": 100})
    assert small == large
    assert len(client.get(AGENDAS, {"page_size": 100}).json()["results"]) == 100


def test_detail_costs_the_same_queries_for_5_and_30_items(
    csm, region, manager, reviewer, low_usage
):
    risks = [tier3_risk(factories.AccountFactory(region=region), low_usage) for _ in range(30)]
    small_agenda = Agenda.objects.create(
        region=region, week_start=dt.date(2030, 1, 7), meeting_at=timezone.now()
    )
    large_agenda = Agenda.objects.create(
        region=region, week_start=dt.date(2030, 1, 14), meeting_at=timezone.now()
    )
    _fill_agenda(small_agenda, risks[:5], reviewer, manager)
    _fill_agenda(large_agenda, risks, reviewer, manager)
    client = api(csm)
    assert _count(client, f"{AGENDAS}{small_agenda.pk}/") == _count(
        client, f"{AGENDAS}{large_agenda.pk}/"
    )
    assert len(client.get(f"{AGENDAS}{large_agenda.pk}/").json()["items"]) == 30


# --- generate ---------------------------------------------------------------------------------


def test_manager_generates_then_refreshes_idempotently(manager, region, risk, week):
    client = api(manager)
    first = client.post(f"{AGENDAS}generate/", {"region": "EMEA", "week_start": week.isoformat()})
    assert first.status_code == 201
    assert first.json()["week_start"] == week.isoformat()
    assert [entry["risk"] for entry in first.json()["items"]] == [risk.pk]
    # Any day of the week names its week.
    again = client.post(
        f"{AGENDAS}generate/",
        {"region": "EMEA", "week_start": (week + dt.timedelta(days=3)).isoformat()},
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Agenda.objects.count() == 1


def test_generate_defaults_to_the_week_of_the_next_meeting(admin_user, region):
    response = api(admin_user).post(f"{AGENDAS}generate/", {"region": "EMEA"})
    assert response.status_code == 201
    expected, _ = scheduling.next_meeting(region, timezone.now())
    assert response.json()["week_start"] == expected.isoformat()


@pytest.mark.parametrize("role_fixture", ["csm", "reviewer"])
def test_only_managers_and_admins_generate(request, region, week, role_fixture):
    user = request.getfixturevalue(role_fixture)
    response = api(user).post(
        f"{AGENDAS}generate/", {"region": "EMEA", "week_start": week.isoformat()}
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only managers and admins can generate an agenda."
    assert not Agenda.objects.exists()


def test_generate_errors(manager, region):
    client = api(manager)
    assert api().post(f"{AGENDAS}generate/", {"region": "EMEA"}).status_code == 401
    unknown = client.post(f"{AGENDAS}generate/", {"region": "XX"})
    assert unknown.status_code == 400 and "region" in unknown.json()
    assert client.post(f"{AGENDAS}generate/", {}).status_code == 400
    bad_date = client.post(f"{AGENDAS}generate/", {"region": "EMEA", "week_start": "0001-01-01"})
    assert bad_date.status_code == 400 and "week_start" in bad_date.json()
    # A past week: out of reach for people (only the current and next 8 weeks).
    past = scheduling.week_start_of(timezone.localdate()) - dt.timedelta(days=14)
    late = client.post(f"{AGENDAS}generate/", {"region": "EMEA", "week_start": past.isoformat()})
    assert late.status_code == 400
    assert "Choose the current week or one of the next 8" in late.json()["week_start"][0]
    assert not Agenda.objects.exists()


def test_a_manager_generates_only_for_their_own_region(manager, region, week):
    factories.RegionFactory(code="LATAM", timezone="America/Sao_Paulo")

    response = api(manager).post(
        f"{AGENDAS}generate/", {"region": "LATAM", "week_start": week.isoformat()}
    )

    assert response.status_code == 403
    assert "only for their own region" in response.json()["detail"]
    assert not Agenda.objects.exists()


@pytest.mark.parametrize("weeks_ahead", [9, 52, 360000])
def test_far_future_weeks_are_refused_to_everyone(admin_user, region, weeks_ahead):
    this_week = scheduling.week_start_of(timezone.localdate())
    far = this_week + dt.timedelta(weeks=min(weeks_ahead, 300000))

    response = api(admin_user).post(
        f"{AGENDAS}generate/", {"region": "EMEA", "week_start": far.isoformat()}
    )

    assert response.status_code == 400
    assert "week_start" in response.json()
    assert not Agenda.objects.exists()


def test_the_eighth_week_ahead_is_still_in_reach(manager, region):
    eighth = scheduling.week_start_of(timezone.localdate()) + dt.timedelta(weeks=8)

    response = api(manager).post(
        f"{AGENDAS}generate/", {"region": "EMEA", "week_start": eighth.isoformat()}
    )

    assert response.status_code == 201
    assert response.json()["week_start"] == eighth.isoformat()


# --- calendar invite ----------------------------------------------------------------------------


def test_calendar_invite_is_text_calendar(csm, agenda):
    response = api(csm).get(f"{AGENDAS}{agenda.pk}/calendar.ics/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response.content.decode().startswith("BEGIN:VCALENDAR")
    # A client asking for text/calendar gets it (no 406).
    asked = api(csm).get(f"{AGENDAS}{agenda.pk}/calendar.ics/", HTTP_ACCEPT="text/calendar")
    assert asked.status_code == 200


def test_calendar_errors_are_json(csm, agenda):
    missing = api(csm).get(f"{AGENDAS}999999/calendar.ics/", HTTP_ACCEPT="text/calendar")
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("application/json")
    assert api().get(f"{AGENDAS}{agenda.pk}/calendar.ics/").status_code == 401


# --- notes and actions on items -------------------------------------------------------------


def notes_url(item: AgendaItem) -> str:
    return f"/api/v1/agenda-items/{item.pk}/notes/"


def actions_url(item: AgendaItem) -> str:
    return f"/api/v1/agenda-items/{item.pk}/actions/"


@pytest.mark.parametrize(
    ("role_fixture", "expected"),
    [
        ("reviewer", 201),
        ("manager", 201),
        ("other_manager", 201),  # a manager of the same region
        ("admin_user", 201),
        ("csm", 403),
        ("other_reviewer", 403),
        ("other_region_manager", 403),
    ],
)
def test_who_may_add_notes_and_actions(request, item, role_fixture, expected):
    client = api(request.getfixturevalue(role_fixture))
    note = client.post(notes_url(item), {"text": "Seen."})
    assert note.status_code == expected
    action = client.post(actions_url(item), {"description": "Do it."})
    assert action.status_code == expected
    written = expected == 201
    assert ReviewNote.objects.exists() is written
    assert Task.objects.exists() is written


def test_note_is_returned_and_on_the_timeline(reviewer, item):
    response = api(reviewer).post(notes_url(item), {"text": "Bring Product in."})
    assert response.status_code == 201
    body = response.json()
    assert (body["author"], body["text"]) == (reviewer.pk, "Bring Product in.")
    assert TimelineEvent.objects.filter(
        risk=item.risk, kind=TimelineKind.REVIEW_NOTE, text="Bring Product in."
    ).exists()


def test_action_is_returned_and_on_the_timeline(reviewer, csm, item):
    response = api(reviewer).post(
        actions_url(item),
        {
            "description": "Scope it",
            "owner": csm.pk,
            "department": "support",
            "due_date": "2030-02-01",
        },
    )
    assert response.status_code == 201
    body = response.json()
    task = Task.objects.get()
    assert body == {
        "id": task.pk,
        "risk": item.risk_id,
        "title": "Scope it",
        "description": "",
        "owner": csm.pk,
        "department": "support",
        "due_date": "2030-02-01",
        "done": False,
        "done_at": None,
        "done_by": None,
        "overdue": False,
        "record_closed": False,
        "source": "review",
        "step": None,
        "agenda_item": item.pk,
        "created_by": reviewer.pk,
        "created_at": body["created_at"],
    }
    event = TimelineEvent.objects.get(risk=item.risk, kind=TimelineKind.ACTION_ADDED)
    assert event.data["task"] == task.pk


def test_a_multi_line_action_is_titled_by_its_first_line(reviewer, item):
    text = "Scope the export fix.\nProduct names a date by Friday."
    response = api(reviewer).post(actions_url(item), {"description": text})

    assert response.status_code == 201
    assert (response.json()["title"], response.json()["description"]) == (
        "Scope the export fix.",
        text,
    )


def test_note_and_action_errors(reviewer, item):
    client = api(reviewer)
    assert client.post(notes_url(item), {"text": "  "}).json() == {"text": ["Write the note."]}
    assert client.post(notes_url(item), {}).status_code == 400
    blank = client.post(actions_url(item), {"description": ""})
    assert blank.status_code == 400 and "description" in blank.json()
    department = client.post(actions_url(item), {"description": "x", "department": "legal"})
    assert department.status_code == 400 and "department" in department.json()
    inactive = factories.CsmFactory(username="gone", is_active=False)
    owner = client.post(actions_url(item), {"description": "x", "owner": inactive.pk})
    assert owner.status_code == 400 and "owner" in owner.json()
    huge = client.post(actions_url(item), {"description": "x", "owner": 2**70})
    assert huge.status_code == 400
    assert client.post("/api/v1/agenda-items/999999/notes/", {"text": "x"}).status_code == 404
    assert api().post(notes_url(item), {"text": "x"}).status_code == 401
    assert client.get(notes_url(item)).status_code == 405
    assert not ReviewNote.objects.exists() and not Task.objects.exists()


# --- marking an action done ------------------------------------------------------------------


def test_the_old_action_items_endpoint_is_gone(csm, reviewer, item):
    action = services.action_item_add(user=reviewer, item=item, description="Send", owner=csm)

    response = api(csm).patch(f"/api/v1/action-items/{action.pk}/", {"done": True})

    assert response.status_code == 404
    action.refresh_from_db()
    assert action.done_at is None


def test_the_invite_is_served_at_the_path_design_md_names(client, admin_user, other_region):
    agenda = services.agenda_generate(region=other_region)
    client.force_login(admin_user)
    response = client.get(f"/api/v1/agendas/{agenda.pk}/calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response.content.decode().startswith("BEGIN:VCALENDAR")
