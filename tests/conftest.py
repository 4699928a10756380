from __future__ import annotations

import importlib
import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

from accounts.models import User
from risks.models import RootCause
from tests import factories


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), timeout=3):
            return True
    except OSError:
        return False


def pytest_sessionstart(session: pytest.Session) -> None:
    """The suite runs against real PostgreSQL and Redis. If either is missing the
    run fails at once with a clear message; nothing is ever skipped."""
    database = settings.DATABASES["default"]
    problems = []
    # The SQLite parity runs (tests/sqlite_parity.py) run a module
    # of this suite again, in a child process, on the embedded database.
    sqlite_parity = os.environ.get("REDACCOUNT_SQLITE_PARITY") == "1"
    if sqlite_parity and database["ENGINE"] == "django.db.backends.sqlite3":
        pass
    elif database["ENGINE"] != "django.db.backends.postgresql":
        problems.append(f"DATABASE_URL must point at PostgreSQL (got {database['ENGINE']}).")
    elif not _reachable(
        f"postgres://{database.get('HOST') or '127.0.0.1'}:{database.get('PORT') or 5432}", 5432
    ):
        problems.append(
            f"PostgreSQL is not reachable at {database.get('HOST')}:{database.get('PORT')}."
        )
    if not _reachable(settings.REDIS_URL, 6379):
        problems.append(f"Redis is not reachable at {settings.REDIS_URL}.")
    if problems:
        hint = " Start them (bash .ci/run does) or set DATABASE_URL / REDIS_URL."
        pytest.exit("Test services unavailable: " + " ".join(problems) + hint, returncode=3)


@pytest.fixture
def reference_data(transactional_db) -> None:
    """Tests on a transactional database start from a flushed database, without
    what the data migrations seed; put the root causes and segments back."""
    from django.apps import apps

    seed_segments = importlib.import_module("accounts.migrations.0002_seed_segments").seed
    seed_causes = importlib.import_module("risks.migrations.0002_seed_root_causes").seed
    seed_segments(apps, None)
    seed_causes(apps, None)


@pytest.fixture
def region():
    return factories.RegionFactory(code="EMEA", name="Europe", timezone="Europe/Berlin")


@pytest.fixture
def other_region():
    return factories.RegionFactory(code="NA", name="North America", timezone="America/New_York")


@pytest.fixture
def manager(region) -> User:
    return factories.ManagerFactory(username="maria", region=region)


@pytest.fixture
def csm(manager, region) -> User:
    return factories.CsmFactory(username="carl", manager=manager, region=region)


@pytest.fixture
def other_manager(region) -> User:
    return factories.ManagerFactory(username="otto", region=region)


@pytest.fixture
def other_csm(other_manager, region) -> User:
    return factories.CsmFactory(username="olga", manager=other_manager, region=region)


@pytest.fixture
def reviewer(region) -> User:
    return factories.ReviewerFactory(username="rita", region=region)


@pytest.fixture
def admin_user() -> User:
    return factories.AdminFactory(username="ada")


@pytest.fixture
def account(csm, region):
    return factories.AccountFactory(csm=csm, region=region)


@pytest.fixture
def low_usage() -> RootCause:
    return RootCause.objects.get(code="low-usage")


@pytest.fixture
def defects() -> RootCause:
    return RootCause.objects.get(code="defects")
