"""The daily reminder of overdue tasks (risks.notifications.task_reminders and
the beat task that runs it): one email per person listing every open task of
an open record that is past its due date; a department's task goes to that
department's reviewers in the account's region."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from notifications.models import OutboundMessage
from risks import notifications
from risks.models import RiskStatus, TaskSource
from tests import factories

pytestmark = pytest.mark.django_db

SITE = "https://risk.example.com"
TODAY = dt.date(2026, 3, 11)  # a Wednesday
YESTERDAY = TODAY - dt.timedelta(days=1)
LAST_WEEK = TODAY - dt.timedelta(days=7)


def at(day: dt.date) -> dt.datetime:
    """The moment the daily reminder runs on ``day``: 07:30 UTC."""
    return dt.datetime.combine(day, dt.time(7, 30), tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


def rows() -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(kind=notifications.Kind.TASKS_OVERDUE))


def by_address() -> dict[str, OutboundMessage]:
    found = {}
    for row in rows():
        assert len(row.to) == 1, row.to
        found[row.to[0]] = row
    return found


def task(risk, title, due_date, *, owner=None, department="", **fields):
    return factories.TaskFactory(
        risk=risk,
        title=title,
        owner=owner,
        department=department,
        due_date=due_date,
        created_by=risk.account.csm,
        **fields,
    )


@pytest.fixture
def risk(csm, region):
    account = factories.AccountFactory(csm=csm, region=region, name="Acme GmbH")
    return factories.RiskRecordFactory(account=account)


def test_one_email_per_person_lists_all_their_overdue_tasks(risk, csm, manager, other_csm):
    other_account = factories.AccountFactory(csm=other_csm, name="Globex AG")
    other_risk = factories.RiskRecordFactory(account=other_account)
    task(risk, "Call the champion", LAST_WEEK, owner=csm)
    task(risk, "Send the usage report", YESTERDAY, owner=csm)
    task(other_risk, "Book the QBR", YESTERDAY, owner=csm)
    task(risk, "Call their VP", YESTERDAY, owner=manager)

    assert notifications.task_reminders(now=at(TODAY)) == 2

    emails = by_address()
    assert set(emails) == {csm.email, manager.email}
    carl = emails[csm.email]
    assert carl.subject == "3 overdue tasks on risk records"
    assert carl.dedupe_key == f"tasks-overdue:{csm.pk}:2026-03-11"
    # Longest overdue first, each with its account, due date, lateness and link.
    body = carl.body
    assert body.index("Call the champion") < body.index("Send the usage report")
    assert "- Call the champion (Acme GmbH), due 2026-03-04, 7 days late" in body
    assert "- Send the usage report (Acme GmbH), due 2026-03-10, 1 day late" in body
    assert "- Book the QBR (Globex AG), due 2026-03-10, 1 day late" in body
    assert f"{SITE}{reverse('risks:detail', args=[risk.pk])}" in body
    assert f"{SITE}{reverse('risks:detail', args=[other_risk.pk])}" in body
    assert f"{SITE}{reverse('tasks:index')}" in body
    assert "Call their VP" not in body
    maria = emails[manager.email]
    assert maria.subject == "1 overdue task on risk records"
    assert "Call their VP" in maria.body and "Call the champion" not in maria.body
    assert "&#x27;" not in body and "&amp;" not in body  # plain text


def test_done_tasks_and_tasks_not_yet_due_are_not_reminded(risk, csm):
    task(risk, "Done late", LAST_WEEK, owner=csm, done_at=dt.datetime(2026, 3, 9, tzinfo=dt.UTC))
    task(risk, "Due today", TODAY, owner=csm)
    task(risk, "Due tomorrow", TODAY + dt.timedelta(days=1), owner=csm)
    task(risk, "No date", None, owner=csm)

    assert notifications.task_reminders(now=at(TODAY)) == 0
    assert rows() == []

    task(risk, "Late", YESTERDAY, owner=csm)
    assert notifications.task_reminders(now=at(TODAY)) == 1
    [row] = rows()
    assert "Late" in row.body
    for title in ("Done late", "Due today", "Due tomorrow", "No date"):
        assert title not in row.body


@pytest.mark.parametrize("outcome", [RiskStatus.SAVED, RiskStatus.CHURNED, RiskStatus.WITHDRAWN])
def test_tasks_of_closed_records_are_not_reminded(csm, manager, region, outcome):
    account = factories.AccountFactory(csm=csm, region=region)
    closed = factories.RiskRecordFactory(
        account=account,
        status=outcome,
        closed_by=csm,
        closed_at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC),
        arr_retained=0,
        outcome_note="Over.",
    )
    task(closed, "Left open on a closed record", LAST_WEEK, owner=csm)

    assert notifications.task_reminders(now=at(TODAY)) == 0
    assert rows() == []


def test_a_departments_task_goes_to_its_reviewers_in_the_accounts_region_only(
    risk, region, other_region
):
    pia = factories.ReviewerFactory(username="pia", region=region, department="product")
    paul = factories.ReviewerFactory(username="paul", region=region, department="product")
    factories.ReviewerFactory(username="sam", region=region, department="support")
    factories.ReviewerFactory(username="nils", region=other_region, department="product")
    factories.ReviewerFactory(username="gone", region=region, department="product", is_active=False)
    factories.ReviewerFactory(username="mute", region=region, department="product", email="")
    # A manager or CSM of the department (if one had it set) is no reviewer.
    factories.ManagerFactory(username="max", region=region, department="product")
    task(risk, "Confirm the fix date", YESTERDAY, department="product")

    assert notifications.task_reminders(now=at(TODAY)) == 2

    emails = by_address()
    assert set(emails) == {pia.email, paul.email}
    assert "Confirm the fix date" in emails[pia.email].body
    assert "Product" in emails[pia.email].body


def test_a_reviewer_gets_their_own_and_their_departments_tasks_in_one_email(risk, region, csm):
    pia = factories.ReviewerFactory(username="pia", region=region, department="product")
    task(risk, "Confirm the fix date", YESTERDAY, department="product")
    task(risk, "Join the exec call", LAST_WEEK, owner=pia, source=TaskSource.REVIEW)

    assert notifications.task_reminders(now=at(TODAY)) == 1

    [row] = rows()
    assert row.to == [pia.email]
    assert row.subject == "2 overdue tasks on risk records"
    assert "Confirm the fix date" in row.body and "Join the exec call" in row.body


def test_a_task_with_an_owner_goes_to_the_owner_not_the_department(risk, region, csm):
    factories.ReviewerFactory(username="pia", region=region, department="product")
    task(risk, "Scope the fix", YESTERDAY, owner=csm, department="product")

    notifications.task_reminders(now=at(TODAY))

    assert [row.to for row in rows()] == [[csm.email]]


def test_a_department_without_reviewers_in_the_region_emails_nobody(risk, other_region):
    factories.ReviewerFactory(username="nils", region=other_region, department="finance")
    task(risk, "Check the credit", YESTERDAY, department="finance")

    assert notifications.task_reminders(now=at(TODAY)) == 0
    assert rows() == []


def test_an_owner_who_has_left_gets_no_email(risk, csm):
    csm.is_active = False
    csm.save(update_fields=["is_active"])
    task(risk, "Call", YESTERDAY, owner=csm)

    assert notifications.task_reminders(now=at(TODAY)) == 0
    assert rows() == []


def test_running_twice_on_one_day_queues_nothing_new_and_the_next_day_again(risk, csm):
    task(risk, "Call the champion", LAST_WEEK, owner=csm)
    notifications.task_reminders(now=at(TODAY))
    [first] = rows()

    task(risk, "Another late one", YESTERDAY, owner=csm)
    notifications.task_reminders(now=at(TODAY))

    assert rows() == [first]
    first.refresh_from_db()
    assert "Another late one" not in first.body

    notifications.task_reminders(now=at(TODAY + dt.timedelta(days=1)))
    assert len(rows()) == 2
    newest = OutboundMessage.objects.get(dedupe_key=f"tasks-overdue:{csm.pk}:2026-03-12")
    assert "Another late one" in newest.body and "Call the champion" in newest.body


def test_a_task_is_late_by_the_date_in_its_accounts_region(csm):
    # At 07:30 UTC on Wednesday 11 March it is still Tuesday evening in
    # Honolulu (21:30, UTC-10) and already Wednesday afternoon in Tokyo.
    west = factories.RegionFactory(code="WEST", timezone="Pacific/Honolulu")
    east = factories.RegionFactory(code="EAST", timezone="Asia/Tokyo")
    honolulu = factories.RiskRecordFactory(account=factories.AccountFactory(csm=csm, region=west))
    tokyo = factories.RiskRecordFactory(account=factories.AccountFactory(csm=csm, region=east))
    task(honolulu, "Due Tuesday in Honolulu", YESTERDAY, owner=csm)
    task(honolulu, "Due Monday in Honolulu", YESTERDAY - dt.timedelta(days=1), owner=csm)
    task(tokyo, "Due Tuesday in Tokyo", YESTERDAY, owner=csm)

    assert notifications.task_reminders(now=at(TODAY)) == 1

    [row] = rows()
    assert "Due Monday in Honolulu" in row.body and "1 day late" in row.body
    assert "Due Tuesday in Tokyo" in row.body
    assert "Due Tuesday in Honolulu" not in row.body
    assert row.subject == "2 overdue tasks on risk records"


def _reminder_queries(today: dt.date) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert notifications.task_reminders(now=at(today)) == 2
    return len(captured)


def test_the_reminder_costs_the_same_queries_for_one_and_many_tasks(risk, csm, region):
    factories.ReviewerFactory(username="pia", region=region, department="product")
    task(risk, "Late", YESTERDAY, owner=csm)
    task(risk, "Product", YESTERDAY, department="product")
    one_each = _reminder_queries(TODAY)
    for number in range(12):
        task(risk, f"Late {number}", YESTERDAY, owner=csm)
        task(risk, f"Product {number}", YESTERDAY, department="product")

    # A day later: new dedupe keys, so the same two emails are written again.
    assert _reminder_queries(TODAY + dt.timedelta(days=1)) == one_each
    assert {row.subject for row in rows()} == {
        "1 overdue task on risk records",
        "13 overdue tasks on risk records",
    }


def test_the_task_runs_for_today_and_sends_after_commit(
    risk, csm, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from risks.tasks import send_task_reminders

    today = risk.account.local_date(timezone.now())  # in the account's region
    task(risk, "Call the champion", today - dt.timedelta(days=2), owner=csm)
    task(risk, "Due today", today, owner=csm)

    with django_capture_on_commit_callbacks(execute=True):
        assert send_task_reminders() == 1

    [message] = mail.outbox
    assert message.to == [csm.email]
    assert message.subject == "1 overdue task on risk records"
    assert "Call the champion" in message.body and "Due today" not in message.body


def test_the_daily_reminder_is_scheduled_by_a_migration_at_0730_utc():
    scheduled = PeriodicTask.objects.get(name="Remind owners of overdue tasks")

    assert scheduled.task == "risks.tasks.send_task_reminders"
    assert scheduled.enabled
    crontab = scheduled.crontab
    assert (crontab.minute, crontab.hour) == ("30", "7")
    assert (crontab.day_of_week, crontab.day_of_month, crontab.month_of_year) == ("*", "*", "*")
    assert str(crontab.timezone) == "UTC"
