"""A newcomer's machine: SQLite in the project folder unless DATABASE_URL is
set, tasks in-process unless REDIS_URL is set, email printed to the console."""

from __future__ import annotations

import os

from .base import *  # noqa: F403
from .base import BASE_DIR, database_from_env, env_bool, env_list

DEBUG = env_bool("DJANGO_DEBUG", default=True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or "local-only-not-a-secret-red-account-dev-key"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

DATABASES = {"default": database_from_env(f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}

DEMO_DATA_ALLOWED = True
