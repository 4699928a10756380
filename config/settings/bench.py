"""`make bench` (bench/run.py): production-like request handling (DEBUG off,
persistent connections for gunicorn) on a database of its own that the run
drops and recreates, so it never touches the development or test database.

The database server is the one of DATABASE_URL; the database name is
BENCH_DATABASE_NAME (default ``redaccount_bench``)."""

from __future__ import annotations

import os
import warnings

from .base import *  # noqa: F403
from .base import database_from_env, redis_settings

DEBUG = False
SECRET_KEY = "bench-only-not-a-secret-red-account-bench-key"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

DATABASES = {
    "default": database_from_env("postgres://postgres@127.0.0.1:5432/redaccount"),
}
DATABASES["default"]["NAME"] = os.environ.get("BENCH_DATABASE_NAME") or "redaccount_bench"
DATABASES["default"]["CONN_MAX_AGE"] = 600

# In-memory cache and broker: the figures are those of the web process and
# PostgreSQL, not of Redis (token auth needs no cache). Tasks are queued in
# memory and never run: agenda generation is measured without the worker's
# email delivery.
vars().update(redis_settings(""))
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_URL = "memory://localhost/"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# WhiteNoise looks for collectstatic's output, which the API does not need
# (in this process and in the gunicorn workers).
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

# The API plus the baseline view the list endpoint is compared with.
ROOT_URLCONF = "bench.urls"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
