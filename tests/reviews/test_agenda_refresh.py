"""The agenda follows the records without a click: a record that reaches tier
3, waits for approval to it, leaves it or closes refreshes its region's
upcoming agendas once the change commits. The page says its figures are as of
the meeting and shows each record's summary and next steps."""

from __future__ import annotations

import zoneinfo

import pytest
from django.urls import reverse

from reviews import services as review_services
from reviews.models import AgendaSection
from risks import services as risk_services
from tests import factories

pytestmark = pytest.mark.django_db


def _sections(agenda) -> dict[int, str]:
    return dict(agenda.items.values_list("risk_id", "section"))


@pytest.fixture
def upcoming(region, risk, emails):
    """The agenda of the region's next meeting (``risk`` is on it), as the
    scheduler generates it."""
    return review_services.agenda_generate(region=region)


@pytest.fixture
def tier2(account, low_usage, csm):
    other = factories.AccountFactory(csm=csm, region=account.region, name="Brightline")
    record = risk_services.risk_open(
        user=csm, account=other, primary_cause=low_usage, summary="Usage fell.", next_steps="Call."
    )
    manager = csm.manager
    risk_services.escalation_request(user=manager, risk=record, reason="Needs the manager.")
    return record


def test_reaching_tier_3_adds_the_record_to_the_upcoming_agenda(
    upcoming, tier2, csm, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk_services.escalation_request(user=csm.manager, risk=tier2, reason="Review it.")

    assert _sections(upcoming)[tier2.pk] == AgendaSection.NEW


def test_waiting_for_approval_to_tier_3_shows_in_its_section(
    upcoming, tier2, csm, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk_services.escalation_request(user=csm, risk=tier2, reason="Review it.")

    assert _sections(upcoming)[tier2.pk] == AgendaSection.PENDING_ESCALATION


def test_closing_a_tier_3_record_moves_it_to_resolved(
    upcoming, risk, csm, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk_services.risk_close(user=csm, risk=risk, outcome="saved", note="Renewed.")

    assert _sections(upcoming)[risk.pk] == AgendaSection.RESOLVED


def test_nothing_is_refreshed_before_the_change_commits(upcoming, tier2, csm):
    # Without running the on-commit callbacks the agenda is as it was.
    risk_services.escalation_request(user=csm.manager, risk=tier2, reason="Review it.")

    assert tier2.pk not in _sections(upcoming)


def test_other_regions_agendas_are_left_alone(
    upcoming, other_region, low_usage, django_capture_on_commit_callbacks
):
    manager = factories.ManagerFactory(username="nate", region=other_region)
    csm = factories.CsmFactory(username="nina", region=other_region, manager=manager)
    account = factories.AccountFactory(csm=csm, region=other_region)
    record = risk_services.risk_open(
        user=csm, account=account, primary_cause=low_usage, summary="S.", next_steps="N."
    )
    generated_at = upcoming.generated_at
    with django_capture_on_commit_callbacks(execute=True):
        risk_services.escalation_request(user=manager, risk=record, reason="Up.")
        risk_services.escalation_request(user=manager, risk=record, reason="Up again.")

    upcoming.refresh_from_db()
    assert upcoming.generated_at == generated_at
    assert record.pk not in _sections(upcoming)


def test_the_page_says_as_of_the_meeting_and_shows_summary_and_next_steps(
    client, agenda, risk, reviewer
):
    client.force_login(reviewer)
    url = reverse(
        "reviews:agenda",
        kwargs={"region_code": agenda.region.code, "week": agenda.week_start.isoformat()},
    )

    html = client.get(url).content.decode()

    meeting_day = agenda.meeting_at.astimezone(zoneinfo.ZoneInfo(agenda.region.timezone))
    assert f"are as of the meeting, {meeting_day:%-d %b %Y}" in html
    assert risk.summary in html
    assert risk.next_steps in html


@pytest.mark.parametrize("how", ["reject", "deescalate", "close"])
def test_a_wait_for_tier_3_that_ends_leaves_the_agenda(
    upcoming, tier2, csm, django_capture_on_commit_callbacks, how
):
    manager = csm.manager
    with django_capture_on_commit_callbacks(execute=True):
        escalation = risk_services.escalation_request(user=csm, risk=tier2, reason="Review it.")
    assert _sections(upcoming)[tier2.pk] == AgendaSection.PENDING_ESCALATION

    with django_capture_on_commit_callbacks(execute=True):
        if how == "reject":
            risk_services.escalation_reject(user=manager, escalation=escalation, note="Not yet.")
        elif how == "deescalate":
            risk_services.risk_deescalate(user=manager, risk=tier2, to_tier=1, note="Calmer.")
        else:
            risk_services.risk_close(user=csm, risk=tier2, outcome="saved", note="Renewed.")

    assert tier2.pk not in _sections(upcoming)


def test_days_on_the_agenda_are_calendar_days_on_the_regions_clock(region, account):
    import datetime as dt

    from reviews import selectors
    from reviews.models import Agenda, AgendaItem

    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    meeting = dt.datetime(2026, 12, 2, 15, 0, tzinfo=berlin)
    # Opened the evening before, reached tier 3 that night: 1 day by the calendar,
    # 0 by whole 24-hour periods.
    opened = dt.datetime(2026, 12, 1, 22, 0, tzinfo=berlin)
    record = factories.RiskRecordFactory(
        account=account, tier=3, max_tier=3, opened_at=opened, tier_changed_at=opened
    )
    agenda = Agenda.objects.create(
        region=region, week_start=dt.date(2026, 11, 30), meeting_at=meeting
    )
    AgendaItem.objects.create(agenda=agenda, risk=record, section=AgendaSection.NEW, position=1)

    [item] = selectors.agenda_with_items(agenda.pk).item_list

    assert (item.days_open, item.days_at_tier3) == (1, 1)
