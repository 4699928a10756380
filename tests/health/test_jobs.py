"""Scoring jobs: the seeded scorecard and schedule, the tasks, rescoring after
an ingest, the backfill command, and runs that overlap on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Account
from health import services
from health.models import HealthScore, Measure, Observation, Threshold
from health.scoring import score_accounts
from tests import factories
from tests.concurrency import run_at_once

D = dt.date(2026, 6, 30)


@pytest.mark.django_db
def test_the_seeded_scorecard_weighs_every_measure_to_a_hundred():
    assert Measure.objects.count() == 12
    defaults = Threshold.objects.filter(segment=None)
    assert defaults.count() == 12
    assert sum(defaults.values_list("weight", flat=True)) == 100
    assert set(Measure.objects.values_list("dimension", flat=True)) == {
        "fit",
        "current_state",
        "interest",
    }
    sponsor = Measure.objects.get(code="sponsor-left")
    assert (sponsor.kind, sponsor.suggested_cause.code) == ("event", "lost-champion")
    assert Measure.objects.get(code="usage-volume").scoring == "change"


@pytest.mark.django_db
def test_the_daily_scoring_task_is_scheduled_by_the_migration():
    task = PeriodicTask.objects.get(task="health.tasks.score_all_accounts")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("2", "15")


@pytest.fixture
def scorecard(db):
    Measure.objects.update(active=False)
    logins = factories.MeasureFactory(code="logins")
    factories.ThresholdFactory(measure=logins, red=Decimal(0), green=Decimal(100), weight=10)
    return logins


@pytest.mark.django_db
def test_compute_now_scores_every_account_as_of_the_day(scorecard):
    accounts = factories.AccountFactory.create_batch(3)
    for value, each in zip([10, 50, 90], accounts, strict=True):
        factories.ObservationFactory(account=each, measure=scorecard, value=value, observed_on=D)
    services.compute_now(D)
    assert sorted(HealthScore.objects.filter(as_of=D).values_list("score", flat=True)) == [
        10,
        50,
        90,
    ]


@pytest.mark.django_db
def test_an_ingest_rescores_only_the_touched_accounts_after_commit(
    scorecard, django_capture_on_commit_callbacks
):
    touched, untouched = factories.AccountFactory.create_batch(2)
    today = timezone.now().date()
    factories.ObservationFactory(account=touched, measure=scorecard, value=75, observed_on=today)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.rescore_on_commit([touched.pk, touched.pk])
    assert not HealthScore.objects.exists()  # nothing before the commit
    for callback in callbacks:
        callback()
    assert list(HealthScore.objects.values_list("account_id", "as_of", "score")) == [
        (touched.pk, today, 75)
    ]
    untouched.refresh_from_db()
    assert untouched.health_as_of is None


@pytest.mark.django_db
def test_the_backfill_scores_each_week_back_to_since(scorecard, capsys):
    account = factories.AccountFactory()
    for weeks in range(6):
        factories.ObservationFactory(
            account=account,
            measure=scorecard,
            value=10 * weeks,
            observed_on=D - dt.timedelta(weeks=weeks),
        )
    call_command("health_backfill", since="2026-06-01", until=D.isoformat(), every="week")
    rows = list(HealthScore.objects.order_by("as_of").values_list("as_of", "score"))
    # 30 Jun and every 7 days before it down to 1 Jun: 2, 9, 16, 23, 30 Jun.
    assert rows == [
        (dt.date(2026, 6, 2), 40),
        (dt.date(2026, 6, 9), 30),
        (dt.date(2026, 6, 16), 20),
        (dt.date(2026, 6, 23), 10),
        (D, 0),
    ]
    assert "Scored 5 days, 2026-06-02 to 2026-06-30." in capsys.readouterr().out
    account.refresh_from_db()
    assert (account.health_as_of, account.health_score) == (D, 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"since": "2026-13-01"}, "Dates are YYYY-MM-DD"),
        ({"since": "2026-07-01", "until": "2026-06-01"}, "is after 2026-06-01"),
        ({"since": "2020-01-01", "until": "2999-01-01"}, "is after today"),
    ],
)
def test_the_backfill_refuses_bad_dates(options, message):
    with pytest.raises(CommandError, match=message):
        call_command("health_backfill", **options)


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_overlapping_scoring_runs_leave_one_row_per_account_and_day():
    Measure.objects.update(active=False)
    logins = factories.MeasureFactory(code="logins")
    factories.ThresholdFactory(measure=logins, red=Decimal(0), green=Decimal(100), weight=10)
    accounts = factories.AccountFactory.create_batch(12)
    for index, each in enumerate(accounts):
        factories.ObservationFactory(account=each, measure=logins, value=index, observed_on=D)
    ids = [each.pk for each in accounts]

    _, errors = run_at_once(
        [
            lambda: score_accounts(D, chunk_size=5),
            lambda: score_accounts(D, chunk_size=3),
            lambda: score_accounts(D, list(reversed(ids)), chunk_size=4),
            lambda: score_accounts(D, ids[3:9], chunk_size=2),
        ]
    )

    assert errors == []
    assert HealthScore.objects.filter(as_of=D).count() == 12
    assert sorted(HealthScore.objects.values_list("score", flat=True)) == list(range(12))


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_scoring_that_waits_for_an_account_reads_what_committed_while_it_waited():
    Measure.objects.update(active=False)
    logins = factories.MeasureFactory(code="logins")
    factories.ThresholdFactory(measure=logins, red=Decimal(0), green=Decimal(100), weight=10)
    account = factories.AccountFactory()
    factories.ObservationFactory(account=account, measure=logins, value=10, observed_on=D)
    holding = threading.Event()

    def ingest_holding_the_account() -> None:
        try:
            with transaction.atomic():
                Account.objects.select_for_update(no_key=True).get(pk=account.pk)
                holding.set()
                time.sleep(0.5)  # the scoring below starts and waits
                Observation.objects.filter(account=account).update(value=90)
        finally:
            connection.close()

    ingest = threading.Thread(target=ingest_holding_the_account)
    ingest.start()
    assert holding.wait(timeout=10)
    score_accounts(D, [account.pk])
    ingest.join(timeout=10)

    # Locked first, read after: the value committed during the wait counts.
    assert HealthScore.objects.get(account=account, as_of=D).score == 90
