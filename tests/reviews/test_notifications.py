"""Who is told what, and the iCalendar invite (reviews.notifications, reviews.ics)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import icalendar
import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from notifications import ics as ics_writer
from notifications.models import OutboundMessage
from reviews import ics, notifications
from reviews.models import Agenda, AgendaItem, AgendaSection
from risks import notifications as risk_notifications
from risks import services
from risks.models import EscalationStatus, RiskStatus
from tests import factories

pytestmark = pytest.mark.django_db

SITE = "https://risk.example.com"
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def risk(account, low_usage):
    """A new record at tier 1 (not the conftest's tier-3 one): escalations start here."""
    return factories.RiskRecordFactory(account=account, primary_cause=low_usage)


def _rows(kind: str) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(kind=kind))


# --- escalation requested ---------------------------------------------------------


def test_csm_escalation_request_emails_their_manager(
    risk, csm, manager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        escalation = services.escalation_request(
            user=csm, risk=risk, reason="Champion left; need exec sponsor"
        )

    assert escalation.status == EscalationStatus.PENDING
    [message] = mail.outbox
    assert message.to == [manager.email]
    assert message.subject == f"Escalation to tier 2 requested: {risk.account.name}"
    assert "Champion left; need exec sponsor" in message.body
    assert str(csm) in message.body
    assert f"{SITE}{reverse('risks:detail', kwargs={'pk': risk.pk})}" in message.body
    assert "&#x27;" not in message.body and "&amp;" not in message.body  # plain text


def test_escalation_request_without_a_manager_goes_to_admins_with_an_email(
    region, low_usage, admin_user
):
    lone_csm = factories.CsmFactory(username="lone", manager=None, region=region)
    factories.AdminFactory(username="no-mail-admin", email="")
    factories.AdminFactory(username="retired-admin", is_active=False)
    account = factories.AccountFactory(csm=lone_csm, region=region)
    risk = factories.RiskRecordFactory(account=account, primary_cause=low_usage)

    services.escalation_request(user=lone_csm, risk=risk, reason="Nobody else to ask")

    [row] = _rows(risk_notifications.Kind.ESCALATION_REQUESTED)
    assert row.to == [admin_user.email]


def test_manager_escalating_their_own_team_record_is_approved_without_email(risk, manager):
    escalation = services.escalation_request(user=manager, risk=risk, reason="Taking it up")

    assert escalation.status == EscalationStatus.APPROVED
    assert not OutboundMessage.objects.exists()


# --- escalation decided -----------------------------------------------------------


def test_approval_emails_the_requester(risk, csm, manager, django_capture_on_commit_callbacks):
    escalation = services.escalation_request(user=csm, risk=risk, reason="Need help")
    with django_capture_on_commit_callbacks(execute=True):
        services.escalation_approve(user=manager, escalation=escalation, note="On it")

    [row] = _rows(risk_notifications.Kind.ESCALATION_DECIDED)
    assert row.to == [csm.email]
    assert row.subject == f"Escalation to tier 2 approved: {risk.account.name}"
    assert "On it" in row.body
    assert str(manager) in row.body
    assert f"{SITE}{reverse('risks:detail', kwargs={'pk': risk.pk})}" in row.body
    assert [message.subject for message in mail.outbox] == [row.subject]


def test_rejection_emails_the_requester_with_the_note(risk, csm, manager):
    escalation = services.escalation_request(user=csm, risk=risk, reason="Need help")
    services.escalation_reject(user=manager, escalation=escalation, note="Handle it at tier 1")

    [row] = _rows(risk_notifications.Kind.ESCALATION_DECIDED)
    assert row.to == [csm.email]
    assert row.subject == f"Escalation to tier 2 rejected: {risk.account.name}"
    assert "Handle it at tier 1" in row.body


def test_cancelled_escalation_sends_no_decision(risk, csm, manager):
    escalation = services.escalation_request(user=csm, risk=risk, reason="Need help")
    services.risk_close(user=csm, risk=risk, outcome=RiskStatus.WITHDRAWN, note="Raised in error")
    escalation.refresh_from_db()

    assert escalation.status == EscalationStatus.CANCELLED
    assert risk_notifications.escalation_decided(escalation) is None
    assert not _rows(risk_notifications.Kind.ESCALATION_DECIDED)


# --- agenda generated -------------------------------------------------------------


@pytest.fixture
def agenda(region):
    """An agenda of fixed dates, items added by each test (not the conftest's generated one)."""
    return Agenda.objects.create(
        region=region,
        week_start=dt.date(2025, 3, 10),
        meeting_at=dt.datetime(2025, 3, 12, 15, 0, tzinfo=BERLIN),
    )


def _item(agenda, account, cause, section, position, **risk_fields):
    risk = factories.RiskRecordFactory(account=account, primary_cause=cause, **risk_fields)
    return AgendaItem.objects.create(agenda=agenda, risk=risk, section=section, position=position)


def test_agenda_invites_region_reviewers_managers_and_csms_with_items(
    agenda, region, other_region, csm, manager, reviewer, other_manager, low_usage
):
    factories.ReviewerFactory(username="blank", email="", region=region)
    factories.ReviewerFactory(username="gone", is_active=False, region=region)
    factories.ReviewerFactory(username="nadia", region=other_region)
    factories.CsmFactory(username="idle-csm", manager=manager, region=region)  # no items
    # A CSM of another region owning an item is still invited (they present it).
    visitor = factories.CsmFactory(username="vic", manager=manager, region=other_region)
    _item(agenda, factories.AccountFactory(csm=csm, region=region), low_usage, "new", 0)
    _item(agenda, factories.AccountFactory(csm=csm, region=region), low_usage, "carried_over", 1)
    _item(agenda, factories.AccountFactory(csm=visitor, region=region), low_usage, "new", 2)
    _item(agenda, factories.AccountFactory(csm=manager, region=region), low_usage, "new", 3)

    row = notifications.agenda_generated(agenda)

    assert sorted(row.to) == sorted(
        [manager.email, other_manager.email, reviewer.email, csm.email, visitor.email]
    )
    assert len(row.to) == len(set(row.to))
    assert row.subject == "EMEA cross-functional review — 2025-03-12"
    assert notifications.agenda_url(agenda) in row.body
    assert notifications.agenda_url(agenda).startswith(SITE + "/reviews/")
    assert "15:00 (Europe/Berlin)" in row.body
    assert row.ics.startswith("BEGIN:VCALENDAR\r\n")
    assert f"UID:agenda-{agenda.pk}@red-account" in row.ics


def test_agenda_email_lists_items_per_section_in_order(agenda, csm, low_usage):
    early = factories.AccountFactory(
        csm=csm, name="Early Renewal AG", renewal_date=dt.date(2025, 4, 1)
    )
    late = factories.AccountFactory(csm=csm, name="Late Renewal AG")
    closed = factories.AccountFactory(csm=csm, name="Saved Corp")
    _item(agenda, late, low_usage, AgendaSection.NEW, 1)
    _item(agenda, early, low_usage, AgendaSection.NEW, 0)
    _item(
        agenda,
        closed,
        low_usage,
        AgendaSection.RESOLVED,
        2,
        status=RiskStatus.SAVED,
        closed_at=dt.datetime(2025, 3, 5, tzinfo=dt.UTC),
        arr_retained=0,
    )

    body = notifications.agenda_generated(agenda).body

    assert body.index("New at tier 3 (2)") < body.index("Early Renewal AG")
    assert body.index("Early Renewal AG") < body.index("Late Renewal AG")
    assert body.index("Carried over (0)") < body.index("Resolved since the last review (1)")
    assert body.index("Resolved since the last review (1)") < body.index("Saved Corp")
    assert "Saved Corp — Enterprise, ARR at risk USD 120,000, renewal" in body
    assert ", saved" in body


def test_agenda_generated_twice_is_one_email(agenda, reviewer):
    first = notifications.agenda_generated(agenda)
    second = notifications.agenda_generated(agenda)

    assert first.pk == second.pk
    assert OutboundMessage.objects.count() == 1


def test_agenda_link_points_at_the_agenda_page_of_region_and_week(agenda, client, reviewer):
    url = notifications.agenda_url(agenda)

    assert url.startswith(SITE + "/reviews/")
    assert "EMEA" in url and "2025-03-10" in url
    client.force_login(reviewer)
    assert client.get(url.removeprefix(SITE)).status_code == 200


# --- daily reminder -----------------------------------------------------------------

FRIDAY_10_BERLIN = dt.datetime(2025, 3, 7, 10, 0, tzinfo=BERLIN)
MONDAY_9_BERLIN = dt.datetime(2025, 3, 10, 9, 0, tzinfo=BERLIN)
WEDNESDAY_1001_BERLIN = dt.datetime(2025, 3, 12, 10, 1, tzinfo=BERLIN)


def _pending(account, cause, requested_at):
    risk = factories.RiskRecordFactory(account=account, primary_cause=cause)
    return factories.EscalationFactory(risk=risk, requested_at=requested_at)


def test_reminder_lists_only_escalations_pending_over_two_business_days(
    region, csm, manager, low_usage
):
    overdue = _pending(
        factories.AccountFactory(csm=csm, name="Waited Since Friday"), low_usage, FRIDAY_10_BERLIN
    )
    _pending(factories.AccountFactory(csm=csm, name="Asked Monday"), low_usage, MONDAY_9_BERLIN)

    assert risk_notifications.escalation_reminders(now=WEDNESDAY_1001_BERLIN) == 1

    [row] = _rows(risk_notifications.Kind.ESCALATION_REMINDER)
    assert row.to == [manager.email]
    assert "Waited Since Friday" in row.body
    assert "Asked Monday" not in row.body
    assert "3 business days" in row.body
    assert f"{SITE}{reverse('risks:detail', kwargs={'pk': overdue.risk_id})}" in row.body
    assert f"{SITE}{reverse('risks:approvals')}" in row.body


def test_reminder_is_not_sent_at_exactly_two_business_days(csm, low_usage):
    _pending(factories.AccountFactory(csm=csm), low_usage, FRIDAY_10_BERLIN)

    # Friday 10:00 to Wednesday 09:00 is 2 business days and 23 hours: not yet over 2.
    assert (
        risk_notifications.escalation_reminders(now=dt.datetime(2025, 3, 11, 9, 0, tzinfo=BERLIN))
        == 0
    )
    assert not OutboundMessage.objects.exists()


def test_reminder_is_one_email_per_manager_per_day(
    csm, manager, other_csm, other_manager, low_usage
):
    _pending(factories.AccountFactory(csm=csm, name="First AG"), low_usage, FRIDAY_10_BERLIN)
    _pending(factories.AccountFactory(csm=csm, name="Second AG"), low_usage, FRIDAY_10_BERLIN)
    _pending(
        factories.AccountFactory(csm=other_csm, name="Other Team AG"), low_usage, FRIDAY_10_BERLIN
    )

    risk_notifications.escalation_reminders(now=WEDNESDAY_1001_BERLIN)
    risk_notifications.escalation_reminders(now=WEDNESDAY_1001_BERLIN + dt.timedelta(hours=2))

    rows = {tuple(row.to): row for row in _rows(risk_notifications.Kind.ESCALATION_REMINDER)}
    assert set(rows) == {(manager.email,), (other_manager.email,)}
    assert "First AG" in rows[(manager.email,)].body
    assert "Second AG" in rows[(manager.email,)].body
    assert "Other Team AG" not in rows[(manager.email,)].body
    assert rows[(manager.email,)].subject.startswith("2 escalations waiting")

    risk_notifications.escalation_reminders(now=WEDNESDAY_1001_BERLIN + dt.timedelta(days=1))
    assert len(_rows(risk_notifications.Kind.ESCALATION_REMINDER)) == 4


def test_decided_escalations_are_not_reminded(csm, low_usage, manager):
    escalation = _pending(factories.AccountFactory(csm=csm), low_usage, FRIDAY_10_BERLIN)
    escalation.status = EscalationStatus.REJECTED
    escalation.decided_at = MONDAY_9_BERLIN
    escalation.save()

    assert risk_notifications.escalation_reminders(now=WEDNESDAY_1001_BERLIN) == 0


def test_reminder_task_runs(csm, low_usage, manager, django_capture_on_commit_callbacks):
    from risks.tasks import send_escalation_reminders

    _pending(factories.AccountFactory(csm=csm), low_usage, FRIDAY_10_BERLIN)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_escalation_reminders() == 1
    assert [message.to for message in mail.outbox] == [[manager.email]]


# --- the iCalendar invite -------------------------------------------------------------


def _unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", ""), "bare LF or CR in the invite"
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def _invite(**overrides) -> str:
    fields = {
        "uid": "x@red-account",
        "start": dt.datetime(2025, 3, 12, 14, tzinfo=dt.UTC),
        "end": dt.datetime(2025, 3, 12, 15, tzinfo=dt.UTC),
        "summary": "Review",
        "description": "Agenda",
        "url": "http://127.0.0.1:8000/reviews/",
        **overrides,
    }
    return ics_writer.meeting_invite(**fields)


def test_text_values_are_escaped():
    lines = _unfold(_invite(summary="a\\b;c,d\ne\r\nf"))
    assert "SUMMARY:a\\\\b\\;c\\,d\\ne\\nf" in lines
    parsed = icalendar.Calendar.from_ical(_invite(summary="a;b,c")).walk("VEVENT")[0]
    assert str(parsed["SUMMARY"]) == "a;b,c"


def test_long_lines_are_folded_at_75_octets_without_splitting_characters():
    description = "Überprüfung der Kündigungsrisiken, " * 8
    text = _invite(description=description)

    physical = text.split("\r\n")
    assert all(len(part.encode("utf-8")) <= 75 for part in physical)
    assert any(part.startswith(" ") for part in physical)
    parsed = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    assert str(parsed["DESCRIPTION"]) == description


@override_settings(DEFAULT_FROM_EMAIL="Red Account <red-account@example.com>")
def test_agenda_invite_is_a_valid_request_for_the_meeting(agenda):
    text = ics.agenda_invite(
        agenda,
        url=notifications.agenda_url(agenda),
        attendees=["rita@example.com", "rita@example.com", "carl@example.com"],
        now=dt.datetime(2025, 3, 11, 8, 0, tzinfo=dt.UTC),
    )

    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    lines = _unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 1
    props = {line.split(":", 1)[0]: line.split(":", 1)[1] for line in lines}
    assert props["VERSION"] == "2.0"
    assert props["METHOD"] == "REQUEST"
    assert props["UID"] == f"agenda-{agenda.pk}@red-account"
    assert props["DTSTAMP"] == "20250311T080000Z"
    assert props["DTSTART"] == "20250312T140000Z"  # 15:00 in Berlin (CET)
    assert props["DTEND"] == "20250312T150000Z"
    assert props["SUMMARY"] == "EMEA cross-functional review"
    assert props["DESCRIPTION"] == (
        "Weekly cross-functional review of Europe (EMEA)\\, "
        f"week of 2025-03-10.\\nAgenda: {notifications.agenda_url(agenda)}"
    )
    assert props["URL"] == notifications.agenda_url(agenda)
    assert props['ORGANIZER;CN="Red Account"'] == "mailto:red-account@example.com"
    attendees = [line for line in lines if line.startswith("ATTENDEE")]
    assert [line.rsplit(":", 1)[1] for line in attendees] == [
        "rita@example.com",
        "carl@example.com",
    ]


def test_the_download_publishes_the_event_without_attendees(agenda):
    lines = _unfold(
        ics.agenda_invite(
            agenda,
            url=notifications.agenda_url(agenda),
            attendees=["rita@example.com"],
            method=ics_writer.PUBLISH,
        )
    )
    assert "METHOD:PUBLISH" in lines
    assert not [line for line in lines if line.startswith("ATTENDEE")]


def test_invite_uid_is_stable_per_agenda(agenda):
    first = _unfold(ics.agenda_invite(agenda, url=notifications.agenda_url(agenda)))
    second = _unfold(ics.agenda_invite(agenda, url=notifications.agenda_url(agenda)))
    assert [line for line in first if line.startswith("UID")] == [
        line for line in second if line.startswith("UID")
    ]
