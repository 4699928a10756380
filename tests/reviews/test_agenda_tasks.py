"""The agenda tasks: their logic in-process, and once end to end through a real
``celery -A config worker`` on Redis."""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery_app import app as celery_app
from reviews.models import Agenda, AgendaItem, AgendaStatus
from reviews.tasks import generate_due_agendas, generate_region_agenda
from risks.models import RiskRecord
from tests import factories
from tests.reviews.conftest import tier3_risk
from tests.workers import database_url, start_worker, stop_worker


def region_meeting_in(hours: float, code: str = "EMEA"):
    """A region whose weekly meeting starts ``hours`` from now (to the minute)."""
    zone = ZoneInfo("Europe/Berlin")
    local = (timezone.now() + dt.timedelta(hours=hours)).astimezone(zone)
    return factories.RegionFactory(
        code=code,
        timezone="Europe/Berlin",
        review_weekday=local.weekday(),
        review_time=local.time().replace(second=0, microsecond=0),
    )


def tier3_risk_in(region) -> RiskRecord:
    """A record that has just reached tier 3, of an account of ``region``."""
    # The manager in the same region: the factories' default region (EMEA, Wednesday
    # 15:00 Berlin) would itself be due on Tuesdays and Wednesdays.
    manager = factories.ManagerFactory(username=f"manager-{region.code}", region=region)
    csm = factories.CsmFactory(username=f"csm-{region.code}", region=region, manager=manager)
    account = factories.AccountFactory(region=region, csm=csm, arr=Decimal("250000.00"))
    return tier3_risk(account, tier_changed_at=timezone.now())


# --- the logic, in-process ---------------------------------------------------------------


@pytest.mark.django_db
def test_due_regions_get_their_agenda_and_others_do_not(emails, django_capture_on_commit_callbacks):
    due = region_meeting_in(hours=3, code="DUE")
    later = region_meeting_in(hours=30, code="LATER")
    risk = tier3_risk_in(due)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert generate_due_agendas.apply().get() == ["DUE"]

    assert len(callbacks) == 1, "the fan-out is enqueued only after commit"
    agenda = Agenda.objects.get()
    assert agenda.region == due
    assert list(agenda.items.values_list("risk", flat=True)) == [risk.pk]
    assert not Agenda.objects.filter(region=later).exists()


@pytest.mark.django_db
def test_running_the_tasks_again_changes_nothing(emails, django_capture_on_commit_callbacks):
    region = region_meeting_in(hours=3)
    tier3_risk_in(region)
    with django_capture_on_commit_callbacks(execute=True):
        generate_due_agendas.apply()
    agenda = Agenda.objects.get()
    items = list(AgendaItem.objects.values_list("pk", "risk", "section", "position"))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert generate_due_agendas.apply().get() == []
    assert callbacks == []
    assert generate_region_agenda.apply(args=(region.pk, agenda.week_start.isoformat())).get() == (
        agenda.pk
    )

    assert Agenda.objects.get() == agenda
    assert list(AgendaItem.objects.values_list("pk", "risk", "section", "position")) == items
    assert len(emails) == 1


@pytest.mark.django_db
def test_region_task_for_a_meeting_already_started_generates_nothing(emails):
    region = region_meeting_in(hours=-1)
    week_start = (timezone.now() - dt.timedelta(hours=1)).astimezone(ZoneInfo("Europe/Berlin"))
    monday = week_start.date() - dt.timedelta(days=week_start.weekday())

    assert generate_region_agenda.apply(args=(region.pk, monday.isoformat())).get() is None
    assert not Agenda.objects.exists()


@pytest.mark.django_db
def test_region_task_for_a_deleted_region_is_a_no_op():
    assert generate_region_agenda.apply(args=(987654, "2026-06-01")).get() is None


@pytest.mark.django_db
def test_due_check_marks_agendas_whose_meeting_started_as_held(emails):
    region = factories.RegionFactory(code="OLD")
    agenda = Agenda.objects.create(
        region=region,
        week_start=dt.date(2026, 1, 5),
        meeting_at=dt.datetime(2026, 1, 7, 14, tzinfo=dt.UTC),
    )

    generate_due_agendas.apply()

    agenda.refresh_from_db()
    assert agenda.status == AgendaStatus.HELD


@pytest.mark.django_db
def test_the_hourly_schedule_is_seeded_by_a_migration():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Generate due review agendas")
    assert task.task == "reviews.tasks.generate_due_agendas"
    assert (task.interval.every, task.interval.period) == (1, "hours")
    assert task.enabled


def test_tasks_retry_with_backoff_and_have_time_limits():
    for task in (generate_due_agendas, generate_region_agenda):
        assert task.retry_backoff and task.max_retries == 5
        assert task.autoretry_for
        assert 0 < task.soft_time_limit < task.time_limit


# --- a real worker on Redis ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("reference_data")
def test_real_worker_generates_the_due_agenda(tmp_path):
    region = region_meeting_in(hours=2)
    risk = tier3_risk_in(region)
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.reviews.worker_settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
    }
    worker = start_worker(env, log_path, queue="celery")
    eager = celery_app.conf.task_always_eager
    try:
        # Enqueue through Redis like beat does, not in-process.
        celery_app.conf.task_always_eager = False
        assert not Agenda.objects.exists(), "agenda before enqueue"
        generate_due_agendas.apply_async()
        deadline = time.monotonic() + 30
        agenda = None
        while time.monotonic() < deadline and worker.poll() is None:
            agenda = Agenda.objects.filter(region=region).first()
            if agenda is not None and agenda.items.exists():
                break
            time.sleep(0.5)
        output = log_path.read_text()
        assert agenda is not None, f"no agenda after 30 s; worker output:\n{output}"
        assert list(agenda.items.values_list("risk", "section")) == [(risk.pk, "new")]
    finally:
        celery_app.conf.task_always_eager = eager
        stop_worker(worker)
    output = log_path.read_text()

    # The fan-out went through the broker too: both tasks ran in the worker.
    assert "reviews.tasks.generate_due_agendas" in output
    assert "reviews.tasks.generate_region_agenda" in output
