"""Settings of the real Celery workers that tests/reviews/test_worker_killed.py
starts and kills: the test settings with tasks going through Redis (as in
tests/reviews/worker_settings.py), plus

* a short Redis visibility timeout (``TEST_VISIBILITY_TIMEOUT`` seconds, 5 by
  default) and a restore sweep every second, so the test takes seconds, not the
  production setting's minutes (config/settings/base.py);
* ``reviews.tasks.generate_region_agenda`` holding before it works while the
  file named by ``AGENDA_TASK_HOLD_FILE`` exists, after writing
  ``<that file>.started``, so the test can kill the worker mid-task.

Test-only: the hold is a Celery signal handler connected here, not a hook in
the task's code."""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery.signals import task_prerun

from config.settings.test import *  # noqa: F403
from config.settings.test import CELERY_BROKER_TRANSPORT_OPTIONS

CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "visibility_timeout": int(os.environ.get("TEST_VISIBILITY_TIMEOUT", "5")),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

_hold_file = os.environ.get("AGENDA_TASK_HOLD_FILE", "")


@task_prerun.connect(weak=False)
def _hold_the_agenda_task(sender=None, **kwargs) -> None:
    if not _hold_file or getattr(sender, "name", "") != "reviews.tasks.generate_region_agenda":
        return
    hold = Path(_hold_file)
    if not hold.exists():
        return
    Path(f"{_hold_file}.started").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while hold.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
