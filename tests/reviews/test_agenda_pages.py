"""The weekly review pages: the agenda of a region and week, notes and action
items in place (plain form posts and htmx), the "generate now" button, the
calendar invite and the action items across agendas."""

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
from reviews.models import ActionItem, Agenda, AgendaItem, AgendaSection, ReviewNote
from risks.models import RiskStatus, TimelineEvent, TimelineKind
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
    assert not ReviewNote.objects.exists() and not ActionItem.objects.exists()


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
    action = ActionItem.objects.get()
    assert (action.item, action.owner, action.department, action.due_date, action.done) == (
        item,
        csm,
        "product",
        due,
        False,
    )
    assert TimelineEvent.objects.filter(risk=item.risk, kind=TimelineKind.ACTION_ADDED).exists()


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
    assert not ActionItem.objects.exists()
    added = client.post(url, {f"{prefix}-description": "Call the sponsor"}, **htmx_to(item))
    assert added.status_code == 200
    assert "Call the sponsor" in added.content.decode()
    assert ActionItem.objects.get().owner is None


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
def action(item, reviewer, csm) -> ActionItem:
    return services.action_item_add(
        user=reviewer, item=item, description="Send the plan", owner=csm
    )


def test_reviewer_marks_an_action_done_and_reopens_it(client, reviewer, action):
    client.force_login(reviewer)
    url = reverse("reviews:action_done", args=[action.pk])
    response = client.post(url, {"done": "1"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#item-{action.item_id}")
    action.refresh_from_db()
    assert action.done and action.done_at is not None
    swapped = client.post(url, {"done": "0"}, **htmx_to(action.item))
    assert swapped.status_code == 200
    assert "Mark done" in swapped.content.decode()
    action.refresh_from_db()
    assert not action.done


def test_the_owner_may_mark_their_action_done_but_another_csm_may_not(
    client, csm, other_csm, action
):
    client.force_login(other_csm)
    refused = client.post(reverse("reviews:action_done", args=[action.pk]), {"done": "1"})
    assert refused.status_code == 403
    action.refresh_from_db()
    assert not action.done
    client.force_login(csm)
    page = client.get(agenda_url(action.item.agenda.region, action.item.agenda.week_start))
    html = page.content.decode()
    assert "Mark done" in html and "Add a note" not in html
    client.post(reverse("reviews:action_done", args=[action.pk]), {"done": "1"})
    action.refresh_from_db()
    assert action.done


def test_done_redirects_to_a_safe_next_only(client, reviewer, action):
    client.force_login(reviewer)
    url = reverse("reviews:action_done", args=[action.pk])
    response = client.post(url, {"done": "1", "next": "/reviews/actions/?state=all"})
    assert response["Location"] == "/reviews/actions/?state=all"
    response = client.post(url, {"done": "0", "next": "https://evil.example/"})
    assert response["Location"].endswith(f"#item-{action.item_id}")


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


@pytest.fixture
def actions_world(
    region, other_region, other_region_manager, manager, reviewer, csm, low_usage, week
):
    """Open, done and overdue actions in two regions."""
    tier3_risk(factories.AccountFactory(region=region, name="Alpha"), low_usage)
    agenda = services.agenda_generate(region=region, week_start=week, user=manager)
    item = agenda.items.get()
    today = timezone.localdate()
    late = services.action_item_add(
        user=reviewer,
        item=item,
        description="Late thing",
        owner=csm,
        department="finance",
        due_date=today - dt.timedelta(days=3),
    )
    soon = services.action_item_add(
        user=reviewer,
        item=item,
        description="Soon thing",
        owner=manager,
        department="product",
        due_date=today + dt.timedelta(days=3),
    )
    done = services.action_item_add(user=reviewer, item=item, description="Done thing")
    services.action_item_set_done(user=reviewer, action=done, done=True)
    na_csm = factories.CsmFactory(
        username="nina", region=other_region, manager=other_region_manager
    )
    tier3_risk(factories.AccountFactory(region=other_region, csm=na_csm, name="Beta"), low_usage)
    na_week = scheduling.next_meeting(other_region, timezone.now())[0] + dt.timedelta(days=7)
    na_agenda = services.agenda_generate(
        region=other_region, week_start=na_week, user=other_region_manager
    )
    na = services.action_item_add(
        user=other_region_manager, item=na_agenda.items.get(), description="NA thing", owner=na_csm
    )
    return {"late": late, "soon": soon, "done": done, "na": na}


def _descriptions(response) -> list[str]:
    html = response.content.decode()
    return [d for d in ("Late thing", "Soon thing", "Done thing", "NA thing") if d in html]


def test_action_list_shows_open_actions_soonest_due_first_with_overdue_marked(
    client, csm, actions_world
):
    client.force_login(csm)
    response = client.get(reverse("reviews:actions"))
    assert response.status_code == 200
    html = response.content.decode()
    assert _descriptions(response) == ["Late thing", "Soon thing", "NA thing"]
    assert html.index("Late thing") < html.index("Soon thing") < html.index("NA thing")
    # Overdue: colour (row class) and text.
    late_row = re.search(r'<tr class="overdue-row">.*?</tr>', html, re.S).group(0)
    assert "Late thing" in late_row and "Overdue" in late_row
    assert reverse("risks:detail", args=[actions_world["late"].item.risk_id]) in html
    # The owner (csm) may mark their own action; not the NA one.
    assert html.count("Mark done") == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"region": "NA"}, ["NA thing"]),
        ({"region": "EMEA", "state": "all"}, ["Late thing", "Soon thing", "Done thing"]),
        ({"state": "done"}, ["Done thing"]),
        ({"department": "product"}, ["Soon thing"]),
        ({"overdue": "on"}, ["Late thing"]),
    ],
)
def test_action_list_filters(client, csm, actions_world, query, expected):
    client.force_login(csm)
    assert _descriptions(client.get(reverse("reviews:actions"), query)) == expected


def test_action_list_filters_by_owner(client, csm, actions_world):
    client.force_login(csm)
    response = client.get(reverse("reviews:actions"), {"owner": csm.pk})
    assert _descriptions(response) == ["Late thing"]


def test_action_list_refuses_an_invalid_filter_without_guessing(client, csm, actions_world):
    client.force_login(csm)
    response = client.get(reverse("reviews:actions"), {"region": "NOPE"})
    assert response.status_code == 200
    assert _descriptions(response) == []
    assert "Some filters are not valid" in response.content.decode()


def test_marking_done_from_the_action_list_returns_to_it(client, csm, actions_world):
    client.force_login(csm)
    late = actions_world["late"]
    response = client.post(
        reverse("reviews:action_done", args=[late.pk]),
        {"done": "1", "next": reverse("reviews:actions") + "?state=all"},
    )
    assert response["Location"] == reverse("reviews:actions") + "?state=all"
    late.refresh_from_db()
    assert late.done


def test_action_list_paginates_and_costs_the_same_queries_for_5_and_60_rows(
    client, reviewer, item, csm
):
    client.force_login(reviewer)
    counts = []
    for total in (5, 60):
        while ActionItem.objects.count() < total:
            services.action_item_add(
                user=reviewer, item=item, description="Do it", owner=csm, due_date=None
            )
        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("reviews:actions"))
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
    html = response.content.decode()
    assert "Page 1 of 2" in html and "60 in all" in html
    assert client.get(reverse("reviews:actions"), {"page": 2}).status_code == 200
