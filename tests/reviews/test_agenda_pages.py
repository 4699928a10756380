"""The weekly review pages: the agenda of a region and week, notes and action
items (tasks of the record) in place (plain form posts and htmx), marking them
done from the item's block, the "generate now" button, the calendar invite, and
the old page of action items across agendas, which now leads to the task list."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reviews import scheduling, services, views
from reviews.models import Agenda, AgendaItem, AgendaSection, ReviewNote
from risks.models import RiskStatus, Task, TaskSource, TimelineEvent, TimelineKind
from tests import factories
from tests.reviews.conftest import tier3_risk

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def htmx_to(item: AgendaItem) -> dict[str, str]:
    return {**HTMX, "HTTP_HX_TARGET": f"item-{item.pk}-work"}


def agenda_url(region, week: dt.date) -> str:
    return reverse("reviews:agenda", args=[region.code, week.isoformat()])


# --- reading ------------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_sign_in(client, agenda):
    response = client.get(agenda_url(agenda.region, agenda.week_start))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


HOUR = dt.timedelta(hours=1)


def test_index_opens_the_week_of_the_next_meeting_of_the_users_region(client, reviewer, region):
    client.force_login(reviewer)
    response = client.get(reverse("reviews:index"))
    # No agenda exists, so even a meeting that has just ended is not "current".
    week_start, _ = scheduling.next_meeting(region, timezone.now())
    assert response.status_code == 302
    assert response["Location"] == agenda_url(region, week_start)


def test_a_meeting_just_held_stays_the_current_review_while_its_agenda_is_in_use(region):
    week_start, meeting_at = scheduling.next_meeting(region, timezone.now())
    assert views.current_week(region, meeting_at - dt.timedelta(minutes=1)) == week_start
    services.agenda_generate(region=region, week_start=week_start, now=meeting_at - HOUR)
    assert views.current_week(region, meeting_at + dt.timedelta(hours=2)) == week_start
    assert views.current_week(
        region, meeting_at + dt.timedelta(hours=13)
    ) == week_start + dt.timedelta(days=7)


def test_a_meeting_just_held_without_an_agenda_gives_way_to_the_next_one(region):
    week_start, meeting_at = scheduling.next_meeting(region, timezone.now())
    assert views.current_week(
        region, meeting_at + dt.timedelta(hours=2)
    ) == week_start + dt.timedelta(days=7)


def test_index_offers_a_region_chooser_to_a_user_without_a_region(
    client, admin_user, region, other_region
):
    client.force_login(admin_user)
    response = client.get(reverse("reviews:index"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Europe (EMEA)" in html and "North America (NA)" in html


def test_csm_reads_the_agenda_with_every_fact_of_an_item(client, csm, reviewer, agenda, item, risk):
    services.review_note_add(user=reviewer, item=item, text="x")
    client.force_login(csm)
    response = client.get(agenda_url(agenda.region, agenda.week_start))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("risks:detail", args=[risk.pk]) in html
    for text in (
        risk.account.name,
        risk.account.segment.name,
        "120,000",  # ARR at risk
        risk.primary_cause.name,
        risk.secondary_cause.name,
        str(risk.account.csm),
        str(risk.account.csm.manager),
        "Days at tier 3",
        "Download invite (.ics)",
    ):
        assert text in html, text
    # Sections in the agenda's order, the empty ones saying so.
    labels = [section.label for section in AgendaSection]
    positions = [html.index(label) for label in labels]
    assert positions == sorted(positions)
    assert "No escalation to tier 3 is waiting for approval." in html
    # A CSM reads: no note or action forms, no generate button.
    assert "Add a note" not in html and "Add an action item" not in html
    assert "Generate now" not in html and "Refresh agenda" not in html


def test_meeting_time_is_shown_in_the_regions_time_and_the_viewers(client, csm, agenda):
    client.force_login(csm)
    html = client.get(agenda_url(agenda.region, agenda.week_start)).content.decode()
    html = re.sub(r"<[^>]+>", "", html)
    local = agenda.meeting_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    assert f"{local:%H:%M} Europe/Berlin" in html
    assert "15:00 Europe/Berlin" in html  # the region's review_time
    assert "UTC" in html  # the viewer's zone (TIME_ZONE) differs from the region's


def test_latest_timeline_note_and_resolved_outcome_are_shown(
    client, csm, region, manager, account, low_usage
):
    # The week of the next meeting: "resolved since the previous meeting" covers now.
    week = scheduling.next_meeting(region, timezone.now())[0]
    risk = tier3_risk(account, low_usage)
    TimelineEvent.objects.create(
        risk=risk, kind=TimelineKind.NOTE, actor=csm, text="Call went well"
    )
    closed_account = factories.AccountFactory(csm=csm, region=region, name="Gone AG")
    tier3_risk(
        closed_account,
        low_usage,
        status=RiskStatus.CHURNED,
        closed_at=timezone.now(),
        closed_by=manager,
        arr_retained=0,
        outcome_note="Moved to a competitor.",
    )
    agenda = services.agenda_generate(region=region, week_start=week, user=manager)
    client.force_login(csm)
    html = client.get(agenda_url(region, agenda.week_start)).content.decode()
    assert "Call went well" in html
    assert "Gone AG" in html and "Moved to a competitor." in html and "Churned" in html


def test_reviewer_of_the_region_sees_the_note_and_action_forms(
    client, reviewer, csm, manager, agenda, item
):
    client.force_login(reviewer)
    html = client.get(agenda_url(agenda.region, agenda.week_start)).content.decode()
    assert "Add a note" in html and "Add an action item" in html
    assert reverse("reviews:note", args=[item.pk]) in html
    assert f'hx-target="#item-{item.pk}-work"' in html
    # Owners offered are the people of the region, by first name, after "Nobody yet".
    owner_select = re.search(
        rf'<select name="item-{item.pk}-action-owner".*?</select>', html, re.S
    ).group(0)
    assert re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', owner_select) == [
        ("", "Nobody yet"),
        (str(csm.pk), "Carl Example"),
        (str(manager.pk), "Maria Example"),
        (str(reviewer.pk), "Rita Example"),
    ]


def test_reviewer_of_another_region_reads_without_forms_and_is_refused_on_post(
    client, other_reviewer, agenda, item
):
    client.force_login(other_reviewer)
    html = client.get(agenda_url(agenda.region, agenda.week_start)).content.decode()
    assert "Add a note" not in html
    response = client.post(
        reverse("reviews:note", args=[item.pk]), {f"item-{item.pk}-note-text": "Hi"}
    )
    assert response.status_code == 403
    assert "Only reviewers and managers" in response.content.decode()
    response = client.post(
        reverse("reviews:action", args=[item.pk]), {f"item-{item.pk}-action-description": "Do"}
    )
    assert response.status_code == 403
    assert not ReviewNote.objects.exists() and not Task.objects.exists()


def test_a_day_other_than_monday_redirects_to_its_week(client, csm, region, week):
    client.force_login(csm)
    wednesday = week + dt.timedelta(days=2)
    response = client.get(reverse("reviews:agenda", args=[region.code, wednesday.isoformat()]))
    assert response.status_code == 302
    assert response["Location"] == agenda_url(region, week)


@pytest.mark.parametrize("week_text", ["not-a-date", "2025-02-30", "0001-01-01"])
def test_an_invalid_week_is_not_found(client, csm, region, week_text):
    client.force_login(csm)
    assert client.get(reverse("reviews:agenda", args=[region.code, week_text])).status_code == 404


def test_an_unknown_region_is_not_found(client, csm, week):
    client.force_login(csm)
    assert client.get(reverse("reviews:agenda", args=["XX", week.isoformat()])).status_code == 404


def test_week_navigation_and_region_switcher(client, csm, region, other_region, week):
    client.force_login(csm)
    html = client.get(agenda_url(region, week)).content.decode()
    assert agenda_url(region, week - dt.timedelta(days=7)) in html
    assert agenda_url(region, week + dt.timedelta(days=7)) in html
    assert agenda_url(other_region, week) in html


def test_nav_links_to_the_reviews(client, csm):
    client.force_login(csm)
    html = client.get(reverse("home")).content.decode()
    assert reverse("reviews:index") in html and ">Reviews<" in html


# --- no agenda yet, and generating it ------------------------------------------------------


def test_week_without_agenda_offers_generate_now_to_a_manager(client, manager, region, week):
    client.force_login(manager)
    html = client.get(agenda_url(region, week)).content.decode()
    assert "No agenda for this week yet" in html
    assert "Generate now" in html and reverse("reviews:generate") in html


def test_week_without_agenda_tells_others_when_it_will_be_generated(
    client, reviewer, region, week, settings
):
    client.force_login(reviewer)
    html = client.get(agenda_url(region, week)).content.decode()
    meeting_at = scheduling.meeting_at_for(region, week)
    generate_at = timezone.localtime(
        meeting_at - dt.timedelta(hours=settings.REVIEW_AGENDA_LEAD_HOURS)
    )
    assert "No agenda for this week yet" in html
    assert "Generate now" not in html
    assert generate_at.strftime("%H:%M") in html
    assert generate_at.strftime("%-d %b %Y") in html


def test_manager_generates_the_agenda_now(client, manager, region, risk, week):
    client.force_login(manager)
    response = client.post(
        reverse("reviews:generate"), {"region": region.code, "week_start": week.isoformat()}
    )
    assert response.status_code == 302
    assert response["Location"] == agenda_url(region, week)
    agenda = Agenda.objects.get(region=region, week_start=week)
    assert agenda.items.get().risk == risk
    assert "Agenda generated with 1 item" in flash(response)[0]
    again = client.post(
        reverse("reviews:generate"), {"region": region.code, "week_start": week.isoformat()}
    )
    assert "refreshed" in flash(again)[-1]
    assert Agenda.objects.filter(region=region).count() == 1


def test_admin_may_generate(client, admin_user, region, week):
    client.force_login(admin_user)
    response = client.post(
        reverse("reviews:generate"), {"region": region.code, "week_start": week.isoformat()}
    )
    assert response.status_code == 302
    assert Agenda.objects.filter(region=region, week_start=week).exists()


@pytest.mark.parametrize("role_fixture", ["csm", "reviewer"])
def test_others_cannot_generate(client, request, region, week, role_fixture):
    client.force_login(request.getfixturevalue(role_fixture))
    response = client.post(
        reverse("reviews:generate"), {"region": region.code, "week_start": week.isoformat()}
    )
    assert response.status_code == 403
    assert "Only managers and admins can generate an agenda." in response.content.decode()
    assert not Agenda.objects.exists()


def test_generate_is_post_only(client, manager):
    client.force_login(manager)
    assert client.get(reverse("reviews:generate")).status_code == 405


# --- notes and action items in place ------------------------------------------------------


def test_reviewer_adds_a_note_without_javascript(client, reviewer, agenda, item):
    client.force_login(reviewer)
    response = client.post(
        reverse("reviews:note", args=[item.pk]), {f"item-{item.pk}-note-text": "Escalate to VP."}
    )
    assert response.status_code == 302
    assert response["Location"] == agenda_url(agenda.region, agenda.week_start) + f"#item-{item.pk}"
    note = ReviewNote.objects.get()
    assert (note.item, note.author, note.text) == (item, reviewer, "Escalate to VP.")
    assert TimelineEvent.objects.filter(risk=item.risk, kind=TimelineKind.REVIEW_NOTE).exists()
    assert "Note added" in flash(response)[0]
    page = client.get(response["Location"]).content.decode()
    assert "Escalate to VP." in page


def test_reviewer_adds_a_note_with_htmx_and_gets_the_item_block(client, reviewer, item):
    client.force_login(reviewer)
    response = client.post(
        reverse("reviews:note", args=[item.pk]),
        {f"item-{item.pk}-note-text": "Escalate to VP."},
        **htmx_to(item),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<div class="item-work" id="item-{item.pk}-work">')
    assert "Escalate to VP." in html
    assert 'hx-swap-oob="true"' in html and "Note added" in html


def test_a_blank_note_is_refused_next_to_the_field(client, reviewer, agenda, item):
    client.force_login(reviewer)
    url = reverse("reviews:note", args=[item.pk])
    plain = client.post(url, {f"item-{item.pk}-note-text": "  "})
    assert plain.status_code == 400
    assert "Write the note." in plain.content.decode()
    assert "<html" in plain.content.decode()  # the whole agenda page, the form open
    swapped = client.post(url, {f"item-{item.pk}-note-text": ""}, **htmx_to(item))
    assert swapped.status_code == 200
    assert "Write the note." in swapped.content.decode()
    assert not ReviewNote.objects.exists()


def test_manager_of_the_region_adds_an_action_item(client, manager, csm, agenda, item):
    client.force_login(manager)
    due = timezone.localdate() + dt.timedelta(days=10)
    prefix = f"item-{item.pk}-action"
    response = client.post(
        reverse("reviews:action", args=[item.pk]),
        {
            f"{prefix}-description": "Product to scope the export fix.",
            f"{prefix}-owner": csm.pk,
            f"{prefix}-department": "product",
            f"{prefix}-due_date": due.isoformat(),
        },
    )
    assert response.status_code == 302
    action = Task.objects.get()
    assert (action.agenda_item, action.risk, action.source) == (item, item.risk, TaskSource.REVIEW)
    assert (action.title, action.owner, action.department, action.due_date, action.done_at) == (
        "Product to scope the export fix.",
        csm,
        "product",
        due,
        None,
    )
    assert TimelineEvent.objects.filter(risk=item.risk, kind=TimelineKind.ACTION_ADDED).exists()
    page = client.get(response["Location"]).content.decode()
    assert "Product to scope the export fix." in page


def test_action_item_with_htmx_and_field_errors(client, reviewer, item):
    client.force_login(reviewer)
    prefix = f"item-{item.pk}-action"
    url = reverse("reviews:action", args=[item.pk])
    refused = client.post(url, {f"{prefix}-description": ""}, **htmx_to(item))
    assert refused.status_code == 200
    assert "Describe the action." in refused.content.decode()
    outsider = factories.CsmFactory(username="zed", region=factories.RegionFactory(code="APAC"))
    refused = client.post(
        url, {f"{prefix}-description": "x", f"{prefix}-owner": outsider.pk}, **htmx_to(item)
    )
    assert "Select a valid choice" in refused.content.decode()
    assert not Task.objects.exists()
    added = client.post(url, {f"{prefix}-description": "Call the sponsor"}, **htmx_to(item))
    assert added.status_code == 200
    assert "Call the sponsor" in added.content.decode()
    assert Task.objects.get().owner is None


def test_a_multi_line_action_shows_its_title_and_its_whole_text(client, reviewer, item):
    client.force_login(reviewer)
    prefix = f"item-{item.pk}-action"
    text = "Call the sponsor\nAsk about the budget freeze."
    added = client.post(
        reverse("reviews:action", args=[item.pk]),
        {f"{prefix}-description": text},
        **htmx_to(item),
    )
    html = added.content.decode()
    assert '<span class="action-text">Call the sponsor<span' in html
    assert "Ask about the budget freeze." in html
    assert (Task.objects.get().title, Task.objects.get().description) == ("Call the sponsor", text)


def test_notes_are_allowed_after_the_meeting(client, reviewer, item):
    Agenda.objects.filter(pk=item.agenda_id).update(
        meeting_at=timezone.now() - dt.timedelta(hours=1)
    )
    client.force_login(reviewer)
    response = client.post(
        reverse("reviews:note", args=[item.pk]), {f"item-{item.pk}-note-text": "Decided."}
    )
    assert response.status_code == 302
    assert ReviewNote.objects.filter(text="Decided.").exists()


@pytest.fixture
def action(item, reviewer, csm) -> Task:
    return services.action_item_add(
        user=reviewer, item=item, description="Send the plan", owner=csm
    )


def done_url(task: Task) -> str:
    return reverse("reviews:action_done", args=[task.pk])


def test_reviewer_marks_an_action_done_and_reopens_it(client, reviewer, item, action):
    client.force_login(reviewer)
    response = client.post(done_url(action), {"item": item.pk, "done": "1"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#item-{item.pk}")
    assert "Task \u201cSend the plan\u201d marked done." in flash(response)
    action.refresh_from_db()
    assert action.done_at is not None and action.done_by == reviewer
    swapped = client.post(done_url(action), {"item": item.pk, "done": "0"}, **htmx_to(item))
    assert swapped.status_code == 200
    html = swapped.content.decode()
    assert html.lstrip().startswith(f'<div class="item-work" id="item-{item.pk}-work">')
    assert "Mark done" in html and "marked open again" in html
    action.refresh_from_db()
    assert action.done_at is None
    assert list(
        item.risk.events.filter(kind__in=[TimelineKind.TASK_DONE, TimelineKind.TASK_REOPENED])
        .order_by("at", "id")
        .values_list("kind", flat=True)
    ) == [TimelineKind.TASK_DONE, TimelineKind.TASK_REOPENED]


def test_the_owner_may_mark_their_action_done_but_another_csm_may_not(
    client, csm, other_csm, item, action
):
    client.force_login(other_csm)
    refused = client.post(done_url(action), {"item": item.pk, "done": "1"})
    assert refused.status_code == 403
    action.refresh_from_db()
    assert action.done_at is None
    client.force_login(csm)
    page = client.get(agenda_url(item.agenda.region, item.agenda.week_start))
    html = page.content.decode()
    assert "Mark done" in html and "Add a note" not in html
    client.post(done_url(action), {"item": item.pk, "done": "1"})
    action.refresh_from_db()
    assert action.done_by == csm


def test_marking_done_needs_an_item_of_the_tasks_record(
    client, reviewer, region, low_usage, item, action
):
    client.force_login(reviewer)
    other_item = AgendaItem.objects.create(
        agenda=item.agenda,
        risk=tier3_risk(factories.AccountFactory(region=region), low_usage),
        section=AgendaSection.NEW,
        position=2,
    )
    for posted in ({}, {"item": ""}, {"item": "x"}, {"item": "999999"}, {"item": other_item.pk}):
        response = client.post(done_url(action), {**posted, "done": "1"})
        assert response.status_code == 404, posted
    assert (
        client.post(reverse("reviews:action_done", args=[999999]), {"item": item.pk}).status_code
        == 404
    )
    action.refresh_from_db()
    assert action.done_at is None


def test_an_earlier_reviews_open_action_is_marked_from_the_later_item(
    client, reviewer, manager, item, action, week
):
    later_agenda = services.agenda_generate(
        region=item.agenda.region, week_start=week + dt.timedelta(days=7), user=manager
    )
    later = later_agenda.items.get()
    assert later.risk_id == item.risk_id
    client.force_login(reviewer)
    page = client.get(agenda_url(later_agenda.region, later_agenda.week_start)).content.decode()
    row = re.search(r"<li[^>]*>(?:(?!</li>).)*Send the plan.*?</li>", page, re.S).group(0)
    assert "Weekly review" in row  # agreed on another item: its source is named

    swapped = client.post(done_url(action), {"item": later.pk, "done": "1"}, **htmx_to(later))

    assert swapped.status_code == 200
    assert f'id="item-{later.pk}-work"' in swapped.content.decode()
    action.refresh_from_db()
    assert action.done_at is not None
    # Done, it stays on the item that agreed it and leaves the later one.
    later_page = client.get(agenda_url(later_agenda.region, later_agenda.week_start))
    assert "Send the plan" not in later_page.content.decode()
    earlier_page = client.get(agenda_url(item.agenda.region, item.agenda.week_start))
    assert "Send the plan" in earlier_page.content.decode()


def test_the_agenda_shows_the_records_playbook_tasks_to_mark(client, csm, agenda, item, risk):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    late = factories.TaskFactory(
        risk=risk, title="Run the adoption workshop", source=TaskSource.PLAYBOOK, due_date=yesterday
    )
    client.force_login(csm)
    html = client.get(agenda_url(agenda.region, agenda.week_start)).content.decode()
    row = re.search(r'<li class="overdue-row">.*?</li>', html, re.S).group(0)
    assert "Run the adoption workshop" in row and "Overdue" in row and "Playbook" in row
    assert done_url(late) in row and "Mark done" in row


def test_done_redirects_to_a_safe_next_only(client, reviewer, item, action):
    client.force_login(reviewer)
    response = client.post(
        done_url(action), {"item": item.pk, "done": "1", "next": "/tasks/?source=review"}
    )
    assert response["Location"] == "/tasks/?source=review"
    response = client.post(
        done_url(action), {"item": item.pk, "done": "0", "next": "https://evil.example/"}
    )
    assert response["Location"].endswith(f"#item-{item.pk}")


# --- the calendar invite ------------------------------------------------------------------


def test_invite_downloads_as_text_calendar(client, csm, agenda):
    client.force_login(csm)
    response = client.get(
        reverse("reviews:calendar", args=[agenda.region.code, agenda.week_start.isoformat()])
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode().startswith("BEGIN:VCALENDAR")


def test_invite_of_a_week_without_agenda_is_not_found(client, csm, region, week):
    client.force_login(csm)
    url = reverse("reviews:calendar", args=[region.code, week.isoformat()])
    assert client.get(url).status_code == 404


# --- query counts ---------------------------------------------------------------------------


def _agenda_with(n: int, region, manager, reviewer, low_usage, week) -> Agenda:
    for _ in range(n):
        tier3_risk(factories.AccountFactory(region=region), low_usage)
    agenda = services.agenda_generate(region=region, week_start=week, user=manager)
    assert agenda.items.count() >= n  # every record just made is on it
    for agenda_item in agenda.items.all():
        services.review_note_add(user=reviewer, item=agenda_item, text="n")
        services.action_item_add(user=reviewer, item=agenda_item, description="a", owner=manager)
    return agenda


@pytest.mark.parametrize("viewer", ["reviewer", "csm"])
def test_agenda_page_costs_the_same_queries_for_2_and_12_items(
    client, request, region, manager, reviewer, low_usage, week, viewer
):
    """The second agenda holds the first one's risks too (still at tier 3): 2 vs 12 items."""
    client.force_login(request.getfixturevalue(viewer))
    counts = []
    for n, week_start in ((2, week), (12, week + dt.timedelta(days=7))):
        agenda = _agenda_with(n, region, manager, reviewer, low_usage, week_start)
        assert agenda.items.count() >= n
        with CaptureQueriesContext(connection) as captured:
            response = client.get(agenda_url(region, week_start))
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


# --- the action items across agendas ---------------------------------------------------------


@pytest.mark.parametrize("query", [{}, {"state": "all", "region": "NA"}])
def test_the_old_action_list_leads_to_the_review_tasks_of_the_task_list(client, csm, query):
    client.force_login(csm)

    response = client.get(reverse("reviews:actions"), query)

    assert response.status_code == 302
    assert response["Location"] == "/tasks/?source=review&scope=all"
    assert reverse("reviews:actions") == "/reviews/actions/"


def test_the_old_action_list_still_asks_to_sign_in(client):
    response = client.get(reverse("reviews:actions"))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
