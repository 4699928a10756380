"""A newcomer's machine: SQLite in the project folder unless DATABASE_URL is
set, a real worker and beat on an embedded broker under .run/ unless REDIS_URL
is set (scripts/serve.sh starts them), email printed to the console."""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .base import (
    BASE_DIR,
    REDIS_URL,
    database_from_env,
    embedded_broker_settings,
    env_bool,
    env_int,
    env_list,
)

DEBUG = env_bool("DJANGO_DEBUG", default=True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "local-only-not-a-secret-red-account-dev-key"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

DATABASES = {"default": database_from_env(f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share the file: wait for a lock
    # rather than fail, take the write lock when a transaction starts (no
    # deadlock between two readers that both want to write), and let readers
    # go on while one process writes (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )

# Without REDIS_URL: kombu's filesystem transport in .run/broker/ instead of
# running tasks in-process, so a worker runs them and beat runs the schedule.
if not REDIS_URL:
    vars().update(embedded_broker_settings(BASE_DIR / ".run" / "broker"))

# The links in emails and calendar invites point at the port `make run` serves.
PORT = env_int("PORT", 8000, minimum=1)
SITE_URL = (os.environ.get("SITE_URL") or f"http://127.0.0.1:{PORT}").rstrip("/")

DEMO_DATA_ALLOWED = True
