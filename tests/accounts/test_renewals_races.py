"""Renewal imports against each other and against deletes, on real
PostgreSQL: the merge and the churn marking lock in key and id order (no
deadlock), and an account deleted while an import holds it waits and then
takes the new renewals with it."""

from __future__ import annotations

import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connection

from accounts.ingest import ingest_renewals
from accounts.models import Account, AccountStatus, Renewal
from core.imports import get_importer
from tests import factories
from tests.concurrency import run_at_once

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

DAY = dt.date(2026, 3, 31)


def row(account, renewal_date, outcome="churned", *, by="id"):
    named = {"account": account.pk} if by == "id" else {"account_external_id": account.external_id}
    after = "0" if outcome == "churned" else "100"
    return {
        **named,
        "renewal_date": str(renewal_date),
        "outcome": outcome,
        "arr_before": "100",
        "arr_after": after,
    }


def test_two_batches_churning_the_same_accounts_in_opposite_orders_both_succeed():
    accounts = [factories.AccountFactory(external_id=f"RACE-{n}") for n in range(30)]
    shared = [row(a, DAY) for a in accounts]  # the same keys in both
    only_a = [row(a, DAY - dt.timedelta(days=365), "renewed") for a in accounts]
    only_b = [row(a, DAY - dt.timedelta(days=730), "renewed", by="external") for a in accounts]
    batch_a = shared + only_a
    batch_b = list(reversed(shared)) + list(reversed(only_b))

    results, errors = run_at_once(
        [lambda: ingest_renewals(batch_a), lambda: ingest_renewals(batch_b)]
    )

    assert errors == []
    assert sum(r["created"] for r in results) == 90
    assert sum(r["updated"] for r in results) == 30
    assert Renewal.objects.count() == 90
    assert set(Account.objects.values_list("status", "churned_on")) == {
        (AccountStatus.CHURNED, DAY)
    }


def test_an_account_deleted_during_an_import_takes_the_imported_renewals_with_it():
    account, other = factories.AccountFactory(), factories.AccountFactory()
    rows = [row(a, DAY - dt.timedelta(days=365 * n)) for a in (account, other) for n in range(3)]
    importer = get_importer("renewals")
    merged, release = threading.Event(), threading.Event()
    errors: list[Exception] = []
    real_after_merge = importer.after_merge

    def after_merge(stage) -> None:
        real_after_merge(stage)
        merged.set()
        assert release.wait(10)

    def importing() -> None:
        try:
            ingest_renewals(rows)
        except Exception as error:  # asserted on below
            errors.append(error)
        finally:
            connection.close()

    def deleting() -> None:
        try:
            assert merged.wait(10)
            Account.objects.get(pk=account.pk).delete()
        except Exception as error:  # asserted on below
            errors.append(error)
        finally:
            connection.close()

    with mock.patch.object(importer, "after_merge", side_effect=after_merge):
        threads = [threading.Thread(target=importing), threading.Thread(target=deleting)]
        for thread in threads:
            thread.start()
        assert merged.wait(10)
        threads[1].join(timeout=1)
        assert threads[1].is_alive(), "the delete waits for the import's locks"
        release.set()
        for thread in threads:
            thread.join(timeout=30)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert not Account.objects.filter(pk=account.pk).exists()
    assert set(Renewal.objects.values_list("account_id", flat=True)) == {other.pk}
    other.refresh_from_db()
    assert (other.status, other.churned_on) == (AccountStatus.CHURNED, DAY)


def test_an_import_waiting_for_a_delete_reports_the_row_instead_of_failing():
    """The importer's lock: without it the check would pass while the delete
    is uncommitted and the insert would then fail on the foreign key."""
    account, other = factories.AccountFactory(), factories.AccountFactory()
    account_id = account.pk
    deleted, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def deleting() -> None:
        try:
            from django.db import transaction

            with transaction.atomic():
                Account.objects.get(pk=account_id).delete()
                deleted.set()
                assert release.wait(10)
        finally:
            connection.close()

    def importing() -> None:
        try:
            assert deleted.wait(10)
            outcome["result"] = ingest_renewals([row(other, DAY), row(account, DAY)])
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
    assert getattr(outcome["error"], "errors", None) == [
        {"row": 1, "field": "account", "message": f"No account has the id {account_id}."}
    ]
    assert not Renewal.objects.exists()
    other.refresh_from_db()
    assert other.status == AccountStatus.ACTIVE
