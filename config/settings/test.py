"""The test suite runs on real PostgreSQL and Redis (defaults below, overridable
with DATABASE_URL and REDIS_URL)."""

from __future__ import annotations

import os
import uuid

from .base import *  # noqa: F403
from .base import database_from_env, redis_settings

DEBUG = False
SECRET_KEY = "test-only-not-a-secret-red-account-test-key"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

DATABASES = {
    "default": database_from_env("postgres://postgres@127.0.0.1:5432/redaccount"),
}
DATABASES["default"]["CONN_MAX_AGE"] = 0

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
vars().update(redis_settings(REDIS_URL))
# Tests that are about a task's logic run it in-process; the worker test
# starts a real worker against Redis.
CELERY_TASK_ALWAYS_EAGER = True

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
DEMO_DATA_ALLOWED = True
# The tests' Slack and webhook receivers listen on 127.0.0.1.
WEBHOOK_ALLOW_PRIVATE = True

# Each run gets its own cache namespace in the shared Redis, so counters such as
# failed sign-ins never leak from one run (or a parallel run) into another.
CACHES["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"  # noqa: F405
