from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F
from django.utils import timezone

from accounts.models import Account, Region, Role, User
from demo import data as demo_data
from demo.content import REGIONS
from demo.data import SEGMENT_ARR
from reviews import scheduling
from reviews.models import Agenda
from risks.models import (
    Escalation,
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    TimelineEvent,
    TimelineKind,
)
from rules.evaluation import SYSTEM_USERNAME
from tests import factories

pytestmark = pytest.mark.django_db


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded() -> str:
    return seed_demo()


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Region, User, Account, RiskRecord, Escalation, TimelineEvent)
    }


def test_seed_creates_four_regions_each_with_a_weekly_review_slot(seeded):
    regions = {region.code: region for region in Region.objects.all()}
    assert set(regions) == {"NA", "EMEA", "APAC", "LATAM"}
    assert regions["NA"].timezone == "America/New_York"
    assert regions["EMEA"].timezone == "Europe/Berlin"
    assert regions["APAC"].timezone == "Asia/Singapore"
    assert regions["LATAM"].timezone == "America/Sao_Paulo"
    for region in regions.values():
        assert 0 <= region.review_weekday <= 6
        assert dt.time(8) <= region.review_time <= dt.time(18)


def test_demo_logins_have_password_demo_and_their_roles(seeded):
    admin, manager, csm, reviewer = (
        User.objects.get(username=name) for name in ("admin", "manager", "csm", "reviewer")
    )
    for user in (admin, manager, csm, reviewer):
        assert user.check_password("demo")
        assert user.email.endswith("@example.com")
        assert user.first_name and user.last_name
    assert admin.role == Role.ADMIN and admin.is_staff and admin.is_superuser
    assert manager.role == Role.MANAGER and not manager.is_staff and not manager.is_superuser
    assert manager.region.code == "EMEA"
    assert csm.role == Role.CSM and csm.region.code == "EMEA" and csm.manager == manager
    assert not csm.is_staff
    assert reviewer.role == Role.REVIEWER and reviewer.region.code == "EMEA"
    assert reviewer.department == "product"


def test_every_region_has_managers_csms_with_a_manager_and_reviewers_of_each_department(seeded):
    for region in Region.objects.all():
        people = User.objects.filter(region=region)
        managers = people.filter(role=Role.MANAGER)
        assert managers.exists()
        for manager in managers:
            assert 3 <= manager.team.filter(role=Role.CSM, region=region).count() <= 4
        assert not people.filter(role=Role.CSM, manager__isnull=True).exists()
        departments = set(people.filter(role=Role.REVIEWER).values_list("department", flat=True))
        assert departments == {"professional_services", "product", "support", "sales", "finance"}


def test_seed_creates_about_150_plausible_accounts_owned_by_csms_of_their_region(seeded):
    accounts = Account.objects.select_related("segment", "csm", "region")
    assert accounts.count() == 150
    assert accounts.filter(external_id__startswith="DEMO-").count() == 150
    assert len(set(accounts.values_list("name", flat=True))) == 150
    assert set(accounts.values_list("region__code", flat=True)) == {"NA", "EMEA", "APAC", "LATAM"}
    assert set(accounts.values_list("segment__code", flat=True)) == set(SEGMENT_ARR)
    today = timezone.localdate()
    for account in accounts:
        low, high = SEGMENT_ARR[account.segment.code]
        assert low <= account.arr <= high
        assert account.arr % 100 == 0
        assert today - dt.timedelta(days=31) <= account.renewal_date
        assert account.renewal_date <= today + dt.timedelta(days=460)
        assert account.csm.role == Role.CSM
        assert account.csm.region_id == account.region_id


def test_open_records_exist_at_every_tier(seeded):
    open_records = RiskRecord.objects.filter(status=RiskStatus.OPEN)
    tiers = dict(open_records.values_list("tier").annotate(n=Count("id")))
    assert set(tiers) == {1, 2, 3}
    assert tiers[1] > tiers[2] > tiers[3] >= 5
    assert 35 <= open_records.count() <= 45
    # De-escalated records keep the highest tier they reached.
    assert open_records.filter(max_tier__gt=F("tier")).exists()


def test_demo_csm_owns_open_records_at_every_tier_and_one_awaiting_the_demo_manager(seeded):
    csm = User.objects.get(username="csm")
    open_records = RiskRecord.objects.filter(account__csm=csm, status=RiskStatus.OPEN)
    assert set(open_records.values_list("tier", flat=True)) == {1, 2, 3}
    pending = Escalation.objects.filter(risk__in=open_records, status=EscalationStatus.PENDING)
    assert pending.exists()
    assert all(escalation.requested_by == csm for escalation in pending)


def test_pending_escalations_await_the_demo_manager_and_none_is_beyond_tier_3(seeded):
    pending = Escalation.objects.filter(status=EscalationStatus.PENDING).select_related(
        "risk__account__csm"
    )
    assert 5 <= pending.count() <= 8
    assert pending.filter(risk__account__csm__manager__username="manager").exists()
    for escalation in pending:
        assert escalation.risk.status == RiskStatus.OPEN
        assert escalation.risk.tier == escalation.from_tier < 3
        assert escalation.requested_by == escalation.risk.account.csm
        assert escalation.decided_at is None and escalation.decided_by is None
        assert escalation.risk.events.filter(
            kind=TimelineKind.ESCALATION_REQUESTED, data__escalation=escalation.pk
        ).exists()


def test_closed_records_cover_every_outcome_over_at_least_ten_months_of_the_last_year(seeded):
    closed = RiskRecord.objects.exclude(status=RiskStatus.OPEN)
    assert 100 <= closed.count() <= 140
    assert set(closed.values_list("status", flat=True)) == {"saved", "churned", "withdrawn"}
    a_year_ago = timezone.now() - dt.timedelta(days=365)
    assert not closed.filter(closed_at__lt=a_year_ago).exists()
    months = {(at.year, at.month) for at in closed.values_list("closed_at", flat=True)}
    assert len(months) >= 10
    assert set(closed.values_list("max_tier", flat=True)) == {1, 2, 3}
    for record in closed:
        assert dt.timedelta(days=2) <= record.closed_at - record.opened_at
        assert record.closed_at - record.opened_at <= dt.timedelta(days=121)


def test_saves_include_partial_downsells_and_other_outcomes_retain_nothing(seeded):
    saved = RiskRecord.objects.filter(status=RiskStatus.SAVED)
    assert saved.filter(arr_retained__lt=F("arr_at_risk")).exists()
    assert saved.filter(arr_retained=F("arr_at_risk")).exists()
    lost = RiskRecord.objects.filter(status__in=[RiskStatus.CHURNED, RiskStatus.WITHDRAWN])
    assert set(lost.values_list("arr_retained", flat=True)) == {Decimal("0")}


def test_adoption_causes_are_saved_more_often_than_missing_capability_or_reorganisation(seeded):
    def save_rate(codes: list[str]) -> float:
        closed = RiskRecord.objects.filter(primary_cause__code__in=codes)
        saved = closed.filter(status=RiskStatus.SAVED).count()
        churned = closed.filter(status=RiskStatus.CHURNED).count()
        return saved / (saved + churned)

    adoption = save_rate(["low-usage", "incomplete-onboarding"])
    structural = save_rate(["missing-capability", "organisational-change"])
    assert adoption > 0.6 > 0.4 > structural


def test_secondary_cause_is_on_about_a_third_of_records_and_never_the_primary(seeded):
    records = RiskRecord.objects.all()
    with_secondary = records.filter(secondary_cause__isnull=False)
    assert 0.2 <= with_secondary.count() / records.count() <= 0.45
    assert not with_secondary.filter(secondary_cause=F("primary_cause")).exists()


def test_every_record_has_a_timeline_as_the_services_would_have_written_it(seeded):
    now = timezone.now()
    records = RiskRecord.objects.select_related("account__csm").prefetch_related(
        "events", "escalations"
    )
    for record in records:
        events = list(record.events.all())
        assert events[0].kind == TimelineKind.OPENED
        assert events[0].at == record.opened_at
        assert events[0].data["arr_at_risk"] == str(record.arr_at_risk)
        assert [event.at for event in events] == sorted(event.at for event in events)
        assert events[-1].at <= (record.closed_at or now)
        if record.is_open:
            assert TimelineKind.CLOSED not in {event.kind for event in events}
        else:
            assert events[-1].kind == TimelineKind.CLOSED
            assert events[-1].data["outcome"] == record.status
            assert events[-1].data["arr_retained"] == str(record.arr_retained)
        # The services bump the version on every tier change and on closing.
        tier_changes = sum(
            event.kind in (TimelineKind.ESCALATION_APPROVED, TimelineKind.DEESCALATED)
            for event in events
        )
        assert record.version == 1 + tier_changes + (0 if record.is_open else 1)
        assert record.tier_changed_at >= record.opened_at


def test_escalation_events_match_escalation_rows_decided_by_the_csms_manager(seeded):
    escalations = Escalation.objects.select_related("risk__account__csm")
    assert escalations.filter(status=EscalationStatus.APPROVED).count() > 50
    for escalation in escalations:
        kinds = set(
            TimelineEvent.objects.filter(
                risk=escalation.risk, data__escalation=escalation.pk
            ).values_list("kind", flat=True)
        )
        assert TimelineKind.ESCALATION_REQUESTED in kinds
        if escalation.status == EscalationStatus.APPROVED:
            assert TimelineKind.ESCALATION_APPROVED in kinds
            assert escalation.decided_by == escalation.risk.account.csm.manager
            assert escalation.risk.max_tier >= escalation.to_tier
        if escalation.status == EscalationStatus.CANCELLED:
            assert not escalation.risk.is_open
            assert escalation.risk.events.filter(
                kind=TimelineKind.CLOSED, data__cancelled_escalation=escalation.pk
            ).exists()


def test_running_twice_creates_nothing_new(seeded):
    before = row_counts()

    output = seed_demo()

    assert row_counts() == before
    assert "Accounts: 0 created, 150 already present." in output
    assert "Risk records: 0 created" in output


def test_an_existing_demo_user_keeps_their_password():
    factories.CsmFactory(username="csm", password="my-own-password")

    seed_demo()

    assert User.objects.get(username="csm").check_password("my-own-password")
    assert User.objects.get(username="manager").check_password("demo")


def test_seed_is_refused_when_demo_data_is_not_allowed(settings):
    settings.DEMO_DATA_ALLOWED = False

    with pytest.raises(CommandError, match="DEMO_DATA_ALLOWED"):
        seed_demo()

    # Only the rules' system user, which a migration writes, is there.
    assert not User.objects.exclude(username=SYSTEM_USERNAME).exists()
    assert not Account.objects.exists()


def test_every_region_has_its_next_review_agenda_built_from_the_records(seeded):
    agendas = Agenda.objects.select_related("region")
    assert sorted(agenda.region.code for agenda in agendas) == ["APAC", "EMEA", "LATAM", "NA"]
    assert all(agenda.meeting_at > timezone.now() for agenda in agendas)
    tier3_open = RiskRecord.objects.filter(status="open", tier=3).count()
    on_agendas = sum(
        agenda.items.filter(section__in=["new", "carried_over"]).count() for agenda in agendas
    )
    assert on_agendas == tier3_open > 0


@pytest.mark.django_db
def test_only_demo_admins_reach_the_django_admin(client):
    call_command("seed_demo", stdout=StringIO())
    staff = set(User.objects.filter(is_staff=True).values_list("role", flat=True))
    assert staff == {Role.ADMIN}

    client.force_login(User.objects.get(username="manager"))
    assert client.get("/admin/").status_code == 302  # to the admin's sign-in, not a 403 maze


@pytest.mark.django_db
def test_demo_accounts_whose_record_churned_are_churned():
    call_command("seed_demo", stdout=StringIO())

    churned_records = RiskRecord.objects.filter(status="churned").select_related("account")
    assert churned_records.exists()
    for record in churned_records:
        assert record.account.status == "churned"
        assert record.account.churned_on == timezone.localdate(record.closed_at)
    active_with_open = Account.objects.filter(risks__status="open")
    assert not active_with_open.filter(status="churned").exists()


@pytest.mark.django_db
def test_the_seed_works_at_the_very_minute_a_review_starts():
    """The seed rounds "now" to the minute: run at the minute a region's review
    starts, it must build the following week's agenda, not refuse the started one."""
    code, name, zone, weekday, review_time = next(row for row in REGIONS if row[0] == "NA")
    slot = Region(code=code, name=name, timezone=zone, review_weekday=weekday,
                  review_time=review_time)  # fmt: skip
    _, meeting_at = scheduling.next_meeting(slot, timezone.now())

    demo_data.seed_demo(now=meeting_at)

    agenda = Agenda.objects.get(region__code="NA")
    assert agenda.meeting_at == meeting_at + dt.timedelta(weeks=1)


@pytest.mark.django_db
def test_the_demo_csm_has_an_account_to_file_on():
    from risks import selectors

    call_command("seed_demo", stdout=StringIO())

    csm = User.objects.get(username="csm")
    fileable = selectors.fileable_accounts(csm).filter(open_risk_id__isnull=True)
    assert fileable.exists()
