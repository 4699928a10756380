"""A worker killed with ``kill -9`` in the middle of a task (tasks are
acknowledged late): Redis hands the unacknowledged task to another worker once
the broker's visibility timeout has passed, and the agenda is built then.

The production timeout is 600 s (config/settings/base.py, docs/operations.md);
the workers here use 5 s (tests/config/killable_worker_settings.py) so the test
takes seconds. With kombu's default of an hour it times out."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery_app import app as celery_app
from reviews import scheduling
from reviews.models import Agenda
from reviews.tasks import generate_region_agenda
from tests.reviews.test_agenda_tasks import region_meeting_in, tier3_risk_in
from tests.workers import database_url, start_worker, stop_worker

AGENDA_WITHIN = 40  # seconds from the kill


def _wait_for(condition, seconds: float, worker: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        if worker is not None and worker.poll() is not None:
            return False
        time.sleep(0.2)
    return condition()


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("reference_data")
def test_an_agenda_task_whose_worker_was_killed_runs_on_another_worker(tmp_path):
    region = region_meeting_in(hours=2)
    risk = tier3_risk_in(region)
    week_start = scheduling.next_meeting(region, timezone.now())[0]
    # A queue of this run's own: no other worker on the same Redis takes the task.
    queue = f"worker-killed-{uuid.uuid4().hex}"
    hold = tmp_path / "hold"
    hold.touch()
    started = Path(f"{hold}.started")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.config.killable_worker_settings",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "AGENDA_TASK_HOLD_FILE": str(hold),
    }
    first = start_worker(env, tmp_path / "first.log", queue=queue)
    second = None
    eager = celery_app.conf.task_always_eager
    try:
        celery_app.conf.task_always_eager = False
        generate_region_agenda.apply_async(args=(region.pk, week_start.isoformat()), queue=queue)
        assert _wait_for(started.exists, 30, first), (
            "the first worker never started the task:\n" + (tmp_path / "first.log").read_text()
        )

        os.kill(first.pid, signal.SIGKILL)  # mid-task: the task is taken, not acknowledged
        first.wait(timeout=10)
        hold.unlink()
        assert not Agenda.objects.filter(region=region).exists()

        second = start_worker(env, tmp_path / "second.log", queue=queue)
        built = _wait_for(
            lambda: Agenda.objects.filter(region=region, items__isnull=False).exists(),
            AGENDA_WITHIN,
            second,
        )
        assert built, (
            f"no agenda {AGENDA_WITHIN} s after the kill; second worker:\n"
            + (tmp_path / "second.log").read_text()
        )
        agenda = Agenda.objects.get(region=region)
        assert list(agenda.items.values_list("risk", flat=True)) == [risk.pk]
        assert agenda.week_start == week_start
    finally:
        celery_app.conf.task_always_eager = eager
        if first.poll() is None:
            first.kill()
            first.wait()
        if second is not None:
            stop_worker(second)
