"""The weekly digest (risks.digest): what each role's digest lists, the
Monday 07:00 schedule on each person's clock, once per week, the per-event
emails it replaces (and those it does not), the profile page where a person
chooses it, and the beat task that sends it. The section of risk rule
matches that the rules app adds is tested in tests/rules/test_digest_matches.py."""

from __future__ import annotations

import datetime as dt
import importlib
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import AccountStatus, HealthBand, User
from health.models import HealthScore, Measure
from notifications.models import OutboundMessage
from risks import digest, notifications, services
from risks.models import RiskStatus, Tier
from rules.evaluation import act_on_pending, evaluate_rules
from rules.models import Outcome, Rule, RuleMatch
from tests import factories

pytestmark = pytest.mark.django_db

SITE = "https://risk.example.com"
MONDAY = dt.date(2026, 3, 9)  # ISO week 2026-W11; Berlin on UTC+1, New York on UTC-4
WEEK = "2026-W11"


def utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


# Monday 07:00 in Berlin is 06:00 UTC; in New York 11:00 UTC.
BERLIN_0700 = utc(MONDAY, 6)
NEW_YORK_0700 = utc(MONDAY, 11)
# When the digests below are composed: Monday 07:05 in Berlin.
NOW = utc(MONDAY, 6, 5)


def day(offset: int) -> dt.date:
    """``offset`` days after MONDAY (negative: before)."""
    return MONDAY + dt.timedelta(days=offset)


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


def score(account, as_of: dt.date, band: str, value: int | None = None) -> None:
    """A health score row, mirrored onto the account when it is the newest
    (as the scoring does)."""
    HealthScore.objects.create(
        account=account,
        as_of=as_of,
        score=value,
        band=band,
        coverage=Decimal(1),
        computed_at=timezone.now(),
    )
    newest = HealthScore.objects.filter(account=account).order_by("-as_of").first()
    type(account).objects.filter(pk=account.pk).update(
        health_score=newest.score, health_band=newest.band, health_as_of=newest.as_of
    )


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


def closed_record(account):
    return factories.RiskRecordFactory(
        account=account,
        status=RiskStatus.SAVED,
        closed_by=account.csm,
        closed_at=utc(day(-10), 9),
        arr_retained=0,
        outcome_note="Renewed.",
    )


def on_digest(*people: User) -> None:
    User.objects.filter(pk__in=[person.pk for person in people]).update(weekly_digest=True)
    for person in people:
        person.refresh_from_db()


def digests() -> dict[str, OutboundMessage]:
    found = {}
    for row in OutboundMessage.objects.filter(kind=digest.KIND):
        assert len(row.to) == 1, row.to
        found[row.to[0]] = row
    return found


def risk_url(risk) -> str:
    return f"{SITE}{reverse('risks:detail', args=[risk.pk])}"


def account_url(account) -> str:
    return f"{SITE}{reverse('customer_accounts:detail', args=[account.pk])}"


def titles(section: digest.Section, key: str) -> list[str]:
    if key == "risk":
        return [row["risk"].account.name for row in section.rows]
    if key == "task":
        return [row["task"].title for row in section.rows]
    return [row["account"].name for row in section.rows]


# --- what a digest lists ---


@pytest.fixture
def story(csm, other_csm, manager, region, other_region):
    """Carl (CSM, manager Maria) and Olga (CSM, another team) in EMEA; a
    scene of records, tasks and scores around MONDAY, worked out by hand."""
    acme = factories.AccountFactory(csm=csm, region=region, name="Acme GmbH")
    initech = factories.AccountFactory(csm=csm, region=region, name="Initech")
    umbrella = factories.AccountFactory(csm=csm, region=region, name="Umbrella")
    hooli = factories.AccountFactory(csm=csm, region=region, name="Hooli")
    stark = factories.AccountFactory(csm=csm, region=region, name="Stark")
    wayne = factories.AccountFactory(csm=csm, region=region, name="Wayne")
    tyrell = factories.AccountFactory(csm=csm, region=region, name="Tyrell")
    gone = factories.AccountFactory(
        csm=csm, region=region, name="Gone Ltd", status=AccountStatus.CHURNED, churned_on=day(-3)
    )
    maria_own = factories.AccountFactory(csm=manager, region=region, name="Maria's Own")
    globex = factories.AccountFactory(csm=other_csm, region=region, name="Globex AG")

    acme_risk = factories.RiskRecordFactory(account=acme)
    maria_risk = factories.RiskRecordFactory(account=maria_own, tier=Tier.MANAGER, max_tier=2)
    globex_risk = factories.RiskRecordFactory(account=globex)
    initech_closed = closed_record(initech)

    # Carl's tasks: three days late, due in seven days (the last day in), due
    # in eight (out), done, undated; one on a closed record; Maria's own.
    task(acme_risk, "Call the champion", day(-3), owner=csm)
    task(acme_risk, "Send the quote", day(7), owner=csm)
    task(acme_risk, "Plan the QBR", day(8), owner=csm)
    task(acme_risk, "Done already", day(-5), owner=csm, done_at=utc(day(-4), 9), done_by=csm)
    task(acme_risk, "Someday", None, owner=csm)
    task(initech_closed, "Left on a closed record", day(-2), owner=csm)
    task(acme_risk, "Call their VP", day(0), owner=manager)
    task(globex_risk, "Olga's call", day(-1), owner=other_csm)

    # Scores: the window is the seven days before MONDAY, 2 to 8 March.
    score(acme, day(-17), HealthBand.GREEN, 80)
    score(acme, day(-5), HealthBand.RED, 31)  # turned red on 4 March…
    score(acme, day(-2), HealthBand.YELLOW, 55)  # …and is yellow again
    score(umbrella, day(-3), HealthBand.RED, 20)  # its first score is red
    score(hooli, day(-12), HealthBand.RED, 25)
    score(hooli, day(-4), HealthBand.RED, 22)  # red already before
    score(stark, day(-8), HealthBand.YELLOW, 50)
    score(stark, day(0), HealthBand.RED, 30)  # on the Monday itself: next week's
    score(wayne, day(-9), HealthBand.GREEN, 70)
    score(wayne, day(-8), HealthBand.RED, 35)  # 1 March: the week before
    score(tyrell, day(-9), HealthBand.YELLOW, 50)
    score(tyrell, day(-7), HealthBand.RED, 40)  # 2 March: the window's first day
    score(tyrell, day(-6), HealthBand.YELLOW, 51)
    score(tyrell, day(-1), HealthBand.RED, 39)  # red again: listed once
    score(gone, day(-9), HealthBand.GREEN, 70)
    score(gone, day(-4), HealthBand.RED, 10)  # churned: no longer anyone's worry
    score(maria_own, day(-20), HealthBand.UNKNOWN)
    score(maria_own, day(-1), HealthBand.RED, 29)  # unknown → red on 8 March
    score(globex, day(-3), HealthBand.RED, 15)  # Olga's, not Maria's team
    return {
        "acme": acme,
        "acme_risk": acme_risk,
        "maria_risk": maria_risk,
        "globex_risk": globex_risk,
        "umbrella": umbrella,
        "tyrell": tyrell,
        "maria_own": maria_own,
        "globex": globex,
    }


def test_a_csms_digest_lists_their_records_their_tasks_due_and_their_accounts_turned_red(
    csm, story
):
    carl = digest.compose(csm, NOW)

    assert titles(carl.risks, "risk") == ["Acme GmbH"]
    assert carl.risks.total == 1
    assert titles(carl.tasks, "task") == ["Call the champion", "Send the quote"]
    assert [(row["days_late"], row["days_left"]) for row in carl.tasks.rows] == [(3, 0), (0, 7)]
    # Turned red on 2, 4 and 6 March, in that order; Tyrell once, from its first turn.
    assert titles(carl.red_accounts, "account") == ["Tyrell", "Acme GmbH", "Umbrella"]
    assert [
        (row["account"].turned_red_on, row["account"].turned_red_score, row["still_red"])
        for row in carl.red_accounts.rows
    ] == [(day(-7), 40, True), (day(-5), 31, False), (day(-3), 20, True)]
    assert carl.week_start == MONDAY


def test_a_managers_digest_covers_their_team_and_only_their_own_tasks(manager, story):
    maria = digest.compose(manager, NOW)

    # Tier 2 first, then Carl's tier-1 record; not Olga's (another team).
    assert titles(maria.risks, "risk") == ["Maria's Own", "Acme GmbH"]
    assert titles(maria.tasks, "task") == ["Call their VP"]
    assert maria.tasks.rows[0]["days_left"] == 0
    assert titles(maria.red_accounts, "account") == [
        "Tyrell",
        "Acme GmbH",
        "Umbrella",
        "Maria's Own",
    ]


def test_a_reviewers_digest_has_tier_3_records_and_department_tasks_of_their_region(
    reviewer, region, other_region
):
    emea = factories.AccountFactory(region=region, name="Emea Corp")
    emea_tier2 = factories.AccountFactory(region=region, name="Emea Two")
    na = factories.AccountFactory(region=other_region, name="Na Inc")
    tier3 = factories.RiskRecordFactory(account=emea, tier=Tier.REVIEW, max_tier=Tier.REVIEW)
    factories.RiskRecordFactory(account=emea_tier2, tier=Tier.MANAGER, max_tier=Tier.MANAGER)
    na_tier3 = factories.RiskRecordFactory(account=na, tier=Tier.REVIEW, max_tier=Tier.REVIEW)
    task(tier3, "Confirm the fix date", day(-1), department="product")
    task(tier3, "Price the support plan", day(2), department="support")
    task(na_tier3, "Product call in NA", day(-1), department="product")
    task(na_tier3, "Rita's own", day(3), owner=reviewer)
    score(emea, day(-2), HealthBand.RED, 12)
    score(na, day(-2), HealthBand.RED, 12)

    rita = digest.compose(reviewer, NOW)

    assert titles(rita.risks, "risk") == ["Emea Corp"]
    assert titles(rita.tasks, "task") == ["Confirm the fix date", "Rita's own"]
    assert titles(rita.red_accounts, "account") == ["Emea Corp"]


def test_an_admins_digest_has_every_open_record_from_tier_2(admin_user, region, other_region):
    one = factories.RiskRecordFactory(account=factories.AccountFactory(region=region, name="One"))
    factories.RiskRecordFactory(
        account=factories.AccountFactory(region=region, name="Two"), tier=2, max_tier=2
    )
    factories.RiskRecordFactory(
        account=factories.AccountFactory(region=other_region, name="Three"), tier=3, max_tier=3
    )
    score(one.account, day(-1), HealthBand.RED, 5)

    ada = digest.compose(admin_user, NOW)

    assert titles(ada.risks, "risk") == ["Three", "Two"]
    assert ada.tasks.total == 0
    assert titles(ada.red_accounts, "account") == ["One"]


def test_the_email_lists_each_section_with_links(csm, story):
    on_digest(csm)

    assert digest.send_weekly_digests(now=NOW) == 1

    row = digests()[csm.email]
    assert row.dedupe_key == f"weekly-digest:{csm.pk}:{WEEK}"
    assert row.subject == (
        "Your weekly digest: 1 open record, 2 tasks due, 3 accounts turned red, 0 rule matches"
    )
    body = row.body
    assert "Your weekly digest for the week of 9 March 2026." in body
    assert "Open risk records on your accounts (1):" in body
    assert "- Acme GmbH (EMEA): tier 1, USD 120,000 at risk" in body
    assert "Your tasks due, overdue or within a week (2):" in body
    assert "- Call the champion (Acme GmbH), due 2026-03-06, 3 days late" in body
    assert "- Send the quote (Acme GmbH), due 2026-03-16, in 7 days" in body
    assert "Your accounts that turned red from 2026-03-02 to 2026-03-08 (3):" in body
    assert "- Tyrell (EMEA), red on 2026-03-02 (score 40), CSM Carl Example\n" in body
    assert "- Acme GmbH (EMEA), red on 2026-03-04 (score 31), CSM Carl Example; now yellow" in body
    assert (
        "Risk rules that matched on your accounts from 2026-03-02 to 2026-03-08 (0):\n\nNone.\n"
    ) in body
    assert risk_url(story["acme_risk"]) in body
    assert account_url(story["umbrella"]) in body
    assert f"{SITE}{reverse('profile')}" in body
    for absent in ("Globex", "Initech", "Plan the QBR", "Someday", "Hooli", "Stark", "Wayne"):
        assert absent not in body
    assert "&#x27;" not in body and "&amp;" not in body  # plain text


def test_a_long_section_shows_its_first_rows_and_links_to_the_rest(csm, region, monkeypatch):
    monkeypatch.setattr(digest, "SECTION_LIMIT", 2)
    risk = factories.RiskRecordFactory(account=factories.AccountFactory(csm=csm, region=region))
    for number in range(3):
        task(risk, f"Task {number}", day(number), owner=csm)
    on_digest(csm)

    digest.send_weekly_digests(now=NOW)

    body = digests()[csm.email].body
    assert "Your tasks due, overdue or within a week (3):" in body
    assert "Task 0" in body and "Task 1" in body and "Task 2" not in body
    assert f"… and 1 more:\n{SITE}{reverse('tasks:index')}" in body


def test_composing_a_digest_costs_the_same_queries_whatever_the_number_of_accounts(csm, region):
    def queries() -> int:
        fresh = User.objects.select_related("region").get(pk=csm.pk)
        with CaptureQueriesContext(connection) as captured:
            digest.compose(fresh, NOW)
        return len(captured)

    now = timezone.now()
    red_band = Rule.objects.create(
        name="Red band",
        active=True,
        conditions=[{"type": "band_is", "band": "red"}],
        actions=["notify"],
        created_at=now,
        updated_at=now,
    )

    def add_account(number: int) -> None:
        account = factories.AccountFactory(csm=csm, region=region, name=f"Account {number}")
        risk = factories.RiskRecordFactory(account=account)
        task(risk, f"Task {number}", day(1), owner=csm)
        score(account, day(-10), HealthBand.GREEN, 70)
        score(account, day(-2), HealthBand.RED, 20)
        RuleMatch.objects.create(
            rule=red_band,
            account=account,
            matched_at=utc(day(-2), 9),
            as_of=day(-2),
            risk=risk,
            outcome=Outcome.NOTED,
            acted_at=utc(day(-2), 9, 1),
        )

    add_account(0)
    one = queries()
    for number in range(1, 8):
        add_account(number)
    # One query per section: records, tasks, accounts turned red, rule matches.
    assert queries() == one == 4


# --- when it is sent ---


@pytest.fixture
def berlin(region):
    person = factories.CsmFactory(username="bea", region=region, weekly_digest=True)
    risk = factories.RiskRecordFactory(account=factories.AccountFactory(csm=person, region=region))
    task(risk, "Bea's task", day(1), owner=person)
    return person


@pytest.fixture
def new_york(other_region):
    person = factories.CsmFactory(username="ned", region=other_region, weekly_digest=True)
    factories.RiskRecordFactory(account=factories.AccountFactory(csm=person, region=other_region))
    return person


def test_each_person_gets_it_on_monday_from_0700_on_their_own_clock(berlin, new_york):
    assert digest.send_weekly_digests(now=BERLIN_0700 - dt.timedelta(minutes=1)) == 0
    assert digests() == {}

    assert digest.send_weekly_digests(now=BERLIN_0700) == 1
    assert set(digests()) == {berlin.email}

    # 10:59 UTC: 06:59 in New York; Berlin's digest is sent already.
    assert digest.send_weekly_digests(now=NEW_YORK_0700 - dt.timedelta(minutes=1)) == 0
    assert digest.send_weekly_digests(now=NEW_YORK_0700) == 1
    assert set(digests()) == {berlin.email, new_york.email}
    assert digests()[new_york.email].dedupe_key == f"weekly-digest:{new_york.pk}:{WEEK}"


def test_a_second_run_in_the_same_week_sends_nothing_new_and_next_monday_again(berlin):
    assert digest.send_weekly_digests(now=BERLIN_0700) == 1
    assert digest.send_weekly_digests(now=BERLIN_0700 + dt.timedelta(minutes=15)) == 0
    assert digest.send_weekly_digests(now=utc(day(0), 22)) == 0
    assert OutboundMessage.objects.filter(kind=digest.KIND).count() == 1

    assert digest.send_weekly_digests(now=utc(day(7), 6)) == 1
    assert set(
        OutboundMessage.objects.filter(kind=digest.KIND).values_list("dedupe_key", flat=True)
    ) == {f"weekly-digest:{berlin.pk}:{WEEK}", f"weekly-digest:{berlin.pk}:2026-W12"}


def test_a_missed_monday_is_not_made_up_on_tuesday_or_later(berlin):
    for moment in (utc(day(1), 6), utc(day(1), 12), utc(day(3), 8), utc(day(6), 20)):
        assert digest.send_weekly_digests(now=moment) == 0
    assert digests() == {}
    # Sunday 23:30 UTC is already Monday 00:30 in Berlin: still too early.
    assert digest.send_weekly_digests(now=utc(day(6), 23, 30)) == 0


def test_without_a_region_the_sites_time_zone_decides(settings, region):
    settings.TIME_ZONE = "Asia/Tokyo"  # UTC+9: Monday 07:00 is Sunday 22:00 UTC
    person = factories.CsmFactory(username="nora", region=None, weekly_digest=True)
    risk = factories.RiskRecordFactory(account=factories.AccountFactory(csm=person, region=region))
    task(risk, "Nora's task", day(2), owner=person)

    assert digest.send_weekly_digests(now=utc(day(-1), 21, 59)) == 0
    assert digest.send_weekly_digests(now=utc(day(-1), 22)) == 1
    assert "Nora's task" in digests()[person.email].body


def test_nobody_off_the_digest_inactive_without_an_address_or_with_nothing_gets_one(region):
    def person_with_a_record(username: str, **fields) -> User:
        person = factories.CsmFactory(username=username, region=region, **fields)
        factories.RiskRecordFactory(account=factories.AccountFactory(csm=person, region=region))
        return person

    person_with_a_record("off")
    person_with_a_record("left", weekly_digest=True, is_active=False)
    person_with_a_record("mute", weekly_digest=True, email="")
    quiet = factories.CsmFactory(username="quiet", region=region, weekly_digest=True)
    calm = factories.AccountFactory(csm=quiet, region=region)
    score(calm, day(-3), HealthBand.GREEN, 90)  # a score, but not red
    closed_record(calm)

    assert digest.send_weekly_digests(now=NOW) == 0
    assert digests() == {}


def test_the_beat_task_sends_after_commit(berlin, monkeypatch, django_capture_on_commit_callbacks):
    from risks.tasks import send_weekly_digests

    monkeypatch.setattr(timezone, "now", lambda: BERLIN_0700 + dt.timedelta(minutes=3))
    with django_capture_on_commit_callbacks(execute=True):
        assert send_weekly_digests.delay().get() == 1

    [message] = mail.outbox
    assert message.to == [berlin.email]
    assert message.subject == (
        "Your weekly digest: 1 open record, 1 task due, 0 accounts turned red, 0 rule matches"
    )
    assert "- Bea's task" in message.body


def test_the_digest_is_scheduled_every_15_minutes_by_a_migration():
    scheduled = PeriodicTask.objects.get(name="Send the weekly digests")

    assert scheduled.task == "risks.tasks.send_weekly_digests"
    assert scheduled.enabled
    assert (scheduled.interval.every, scheduled.interval.period) == (15, "minutes")


def test_seeding_again_leaves_an_edited_schedule_alone_and_restores_a_deleted_one():
    seed = importlib.import_module("risks.migrations.0010_seed_weekly_digest").seed
    PeriodicTask.objects.filter(name="Send the weekly digests").update(enabled=False)

    seed(django_apps, None)
    assert not PeriodicTask.objects.get(name="Send the weekly digests").enabled

    PeriodicTask.objects.filter(name="Send the weekly digests").delete()
    seed(django_apps, None)
    restored = PeriodicTask.objects.get(name="Send the weekly digests")
    assert restored.enabled and restored.interval.every == 15


# --- the per-event emails it replaces ---


def test_the_overdue_task_reminder_skips_people_on_the_digest(csm, other_csm, region):
    mine = factories.RiskRecordFactory(account=factories.AccountFactory(csm=csm, region=region))
    theirs = factories.RiskRecordFactory(
        account=factories.AccountFactory(csm=other_csm, region=region)
    )
    task(mine, "Carl's late task", day(-2), owner=csm)
    task(theirs, "Olga's late task", day(-2), owner=other_csm)
    on_digest(csm)

    assert notifications.task_reminders(now=utc(day(0), 7, 30)) == 1

    [row] = OutboundMessage.objects.filter(kind=notifications.Kind.TASKS_OVERDUE)
    assert row.to == [other_csm.email]
    # …and Carl's digest lists it instead.
    digest.send_weekly_digests(now=utc(day(0), 7, 30))
    assert "Carl's late task" in digests()[csm.email].body


def test_a_matched_rule_emails_only_the_people_not_on_the_digest_and_the_digest_lists_it(
    csm, manager, region, monkeypatch
):
    """A rule about usage, not the red band: Acme stays green. Carl is on the
    digest and gets no email of the match, his manager Maria is not and does;
    Carl's Monday digest lists it."""
    usage = Measure.objects.get(code="usage-volume")  # scored by its change
    account = factories.AccountFactory(csm=csm, region=region, name="Acme")
    # Baseline before the latest: the mean of 1,000 and 1,000; latest 400 → -60%.
    for offset, events in ((-60, 1000), (-30, 1000), (-4, 400)):
        factories.ObservationFactory(
            account=account, measure=usage, value=Decimal(events), observed_on=day(offset)
        )
    score(account, day(-4), HealthBand.GREEN, 74)
    now = timezone.now()
    Rule.objects.create(
        name="Usage falling",
        active=True,
        conditions=[{"type": "measure_change_below", "measure": "usage-volume", "percent": -30}],
        actions=["notify"],
        created_at=now,
        updated_at=now,
    )
    on_digest(csm)

    with monkeypatch.context() as clock:
        clock.setattr(timezone, "now", lambda: utc(day(-4), 5))  # Thursday, 06:00 in Berlin
        assert evaluate_rules(as_of=day(-4)).matched == 1
        assert act_on_pending() == 1

    [row] = OutboundMessage.objects.filter(kind="rule_matched")
    assert row.to == [manager.email]
    assert row.subject == "Acme: the rule \u201cUsage falling\u201d matched"

    assert digest.send_weekly_digests(now=NOW) == 1
    assert set(digests()) == {csm.email}  # Maria is not on the digest
    body = digests()[csm.email].body
    assert (
        "Risk rules that matched on your accounts from 2026-03-02 to 2026-03-08 (1):\n\n"
        "- \u201cUsage falling\u201d matched Acme (EMEA) on 2026-03-05: notified, "
        f"CSM Carl Example\n  {account_url(account)}\n"
    ) in body
    assert "Your accounts that turned red from 2026-03-02 to 2026-03-08 (0):" in body


def test_a_matched_rule_emails_nobody_when_both_are_on_the_digest(csm, manager, region):
    account = factories.AccountFactory(csm=csm, region=region, name="Acme")
    score(account, day(-1), HealthBand.RED, 31)
    now = timezone.now()
    Rule.objects.create(
        name="Red band",
        active=True,
        conditions=[{"type": "band_is", "band": "red"}],
        actions=["notify"],
        created_at=now,
        updated_at=now,
    )
    on_digest(csm, manager)

    evaluate_rules(as_of=day(-1))
    act_on_pending()

    assert not OutboundMessage.objects.filter(kind="rule_matched").exists()


def test_escalation_requests_still_reach_a_manager_on_the_digest(csm, manager, account, low_usage):
    on_digest(csm, manager)
    risk = services.risk_open(
        user=csm,
        account=account,
        primary_cause=low_usage,
        summary="Usage fell.",
        next_steps="Call.",
    )

    services.escalation_request(user=csm, risk=risk, reason="Needs the manager.")

    to_maria = [row for row in OutboundMessage.objects.all() if manager.email in (row.to or [])]
    assert f"Escalation to tier 2 requested: {account.name}" in [row.subject for row in to_maria]


# --- the profile page ---


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer", "admin_user"])
def test_every_role_sees_their_profile_with_the_digest_choice(client, request, role):
    person = request.getfixturevalue(role)
    client.force_login(person)

    response = client.get(reverse("profile"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Your profile" in page
    assert person.email in page
    assert person.get_role_display() in page
    assert 'name="weekly_digest"' in page and "checked" not in page
    assert "Weekly digest instead of per-event email" in page
    assert f'href="{reverse("profile")}"' in page  # the menu's link
    if person.region:
        assert f"{person.region.code} — {person.region.name}" in page
        assert "Europe/Berlin" in page


def test_saving_the_profile_turns_the_digest_on_and_off(client, csm):
    client.force_login(csm)

    response = client.post(reverse("profile"), {"weekly_digest": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("profile")
    csm.refresh_from_db()
    assert csm.weekly_digest is True
    page = client.get(reverse("profile")).content.decode()
    assert "checked" in page
    assert "Saved: you get the weekly digest instead of per-event email." in page

    client.post(reverse("profile"), {})
    csm.refresh_from_db()
    assert csm.weekly_digest is False


def test_anonymous_visitors_are_sent_to_sign_in(client, csm):
    for response in (
        client.get(reverse("profile")),
        client.post(reverse("profile"), {"weekly_digest": "on"}),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    csm.refresh_from_db()
    assert csm.weekly_digest is False
