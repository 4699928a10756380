"""The outbox: an email is written with the change that causes it, sent after
commit, never twice, and not lost when Redis or the mail server is down."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from smtplib import SMTPServerDisconnected

import pytest
import redis
from django.conf import settings as django_settings
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import connection, transaction
from django.utils import timezone

from notifications import delivery, outbox
from notifications.models import OutboundMessage
from notifications.tasks import send_email, send_pending_emails
from risks import notifications as risk_notifications
from risks.models import Escalation, EscalationStatus, TimelineEvent, TimelineKind
from tests import factories
from tests.workers import database_url, start_worker, stop_worker

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Helper B's own Redis database, so parallel runs don't eat each other's messages.
REDIS_DB8 = "redis://127.0.0.1:6379/8"


class FailingBackend(EmailBackend):
    def send_messages(self, messages):
        raise SMTPServerDisconnected("Connection unexpectedly closed")


class SlowBackend(EmailBackend):
    """Holds the row lock long enough for a second sender to try the same row."""

    def send_messages(self, messages):
        time.sleep(0.5)
        return super().send_messages(messages)


def _queue(key: str = "test:1", **overrides) -> OutboundMessage | None:
    fields = {
        "dedupe_key": key,
        "kind": "test",
        "to": ["carl@example.com"],
        "subject": "Hello",
        "body": "Body",
    }
    fields.update(overrides)
    return outbox.queue_email(**fields)


def _age(*rows: OutboundMessage, seconds: int = 60) -> None:
    """Pretend the rows were written a while ago (the sweep leaves fresh ones)."""
    OutboundMessage.objects.filter(pk__in=[row.pk for row in rows]).update(
        created_at=timezone.now() - dt.timedelta(seconds=seconds)
    )


# --- queueing and sending ---------------------------------------------------------------


@pytest.mark.django_db
def test_same_trigger_twice_queues_one_email(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _queue("escalation-requested:7", subject="First")
        second = _queue("escalation-requested:7", subject="Second")

    assert first.pk == second.pk
    assert OutboundMessage.objects.get().subject == "First"
    assert [message.subject for message in mail.outbox] == ["First"]


@pytest.mark.django_db
def test_nothing_is_queued_without_recipients():
    assert _queue(to=["", "  "]) is None
    assert not OutboundMessage.objects.exists()


@pytest.mark.django_db
def test_email_is_sent_only_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        row = _queue(to=["carl@example.com", "carl@example.com", "rita@example.com"])
    assert mail.outbox == []

    for callback in callbacks:
        callback()

    [message] = mail.outbox
    assert message.to == ["carl@example.com", "rita@example.com"]
    assert message.from_email == django_settings.DEFAULT_FROM_EMAIL
    row.refresh_from_db()
    assert row.sent_at is not None
    assert row.attempts == 1


@pytest.mark.django_db
def test_rolled_back_change_sends_nothing(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _queue()
        raise RuntimeError("the change failed")

    assert not OutboundMessage.objects.exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_sending_a_sent_email_again_is_a_no_op():
    row = _queue()

    assert send_email(row.pk) is True
    assert send_email(row.pk) is False
    assert send_email.apply(args=(row.pk,)).get() is False

    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert row.attempts == 1


@pytest.mark.django_db
def test_invite_is_attached_as_a_calendar_request():
    row = _queue(ics="BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n")

    delivery.deliver(row.pk)

    [message] = mail.outbox
    [invite] = message.attachments
    assert invite.get_content_type() == "text/calendar"
    assert invite.get_param("method") == "REQUEST"
    assert invite.get_filename() == "invite.ics"
    assert invite.get_payload(decode=True).decode() == row.ics
    assert 'filename="invite.ics"' in message.message().as_string()


@pytest.mark.django_db
def test_failed_send_is_recorded_and_the_sweep_sends_it_later(settings):
    row = _queue()
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FailingBackend"

    with pytest.raises(SMTPServerDisconnected):
        delivery.deliver(row.pk)

    row.refresh_from_db()
    assert row.sent_at is None
    assert row.attempts == 1
    assert row.last_error == "SMTPServerDisconnected: Connection unexpectedly closed"

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _age(row)
    assert send_pending_emails() == 1
    row.refresh_from_db()
    assert row.sent_at is not None
    assert row.attempts == 2
    assert row.last_error == ""
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_mail_server_down_does_not_fail_the_change(settings, django_capture_on_commit_callbacks):
    """With tasks in-process (no REDIS_URL) the send runs inside the request's
    on-commit hook; its failure is logged, and the row waits for the sweep."""
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.FailingBackend"

    with django_capture_on_commit_callbacks(execute=True):
        row = _queue()

    row.refresh_from_db()
    assert row.sent_at is None
    assert row.attempts >= 1
    assert "SMTPServerDisconnected" in row.last_error


@pytest.mark.django_db
def test_sweep_leaves_fresh_rows_to_the_task_and_sends_older_ones_once():
    fresh = _queue("test:fresh")
    old = _queue("test:old")
    _age(old)

    assert send_pending_emails() == 1
    assert send_pending_emails() == 0

    assert [message.subject for message in mail.outbox] == ["Hello"]
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.sent_at is not None
    assert fresh.sent_at is None


@pytest.mark.django_db
def test_sweep_gives_up_on_a_row_that_failed_too_often():
    row = _queue()
    _age(row)
    OutboundMessage.objects.filter(pk=row.pk).update(attempts=delivery.MAX_SEND_ATTEMPTS)

    assert send_pending_emails() == 0
    assert mail.outbox == []


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_one_email(settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_outbox.SlowBackend"
    # Written directly: outside a transaction queue_email would send at once.
    row = OutboundMessage.objects.create(
        dedupe_key="test:race", kind="test", to=["carl@example.com"], subject="Hi", body="B"
    )
    barrier = threading.Barrier(3)
    results: list[bool] = []

    def sender() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(delivery.deliver(row.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [False, False, True]
    assert len(mail.outbox) == 1
    assert OutboundMessage.objects.get().attempts == 1


# --- Redis down, then back ------------------------------------------------------------------

WORKFLOW_SCRIPT = """
import json, sys, time
import django
django.setup()
from accounts.models import Account, User
from risks import services
from risks.models import RootCause

csm_id, manager_id, account_id = map(int, sys.argv[1:4])
csm, manager = User.objects.get(pk=csm_id), User.objects.get(pk=manager_id)
started = time.monotonic()
risk = services.risk_open(
    user=csm,
    account=Account.objects.get(pk=account_id),
    primary_cause=RootCause.objects.get(code="low-usage"),
    summary="Usage halved",
    next_steps="Sponsor call",
)
escalation = services.escalation_request(user=csm, risk=risk, reason="Need my manager")
services.escalation_approve(user=manager, escalation=escalation, note="Go ahead")
print(json.dumps({"seconds": time.monotonic() - started, "risk": risk.pk}))
"""


def _process_env(redis_url: str) -> dict[str, str]:
    """A separate process configured like production: not eager, the given broker."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "EMAIL_URL": "consolemail://",
        "LOG_LEVEL": "WARNING",
    }


def _run_workflow(redis_url: str, csm, manager, account) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WORKFLOW_SCRIPT, str(csm.pk), str(manager.pk), str(account.pk)],
        cwd=PROJECT_ROOT,
        env=_process_env(redis_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _unreachable_redis_url() -> str:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


@pytest.fixture
def team(reference_data):
    region = factories.RegionFactory(code="EMEA")
    manager = factories.ManagerFactory(username="down-manager", region=region)
    csm = factories.CsmFactory(username="down-csm", manager=manager, region=region)
    account = factories.AccountFactory(csm=csm, region=region)
    return csm, manager, account


@pytest.mark.django_db(transaction=True)
def test_filing_and_approving_succeed_with_redis_down_and_the_emails_go_out_once_it_is_back(
    team,
):
    csm, manager, account = team

    outcome = _run_workflow(_unreachable_redis_url(), csm, manager, account)
    print(f"file + escalate + approve with the broker unreachable: {outcome['seconds']:.2f} s")

    # The requests succeeded: the record is at tier 2 with its timeline ...
    escalation = Escalation.objects.get(risk_id=outcome["risk"])
    assert escalation.status == EscalationStatus.APPROVED
    assert TimelineEvent.objects.filter(
        risk_id=outcome["risk"], kind=TimelineKind.ESCALATION_APPROVED
    ).exists()
    # ... and both notifications wait in the outbox, unsent.
    rows = OutboundMessage.objects.order_by("pk")
    assert [(row.kind, row.sent_at, row.attempts) for row in rows] == [
        (risk_notifications.Kind.ESCALATION_REQUESTED, None, 0),
        (risk_notifications.Kind.ESCALATION_DECIDED, None, 0),
    ]

    # Redis is back: the next sweeps send each email exactly once.
    _age(*rows)
    assert send_pending_emails() == 2
    assert send_pending_emails() == 0
    assert sorted(message.to[0] for message in mail.outbox) == sorted([manager.email, csm.email])
    assert not OutboundMessage.objects.filter(sent_at__isnull=True).exists()


@pytest.fixture
def redis_db8():
    client = redis.Redis.from_url(REDIS_DB8)
    client.delete("celery")
    yield client
    client.delete("celery")
    client.close()


@pytest.mark.django_db(transaction=True)
def test_with_redis_up_a_real_worker_sends_the_emails(team, redis_db8, tmp_path):
    csm, manager, account = team

    outcome = _run_workflow(REDIS_DB8, csm, manager, account)

    assert redis_db8.llen("celery") == 2  # one send_email message per notification
    assert OutboundMessage.objects.filter(sent_at__isnull=True).count() == 2

    log_path = tmp_path / "worker.log"
    worker = start_worker(_process_env(REDIS_DB8), log_path, pool="prefork")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not OutboundMessage.objects.filter(sent_at__isnull=True).exists():
                break
            time.sleep(0.5)
    finally:
        stop_worker(worker)
    output = log_path.read_text()

    rows = list(OutboundMessage.objects.order_by("pk"))
    assert all(row.sent_at is not None for row in rows), output
    assert [row.attempts for row in rows] == [1, 1]
    assert f"Escalation to tier 2 requested: {account.name}" in output
    assert f"Escalation to tier 2 approved: {account.name}" in output
    assert Escalation.objects.get(risk_id=outcome["risk"]).status == EscalationStatus.APPROVED


@pytest.mark.django_db
def test_migrations_seed_the_email_schedules():
    from django_celery_beat.models import PeriodicTask

    sweep = PeriodicTask.objects.get(name="Send pending messages")
    assert sweep.task == "notifications.tasks.send_pending"
    assert (sweep.interval.every, sweep.interval.period) == (1, "minutes")
    reminder = PeriodicTask.objects.get(
        name="Remind managers of escalations pending over two business days"
    )
    assert reminder.task == "risks.tasks.send_escalation_reminders"
    assert (reminder.crontab.minute, reminder.crontab.hour, str(reminder.crontab.timezone)) == (
        "0",
        "7",
        "UTC",
    )
    assert sweep.enabled and reminder.enabled
