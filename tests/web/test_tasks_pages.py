"""Tasks in the pages: a record's tasks (playbook, added by hand, done in
place with htmx and without JavaScript), *My tasks*, and the home pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from risks import services
from risks.models import RiskRecord, RiskStatus, StepOwner, Task, TaskSource, TimelineKind
from tests import factories

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def play(low_usage):
    playbook = factories.PlaybookFactory(name="Low usage play", root_cause=low_usage)
    factories.PlaybookStepFactory(
        playbook=playbook, position=1, title="Usage review with the champion", due_days=3
    )
    factories.PlaybookStepFactory(
        playbook=playbook,
        position=2,
        title="Manager call with the sponsor",
        owner=StepOwner.MANAGER,
        due_days=10,
    )
    factories.PlaybookStepFactory(
        playbook=playbook,
        position=3,
        title="Workaround for the missing report",
        owner=StepOwner.PROFESSIONAL_SERVICES,
        due_days=15,
    )
    return playbook


@pytest.fixture
def risk(csm, account, low_usage, play) -> RiskRecord:
    return services.risk_open(
        user=csm,
        account=account,
        primary_cause=low_usage,
        summary="Usage halved since the champion left.",
        next_steps="Sponsor call on Monday.",
    )


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def task(risk: RiskRecord, title: str) -> Task:
    return Task.objects.get(risk=risk, title=title)


# --- a record's tasks ----------------------------------------------------------------


def test_filing_on_the_web_gives_the_record_its_playbook_tasks(
    client, csm, account, low_usage, play
):
    client.force_login(csm)
    response = client.post(
        reverse("risks:file"),
        {
            "account": account.pk,
            "primary_cause": low_usage.pk,
            "summary": "Logins down 60% since March.",
            "next_steps": "Usage review.",
        },
    )
    assert response.status_code == 302
    risk = RiskRecord.objects.get(account=account)
    page = client.get(reverse("risks:detail", args=[risk.pk])).content.decode()
    for title in (
        "Usage review with the champion",
        "Manager call with the sponsor",
        "Workaround for the missing report",
    ):
        assert title in page
    assert "3 open" in page
    assert "Playbook \u201cLow usage play\u201d: 3 tasks added" in page


def test_the_record_lists_overdue_tasks_first_and_collapses_done_ones(client, csm, risk):
    review = task(risk, "Usage review with the champion")
    late = task(risk, "Workaround for the missing report")
    Task.objects.filter(pk=late.pk).update(due_date=timezone.localdate() - dt.timedelta(days=2))
    services.task_set_done(user=csm, task=review, done=True)
    client.force_login(csm)
    page = client.get(reverse("risks:detail", args=[risk.pk])).content.decode()

    open_part, done_part = page.split('<details class="done-tasks">')
    assert open_part.index("Workaround for the missing report") < open_part.index(
        "Manager call with the sponsor"
    )
    assert "Overdue" in open_part
    assert "Usage review with the champion" not in open_part
    assert "1 done task" in done_part
    assert "Usage review with the champion" in done_part.split("</details>")[0]


def test_a_task_is_ticked_done_without_javascript(client, csm, risk):
    target = task(risk, "Usage review with the champion")
    client.force_login(csm)
    detail = reverse("risks:detail", args=[risk.pk])

    response = client.post(reverse("tasks:done", args=[target.pk]), {"done": "1", "next": detail})

    assert response.status_code == 302
    assert response["Location"] == detail
    target.refresh_from_db()
    assert target.done_at is not None and target.done_by == csm
    assert risk.events.filter(kind=TimelineKind.TASK_DONE).count() == 1
    assert flash(response) == ["Task \u201cUsage review with the champion\u201d marked done."]


def test_a_task_is_ticked_done_in_place_with_htmx(client, csm, risk):
    target = task(risk, "Usage review with the champion")
    client.force_login(csm)

    response = client.post(
        reverse("tasks:done", args=[target.pk]),
        {"done": "1"},
        HTTP_HX_TARGET="risk-tasks",
        **HTMX,
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card tasks-card" id="risk-tasks"')
    assert "2 open · 1 done" in body
    assert 'hx-swap-oob="true"' in body
    assert ">Reopen</button>" in body
    # The form it sends back swaps the same section again next time.
    assert 'hx-target="#risk-tasks"' in body
    target.refresh_from_db()
    assert target.done_at is not None


def test_a_done_task_is_reopened_and_the_timeline_says_so(client, csm, risk):
    target = task(risk, "Usage review with the champion")
    services.task_set_done(user=csm, task=target, done=True)
    client.force_login(csm)

    client.post(reverse("tasks:done", args=[target.pk]), {"done": "0"})

    target.refresh_from_db()
    assert target.done_at is None and target.done_by is None
    assert list(
        risk.events.filter(kind__in=[TimelineKind.TASK_DONE, TimelineKind.TASK_REOPENED])
        .order_by("at", "id")
        .values_list("kind", flat=True)
    ) == [TimelineKind.TASK_DONE, TimelineKind.TASK_REOPENED]


def test_someone_else_cannot_tick_a_task(client, other_csm, risk):
    target = task(risk, "Usage review with the champion")
    client.force_login(other_csm)

    response = client.post(reverse("tasks:done", args=[target.pk]), {"done": "1"})

    assert response.status_code == 403
    target.refresh_from_db()
    assert target.done_at is None


def test_a_next_url_off_the_site_is_ignored(client, csm, risk):
    target = task(risk, "Usage review with the champion")
    client.force_login(csm)
    response = client.post(
        reverse("tasks:done", args=[target.pk]), {"done": "1", "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("risks:detail", args=[risk.pk])


def test_a_task_added_by_hand_needs_a_date_and_an_owner_or_department(client, csm, risk):
    client.force_login(csm)
    url = reverse("risks:task_add", args=[risk.pk])

    response = client.post(url, {"title": "Send the renewal quote", "owner": ""})

    assert response.status_code == 400
    body = response.content.decode()
    assert "Give the date it is due" in body
    assert "Choose an owner or a department." in body
    assert '<details class="action no-print" open>' in body
    assert not Task.objects.filter(title="Send the renewal quote").exists()


def test_a_task_added_by_hand_goes_on_the_record_and_its_timeline(client, csm, manager, risk):
    client.force_login(csm)
    due = timezone.localdate() + dt.timedelta(days=4)
    response = client.post(
        reverse("risks:task_add", args=[risk.pk]),
        {
            "title": "Send the renewal quote",
            "description": "With the 10% multi-year discount.",
            "owner": manager.pk,
            "due_date": due.isoformat(),
        },
    )
    assert response.status_code == 302
    added = Task.objects.get(title="Send the renewal quote")
    assert (added.owner, added.due_date, added.source) == (manager, due, TaskSource.MANUAL)
    assert risk.events.filter(kind=TimelineKind.TASK_ADDED, data__task=added.pk).exists()


def test_the_add_task_form_is_not_offered_to_a_reviewer(client, reviewer, risk):
    client.force_login(reviewer)
    page = client.get(reverse("risks:detail", args=[risk.pk])).content.decode()
    assert "Add a task" not in page
    response = client.post(
        reverse("risks:task_add", args=[risk.pk]),
        {"title": "x", "owner": reviewer.pk, "due_date": "2030-01-01"},
    )
    assert response.status_code == 403


# --- My tasks ------------------------------------------------------------------------


def test_my_tasks_lists_mine_overdue_first(client, csm, manager, risk):
    late = factories.TaskFactory(
        risk=risk, title="Chase the signed order", due_date=timezone.localdate() - dt.timedelta(3)
    )
    client.force_login(csm)
    page = client.get(reverse("tasks:index")).content.decode()
    assert "My tasks" in page
    assert page.index(late.title) < page.index("Usage review with the champion")
    # The manager's and the department's tasks are theirs, not the CSM's.
    assert "Manager call with the sponsor" not in page
    assert "Workaround for the missing report" not in page


def test_a_reviewer_sees_their_departments_tasks_in_their_region(
    client, risk, region, other_region
):
    consultant = factories.ReviewerFactory(
        username="pat", region=region, department="professional_services"
    )
    elsewhere = factories.ReviewerFactory(
        username="quinn", region=other_region, department="professional_services"
    )
    client.force_login(consultant)
    assert (
        "Workaround for the missing report" in client.get(reverse("tasks:index")).content.decode()
    )
    client.force_login(elsewhere)
    assert (
        "Workaround for the missing report"
        not in client.get(reverse("tasks:index")).content.decode()
    )


def test_closed_records_tasks_drop_off_unless_asked_for(client, csm, risk):
    services.risk_close(user=csm, risk=risk, outcome=RiskStatus.SAVED, note="Renewed.")
    client.force_login(csm)
    page = client.get(reverse("tasks:index")).content.decode()
    assert "Usage review with the champion" not in page
    page = client.get(reverse("tasks:index") + "?include_closed=on").content.decode()
    assert "Usage review with the champion" in page
    assert "Record closed" in page
    detail = client.get(reverse("risks:detail", args=[risk.pk])).content.decode()
    assert "no longer appear on" in detail


def test_a_row_of_my_tasks_is_ticked_in_place(client, csm, risk):
    target = task(risk, "Usage review with the champion")
    client.force_login(csm)
    response = client.post(
        reverse("tasks:done", args=[target.pk]),
        {"done": "1", "next": reverse("tasks:index")},
        HTTP_HX_TARGET=f"task-{target.pk}",
        **HTMX,
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith(f'<tr id="task-{target.pk}"')
    assert "Done</span>" in body
    # The row's form swaps that row, and only it.
    assert f'hx-target="#task-{target.pk}"' in body


def test_the_filters_narrow_the_list(client, manager, csm, risk):
    client.force_login(manager)
    everyone = (
        reverse("tasks:index") + "?scope=all&source=playbook&department=professional_services"
    )
    page = client.get(everyone).content.decode()
    assert "Workaround for the missing report" in page
    assert "Usage review with the champion" not in page
    team = client.get(reverse("tasks:index") + "?scope=team&due=overdue").content.decode()
    assert "No task matches these filters." in team


def test_a_bad_filter_is_an_error_not_a_list(client, csm, risk):
    client.force_login(csm)
    page = client.get(reverse("tasks:index") + "?state=nonsense").content.decode()
    assert "Some filters are not valid" in page
    assert "Usage review with the champion" not in page


def test_my_tasks_costs_the_same_queries_for_5_and_40_rows(client, csm, account, risk):
    client.force_login(csm)
    factories.TaskFactory.create_batch(2, risk=risk)
    client.get(reverse("tasks:index"))  # warm the session and content types

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("tasks:index")).status_code == 200
        return len(queries)

    few = count()
    factories.TaskFactory.create_batch(35, risk=risk)
    assert count() == few


# --- home pages ----------------------------------------------------------------------


def test_the_csm_home_shows_tasks_due_this_week(client, csm, risk):
    today = timezone.localdate()
    sunday = today + dt.timedelta(days=6 - today.weekday())
    factories.TaskFactory(risk=risk, title="Due on Sunday", due_date=sunday)
    factories.TaskFactory(risk=risk, title="Due next week", due_date=sunday + dt.timedelta(1))
    factories.TaskFactory(risk=risk, title="Long overdue", due_date=today - dt.timedelta(20))
    client.force_login(csm)
    page = client.get(reverse("home")).content.decode()
    section = page.split('id="tasks-heading"')[1].split("</section>")[0]
    assert "Due on Sunday" in section
    assert "Long overdue" in section
    assert "Due next week" not in section
    assert section.index("Long overdue") < section.index("Due on Sunday")


def test_the_manager_home_counts_the_teams_overdue_tasks(client, manager, risk, other_csm):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    factories.TaskFactory(risk=risk, due_date=yesterday)
    factories.TaskFactory(risk=risk, due_date=yesterday, done_at=timezone.now())
    other = factories.RiskRecordFactory(account=factories.AccountFactory(csm=other_csm))
    factories.TaskFactory(risk=other, due_date=yesterday)
    client.force_login(manager)
    page = client.get(reverse("home")).content.decode()
    assert "1</span> overdue task on your team" in page


def test_a_manager_sees_their_teams_tasks_and_not_another_teams(client, manager, risk, other_csm):
    other = factories.RiskRecordFactory(account=factories.AccountFactory(csm=other_csm))
    factories.TaskFactory(risk=other, title="Another team's follow-up")
    client.force_login(manager)
    page = client.get(reverse("tasks:index") + "?scope=team").content.decode()
    assert "My team's tasks" in page
    assert "Usage review with the champion" in page
    assert "Another team&#x27;s follow-up" not in page
    everyone = client.get(reverse("tasks:index") + "?scope=all").content.decode()
    assert "Another team&#x27;s follow-up" in everyone
