"""Account imports against each other and against deletes, on real
PostgreSQL: two imports of the same new external ids in opposite orders
write them in the same order (no deadlock), and a region deleted while an
import checks the file is reported on its rows instead of failing the
insert on the foreign key."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.db import connection, transaction

from accounts.models import Account
from core import imports
from core.exceptions import RowErrors
from core.imports import import_records
from tests import factories
from tests.concurrency import run_at_once

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]


def record(external_id: str, region: str = "EMEA") -> dict[str, str]:
    return {
        "external_id": external_id,
        "name": f"Account {external_id}",
        "region": region,
        "segment": "enterprise",
        "csm": "carl",
        "arr": "1000",
        "renewal_date": "2026-09-30",
    }


@pytest.fixture
def owner():
    factories.SegmentFactory()
    return factories.CsmFactory(username="carl")


def test_two_imports_of_the_same_new_accounts_in_opposite_orders_both_succeed(owner):
    rows = [record(f"RACE-{n:04d}") for n in range(2000)]

    # No second attempt: a deadlock would be retried and hidden.
    with mock.patch.object(imports, "MERGE_ATTEMPTS", 1):
        results, errors = run_at_once(
            [
                lambda: import_records("accounts", rows, source="api"),
                lambda: import_records("accounts", list(reversed(rows)), source="api"),
            ]
        )

    assert errors == []
    assert sum(counts.created for counts in results) == 2000
    assert sum(counts.updated for counts in results) == 2000
    assert Account.objects.count() == 2000


def test_an_import_waiting_for_a_region_delete_reports_the_row_instead_of_failing(owner):
    mars = factories.RegionFactory(code="MARS")
    deleted, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def deleting() -> None:
        try:
            with transaction.atomic():
                mars.delete()
                deleted.set()
                assert release.wait(10)
        finally:
            connection.close()

    def importing() -> None:
        try:
            assert deleted.wait(10)
            outcome["result"] = import_records(
                "accounts", [record("CRM-1"), record("CRM-2", region="MARS")], source="api"
            )
        except Exception as error:  # asserted on below
            outcome["error"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=deleting), threading.Thread(target=importing)]
    for thread in threads:
        thread.start()
    assert deleted.wait(10)
    threads[1].join(timeout=1)
    assert threads[1].is_alive(), "the import waits for the delete's lock"
    release.set()
    for thread in threads:
        thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    assert "result" not in outcome
    assert isinstance(outcome["error"], RowErrors)
    assert outcome["error"].errors == [
        {"row": 1, "field": "region", "message": 'No region has the code "MARS".'}
    ]
    assert not Account.objects.exists()
