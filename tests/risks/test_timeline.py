"""The timeline in words (risks/timeline.py): events name people, causes and
the review they came from — never raw ids — and link review events to their
agenda, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Department
from reviews import services as review_services
from reviews.models import Agenda, AgendaItem, AgendaSection
from risks import selectors, services
from risks.models import Task, TimelineEvent, TimelineKind
from risks.timeline import Link, timeline_entries
from tests import factories

pytestmark = pytest.mark.django_db

WEEK = dt.date(2026, 11, 30)


@pytest.fixture
def item(region, account, low_usage) -> AgendaItem:
    risk = factories.RiskRecordFactory(account=account, primary_cause=low_usage, tier=3, max_tier=3)
    agenda = Agenda.objects.create(
        region=region,
        week_start=WEEK,
        meeting_at=dt.datetime(2026, 12, 2, 14, 0, tzinfo=dt.UTC),
    )
    return AgendaItem.objects.create(
        agenda=agenda, risk=risk, section=AgendaSection.NEW, position=1
    )


def _entry(risk, kind):
    events = selectors.risk_timeline(risk)
    return next(entry for entry in timeline_entries(events) if entry.event.kind == kind)


def test_review_note_names_and_links_its_agenda(item, reviewer):
    review_services.review_note_add(user=reviewer, item=item, text="Exec sponsor call booked.")

    entry = _entry(item.risk, TimelineKind.REVIEW_NOTE)

    assert entry.headline == "From the cross-functional review"
    assert entry.link == Link(
        "EMEA review, week of 30 Nov 2026",
        reverse("reviews:agenda", kwargs={"region_code": "EMEA", "week": "2026-11-30"}),
    )
    assert entry.details == []
    assert entry.event.text == "Exec sponsor call booked."


def test_action_item_shows_owner_department_and_due_date_by_name(item, reviewer, csm):
    task = review_services.action_item_add(
        user=reviewer,
        item=item,
        description="Send the remediation plan.",
        owner=csm,
        department=Department.PRODUCT,
        due_date=dt.date(2026, 12, 9),
    )

    entry = _entry(item.risk, TimelineKind.ACTION_ADDED)

    assert entry.link.text == "EMEA review, week of 30 Nov 2026"
    assert entry.details == [
        ("Owner", str(csm)),
        ("Department", "Product"),
        ("Due", "9 Dec 2026"),
    ]
    # The action is a task of the record now; the event names it.
    assert entry.event.data["task"] == task.pk
    assert Task.objects.get(pk=task.pk).agenda_item == item


def test_an_action_item_event_from_before_tasks_reads_the_same(item, reviewer, csm):
    """Events written before action items became tasks name the ``action``
    (now the task with the same id); they read as before."""
    services.timeline_add(
        risk=item.risk,
        kind=TimelineKind.ACTION_ADDED,
        actor=reviewer,
        at=timezone.now(),
        text="Send the remediation plan.",
        data={
            "agenda": item.agenda.pk,
            "item": item.pk,
            "region": "EMEA",
            "week_start": "2026-11-30",
            "action": 41,
            "owner": csm.pk,
            "department": "finance",
            "due_date": "2026-12-09",
        },
    )

    entry = _entry(item.risk, TimelineKind.ACTION_ADDED)

    assert entry.headline == "From the cross-functional review"
    assert entry.link.text == "EMEA review, week of 30 Nov 2026"
    assert entry.details == [("Owner", str(csm)), ("Department", "Finance"), ("Due", "9 Dec 2026")]


def test_the_detail_page_shows_names_not_ids(client, item, reviewer, csm):
    review_services.action_item_add(
        user=reviewer, item=item, description="Send the plan.", owner=csm, department=""
    )
    client.force_login(reviewer)

    html = client.get(reverse("risks:detail", args=[item.risk.pk])).content.decode()

    agenda_url = reverse("reviews:agenda", kwargs={"region_code": "EMEA", "week": "2026-11-30"})
    assert f'<a href="{agenda_url}">EMEA review, week of 30 Nov 2026</a>' in html
    assert f"<dd>{csm}</dd>" in html
    assert f"Agenda</dt><dd>{item.agenda.pk}" not in html
    assert f"Owner</dt><dd>{csm.pk}</dd>" not in html


def test_an_event_of_an_agenda_that_no_longer_exists_still_reads_in_words(item, reviewer):
    services.timeline_add(
        risk=item.risk,
        kind=TimelineKind.REVIEW_NOTE,
        actor=reviewer,
        at=timezone.now(),
        text="Old note.",
        data={"agenda": 999999, "item": 1, "region": "EMEA", "week_start": "2026-11-23"},
    )

    entry = _entry(item.risk, TimelineKind.REVIEW_NOTE)

    assert entry.link == Link("EMEA review, week of 23 Nov 2026")


def test_an_owner_who_was_deleted_is_not_shown_as_an_id(item, reviewer):
    services.timeline_add(
        risk=item.risk,
        kind=TimelineKind.ACTION_ADDED,
        actor=reviewer,
        at=timezone.now(),
        text="Call.",
        data={"agenda": item.agenda.pk, "item": item.pk, "owner": 999999},
    )

    entry = _entry(item.risk, TimelineKind.ACTION_ADDED)

    assert entry.details == [("Owner", "a former user")]


def test_timeline_costs_the_same_queries_for_one_and_many_review_events(
    item, reviewer, csm, django_assert_num_queries
):
    def count_for(events: list[TimelineEvent]) -> None:
        with django_assert_num_queries(2):  # owners, agendas (no cause codes here)
            timeline_entries(events)

    review_services.action_item_add(user=reviewer, item=item, description="One.", owner=csm)
    count_for(list(selectors.risk_timeline(item.risk)))
    for number in range(10):
        review_services.action_item_add(
            user=reviewer, item=item, description=f"More {number}.", owner=reviewer
        )
    count_for(list(selectors.risk_timeline(item.risk)))


def test_the_summary_it_was_filed_with_is_shown_once(client, csm, account, low_usage):
    summary = "Usage halved since the champion left (marker-5521). " + "Detail. " * 300
    risk = services.risk_open(
        user=csm, account=account, primary_cause=low_usage, summary=summary, next_steps="Call."
    )
    client.force_login(csm)

    html = client.get(reverse("risks:detail", args=[risk.pk])).content.decode()

    assert html.count("marker-5521") == 1

    services.risk_edit(user=csm, risk=risk, version=risk.version, summary="Now it is better.")
    html = client.get(reverse("risks:detail", args=[risk.pk])).content.decode()
    # Edited since: the original text is history, on the filing event and as the
    # "from" of the edit.
    assert html.count("marker-5521") == 2


@pytest.mark.parametrize(("outcome", "lost"), [("churned", True), ("withdrawn", False)])
def test_only_a_churn_shows_arr_lost(csm, account, low_usage, outcome, lost):
    risk = services.risk_open(
        user=csm, account=account, primary_cause=low_usage, summary="S.", next_steps="N."
    )
    services.risk_close(user=csm, risk=risk, outcome=outcome, note="Done.")

    entry = _entry(risk, TimelineKind.CLOSED)

    assert any(label == "ARR lost" for label, _ in entry.details) is lost
