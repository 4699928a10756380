"""Settings of the real Celery worker that tests/reviews/test_agenda_tasks.py
starts: the test settings, but with tasks going through Redis rather than
running in-process, so the worker's fan-out is queued too."""

from __future__ import annotations

from config.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
