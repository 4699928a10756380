"""Settings of the real Celery worker that tests/config/test_make_run.py starts
on the embedded broker: the local settings as `make run` uses them without
REDIS_URL (kombu's filesystem transport), with the broker's folder moved to
``EMBEDDED_BROKER_FOLDER`` so the test never touches the project's .run/."""

from __future__ import annotations

import os
from pathlib import Path

from config.settings.base import embedded_broker_settings
from config.settings.local import *  # noqa: F403

vars().update(embedded_broker_settings(Path(os.environ["EMBEDDED_BROKER_FOLDER"])))
