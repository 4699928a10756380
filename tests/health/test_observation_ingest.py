"""Observations in bulk: the API service (health.ingest) and CSV files through
the import framework. Every bad row is named by row and column, nothing is
written when any row is bad, a key sent again updates its value, and the
accounts touched are rescored after commit."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from core.exceptions import Conflict
from core.imports import RowErrors, get_importer, import_job_run, import_job_validate
from core.models import ImportJob, ImportStatus
from health.ingest import MAX_ROWS, ingest_observations
from health.models import Measure, Observation, Source
from health.services import measure_delete
from tests import factories
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 6, 30)


@pytest.fixture
def logins():
    return factories.MeasureFactory(code="logins-x", name="Logins")


@pytest.fixture
def nps():
    return factories.MeasureFactory(code="nps-x", name="NPS")


@pytest.fixture
def sponsor_left():
    return factories.MeasureFactory(code="sponsor-x", name="Sponsor left", kind="event", better="")


@pytest.fixture
def accounts():
    return [factories.AccountFactory(external_id=f"CRM-{n}") for n in range(3)]


def row(account, measure, observed_on=DAY, value="1", *, by="id"):
    named = {"account": account.pk} if by == "id" else {"account_external_id": account.external_id}
    return {**named, "measure": measure.code, "observed_on": str(observed_on), "value": value}


def errors_of(rows) -> list[tuple]:
    with pytest.raises(RowErrors) as caught:
        ingest_observations(rows)
    return [(e["row"], e["field"], e["message"]) for e in caught.value.errors]


# --- the API service ---------------------------------------------------------------------


def test_rows_are_created_then_the_same_keys_update(accounts, logins, nps):
    first, second, third = accounts
    result = ingest_observations(
        [
            row(first, logins, value=10),
            row(second, logins, value="20.5", by="external"),
            row(first, nps, value=-3),
        ]
    )
    assert result == {"created": 3, "updated": 0}
    stored = Observation.objects.get(account=second, measure=logins, observed_on=DAY)
    assert stored.value == Decimal("20.5")
    assert stored.source == Source.API

    result = ingest_observations(
        [
            row(first, logins, value=11, by="external"),
            row(second, logins, value="21"),
            row(third, logins, value="7"),
        ],
        source="manual",
    )
    assert result == {"created": 1, "updated": 2}
    assert Observation.objects.count() == 4
    updated = Observation.objects.get(account=first, measure=logins, observed_on=DAY)
    assert updated.value == Decimal("11")
    assert updated.source == Source.MANUAL


def test_every_bad_row_is_named_by_index_and_field_and_nothing_is_written(
    accounts, logins, sponsor_left
):
    account = accounts[0]
    today = timezone.localdate()
    rows = [
        row(account, logins, value=1),  # 0: good
        {"account": 999999, "measure": logins.code, "observed_on": str(DAY), "value": 1},
        {
            "account_external_id": "NOPE",
            "measure": logins.code,
            "observed_on": str(DAY),
            "value": 1,
        },
        row(account, logins, observed_on="2026-02-30"),  # 3: not a day
        row(account, logins, observed_on=today + dt.timedelta(days=1)),  # 4: future
        row(account, logins, observed_on="1899-12-31"),  # 5: too early
        {"account": account.pk, "measure": "unknown", "observed_on": str(DAY), "value": 1},
        row(account, logins, observed_on=DAY - dt.timedelta(days=1), value="12,5"),  # 7
        row(account, logins, value=2),  # 8: same key as row 0
        {"measure": logins.code, "observed_on": str(DAY), "value": 1},  # 9: no account
        {**row(account, logins, DAY - dt.timedelta(days=2)), "account_external_id": "CRM-0"},
        {"account": account.pk, "observed_on": str(DAY), "value": 1},  # 11: no measure
        row(account, sponsor_left, value=0),  # 12: an event is 1
        "not an object",  # 13
        {**row(account, logins, DAY - dt.timedelta(days=3)), "colour": "red"},  # 14
        row(account, logins, DAY - dt.timedelta(days=4), value=True),  # 15
        row(account, logins, DAY - dt.timedelta(days=5), value="1.23456"),  # 16
        {"account": "seven", "measure": logins.code, "observed_on": str(DAY), "value": 1},
    ]

    found = errors_of(rows)

    assert found == [
        (1, "account", "No account has the id 999999."),
        (2, "account_external_id", 'No account has the external id "NOPE".'),
        (3, "observed_on", "Enter a date as YYYY-MM-DD, e.g. 2026-06-30."),
        (4, "observed_on", "The day is in the future."),
        (5, "observed_on", "Enter a day from 1900-01-01 on."),
        (6, "measure", 'No measure has the code "unknown".'),
        (7, "value", mock.ANY),
        (8, "observed_on", "Same account, measure and day as row 0."),
        (9, "account", "Give account or account_external_id."),
        (10, "account_external_id", "Give account or account_external_id, not both."),
        (11, "measure", "A value is required."),
        (12, "value", "Sponsor left is an event: its value is 1."),
        (13, None, mock.ANY),
        (14, "colour", mock.ANY),
        (15, "value", mock.ANY),
        (16, "value", mock.ANY),
        (17, "account", "Enter the account's id, a whole number such as 42."),
    ]
    messages = dict(((r, f), m) for r, f, m in found)
    assert messages[(7, "value")].startswith("Enter a number such as 118")
    assert "object" in messages[(13, None)]
    assert messages[(14, "colour")].startswith("Unknown field.")
    assert not Observation.objects.exists()


def test_a_good_batch_takes_a_fixed_number_of_queries_whatever_its_size(accounts, logins):
    def queries(count: int, offset: int) -> int:
        rows = [
            row(accounts[n % 3], logins, DAY - dt.timedelta(days=offset + n // 3))
            for n in range(count)
        ]
        with CaptureQueriesContext(connection) as captured:
            ingest_observations(rows)
        return len(captured)

    assert queries(3, 0) == queries(600, 10)


def test_more_than_the_limit_is_one_error_about_the_limit(accounts, logins):
    account = accounts[0]
    rows = [row(account, logins, DAY - dt.timedelta(days=n)) for n in range(MAX_ROWS + 1)]

    with pytest.raises(RowErrors) as caught:
        ingest_observations(rows)

    assert len(caught.value.errors) == 1
    error = caught.value.errors[0]
    assert error["row"] is None and error["field"] is None
    assert "10,000" in error["message"] and "10,001" in error["message"]
    assert not Observation.objects.exists()


def test_exactly_the_limit_is_accepted(accounts, logins):
    account = accounts[0]
    rows = [row(account, logins, DAY - dt.timedelta(days=n)) for n in range(MAX_ROWS)]
    assert ingest_observations(rows) == {"created": MAX_ROWS, "updated": 0}


def test_values_keep_their_exact_decimals(accounts, logins):
    account = accounts[0]
    values = ["0.0001", "-99999999999999.9999", "1e3", 0.1, 5, "  7.50 "]
    good = [0, 1, 3, 4, 5]
    rows = [row(account, logins, DAY - dt.timedelta(days=n), v) for n, v in enumerate(values)]

    assert [e[0] for e in errors_of(rows)] == [2]  # no exponent notation

    ingest_observations([rows[n] for n in good])
    stored = dict(Observation.objects.values_list("observed_on", "value"))
    assert [stored[DAY - dt.timedelta(days=n)] for n in good] == [
        Decimal("0.0001"),
        Decimal("-99999999999999.9999"),
        Decimal("0.1"),
        Decimal("5"),
        Decimal("7.5"),
    ]


def test_an_empty_list_writes_nothing():
    assert ingest_observations([]) == {"created": 0, "updated": 0}


def test_only_the_touched_accounts_are_rescored_after_commit(
    accounts, logins, django_capture_on_commit_callbacks
):
    first, second, untouched = accounts
    with mock.patch("health.tasks.score_some_accounts.delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            ingest_observations(
                [
                    row(second, logins, DAY),
                    row(first, logins, DAY, by="external"),
                    row(first, logins, DAY - dt.timedelta(days=1)),
                ]
            )
        assert not delay.called, "rescoring waits for the commit"
        for callback in callbacks:
            callback()

    delay.assert_called_once_with(sorted([first.pk, second.pk]))
    assert untouched.pk not in delay.call_args.args[0]


def test_a_refused_batch_rescores_nothing(accounts, logins, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RowErrors):
        ingest_observations([row(accounts[0], logins), {"measure": "nope"}])
    assert callbacks == []


def test_the_api_error_handler_answers_400_with_the_row_errors():
    from core.api import exception_handler

    failure = RowErrors([{"row": 2, "field": "measure", "message": "No measure."}])
    response = exception_handler(failure, {})
    assert response.status_code == 400
    assert response.data == {"errors": [{"row": 2, "field": "measure", "message": "No measure."}]}


# --- CSV files -----------------------------------------------------------------------------


def csv_job(text: str, user=None) -> ImportJob:
    return ImportJob.objects.create(
        kind="observations",
        created_by=user or factories.AdminFactory(),
        filename="observations.csv",
        content=text.encode(),
        size=len(text.encode()),
    )


def validated(text: str) -> ImportJob:
    job = csv_job(text)
    import_job_validate(job.pk)
    job.refresh_from_db()
    return job


def imported(job: ImportJob) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING)
    import_job_run(job.pk)
    job.refresh_from_db()
    return job


def test_a_csv_file_is_checked_then_imported_with_exact_counts(accounts, logins, nps):
    first, second, _ = accounts
    factories.ObservationFactory(account=first, measure=logins, observed_on=DAY, value=1)
    text = (
        "account,account_external_id,measure,observed_on,value\n"
        f"{first.pk},,{logins.code},{DAY},118\n"
        f",{second.external_id},{logins.code},{DAY},42.5\n"
        "\n"
        f",{second.external_id},{nps.code},{DAY},-12\n"
    )

    job = validated(text)
    assert job.status == ImportStatus.READY
    assert (job.total_rows, job.error_count, job.errors) == (3, 0, [])
    assert job.sample[0] == {"row": 1, "cells": text.splitlines()[0].split(",")}
    assert [line["row"] for line in job.sample[1:]] == [2, 3, 5]
    assert Observation.objects.count() == 1, "the check writes nothing"

    job = imported(job)
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.updated_count, job.processed_rows) == (2, 1, 3)
    assert bytes(job.content) == b""
    assert Observation.objects.get(account=first, measure=logins).value == Decimal("118")
    assert set(Observation.objects.values_list("source", flat=True)) == {Source.CSV}


def test_every_bad_csv_row_is_named_by_its_spreadsheet_row_and_column(accounts, logins):
    account = accounts[0]
    future = timezone.localdate() + dt.timedelta(days=1)
    text = (
        "account,measure,observed_on,value\n"  # row 1
        f"{account.pk},{logins.code},{DAY},1\n"  # 2: good
        f"424242,{logins.code},{DAY},1\n"  # 3
        f"{account.pk},nope,{DAY},1\n"  # 4
        f"{account.pk},{logins.code},2026-06-29,many\n"  # 5
        f"{account.pk},{logins.code},{future},1\n"  # 6
        f"{account.pk},{logins.code},30/06/2026,1\n"  # 7
        f"{account.pk},{logins.code},{DAY},2\n"  # 8: same key as row 2
        f"{account.pk},{logins.code}\n"  # 9: short
    )

    job = validated(text)

    assert job.status == ImportStatus.INVALID
    assert job.error_count == 7
    assert [(e["row"], e["field"]) for e in job.errors] == [
        (3, "account"),
        (4, "measure"),
        (5, "value"),
        (6, "observed_on"),
        (7, "observed_on"),
        (8, "observed_on"),
        (9, None),
    ]
    assert job.errors[-1]["message"] == "This row has 2 cells; the header has 4."
    assert job.errors[5]["message"] == "Same account, measure and day as row 2."


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("measure,observed_on,value", [(1, "account", "needs a “account” or")]),
        ("account,observed_on,value", [(1, "measure", "The column “measure” is missing.")]),
        ("account,measure,observed_on,value,colour", [(1, "colour", "Unknown column “colour”")]),
        ("account,measure,measure,observed_on,value", [(1, "measure", "appears more than once")]),
        ("account,measure,,observed_on,value", [(1, None, "Column 3 has no name")]),
    ],
)
def test_header_problems_are_errors_of_row_one(header, expected):
    job = validated(header + "\n1,a,2026-01-01,1\n")
    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["field"]) for e in job.errors] == [(r, f) for r, f, _ in expected]
    for error, (_, _, text) in zip(job.errors, expected, strict=True):
        assert text in error["message"]


def test_a_header_without_rows_is_an_error():
    job = validated("account,measure,observed_on,value\n\n")
    assert job.status == ImportStatus.INVALID
    assert job.errors == [
        {"row": 2, "field": None, "message": "The file has no rows under its header."}
    ]


def test_a_file_that_stops_being_utf8_is_an_error_at_that_row(accounts, logins):
    account = accounts[0]
    content = f"account,measure,observed_on,value\n{account.pk},{logins.code},{DAY},1\n".encode()
    content += "caf\u00e9,x,y,z\n".encode("latin-1") + b"more,rows,after,it\n"
    job = csv_job("")
    ImportJob.objects.filter(pk=job.pk).update(content=content)

    import_job_validate(job.pk)

    job.refresh_from_db()
    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, None)]
    assert job.errors[0]["message"].startswith("The file is not UTF-8 text from this row on")


def test_semicolon_files_and_a_byte_order_mark_are_read(accounts, logins):
    account = accounts[0]
    text = (
        "\ufeffaccount_external_id;measure;observed_on;value\n"
        f"{account.external_id};{logins.code};{DAY};3\n"
    )
    job = imported(validated(text))
    assert job.status == ImportStatus.DONE
    assert Observation.objects.get().value == Decimal("3")


def test_an_import_checks_again_and_writes_nothing_when_a_row_went_bad(accounts, logins):
    account = accounts[0]
    other = factories.MeasureFactory(code="gone-soon")
    job = validated(
        "account,measure,observed_on,value\n"
        f"{account.pk},{logins.code},{DAY},1\n"
        f"{account.pk},{other.code},{DAY},1\n"
    )
    assert job.status == ImportStatus.READY
    other.delete()

    job = imported(job)

    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, "measure")]
    assert not Observation.objects.exists()


def test_an_import_is_invalid_when_an_account_named_was_deleted_since_the_check(accounts, logins):
    first, second, _ = accounts
    job = validated(
        "account,account_external_id,measure,observed_on,value\n"
        f"{first.pk},,{logins.code},{DAY},1\n"
        f",{second.external_id},{logins.code},{DAY},1\n"
    )
    assert job.status == ImportStatus.READY
    first_id = first.pk
    first.delete()
    second.delete()

    job = imported(job)

    assert job.status == ImportStatus.INVALID
    assert job.errors == [
        {"row": 2, "field": "account", "message": f"No account has the id {first_id}."},
        {
            "row": 3,
            "field": "account_external_id",
            "message": f'No account has the external id "{second.external_id}".',
        },
    ]
    assert not Observation.objects.exists()


def test_deleting_an_account_deletes_its_observations_and_a_measure_observed_is_kept(
    accounts, logins, nps
):
    # No foreign key constraints in the database: the ORM cascades and protects.
    first, second, _ = accounts
    ingest_observations([row(first, logins), row(first, nps), row(second, logins)])

    first.delete()

    assert list(Observation.objects.values_list("account_id", flat=True)) == [second.pk]
    with pytest.raises(ProtectedError):
        logins.delete()
    with pytest.raises(ProtectedError):
        Measure.objects.filter(pk=logins.pk).delete()
    assert Measure.objects.filter(pk=logins.pk).exists()
    nps.delete()  # observed only by the account deleted
    assert not Measure.objects.filter(pk=nps.pk).exists()


def test_running_a_finished_import_again_changes_nothing(accounts, logins):
    account = accounts[0]
    job = imported(
        validated(f"account,measure,observed_on,value\n{account.pk},{logins.code},{DAY},1\n")
    )
    assert job.status == ImportStatus.DONE
    Observation.objects.update(value=5)

    import_job_run(job.pk)  # a redelivered task
    import_job_validate(job.pk)

    job.refresh_from_db()
    assert (job.status, job.created_count, job.updated_count) == (ImportStatus.DONE, 1, 0)
    assert Observation.objects.get().value == Decimal("5")


def test_a_csv_import_rescores_the_touched_accounts_after_commit(
    accounts, logins, django_capture_on_commit_callbacks
):
    second = accounts[1]
    job = validated(
        "account_external_id,measure,observed_on,value\n"
        f"{second.external_id},{logins.code},{DAY},1\n"
        f"{second.external_id},{logins.code},{DAY - dt.timedelta(days=1)},1\n"
    )
    with (
        mock.patch("health.tasks.score_some_accounts.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        imported(job)
    delay.assert_called_once_with([second.pk])


# --- two at once, on real PostgreSQL --------------------------------------------------------


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_batches_with_overlapping_keys_at_once_both_succeed_without_duplicates():
    accounts = [factories.AccountFactory(external_id=f"R-{n}") for n in range(20)]
    logins = factories.MeasureFactory(code="race-logins")
    days = [DAY - dt.timedelta(days=n) for n in range(30)]
    shared = [row(a, logins, d, "1") for a in accounts[:10] for d in days]  # 300 keys
    only_a = [row(a, logins, d, "2") for a in accounts[10:15] for d in days]
    only_b = [row(a, logins, d, "3", by="external") for a in accounts[15:] for d in days]
    # Opposite orders: the merge sorts by key, so neither deadlocks the other.
    batch_a = shared + only_a
    batch_b = list(reversed(shared)) + only_b

    with mock.patch("health.tasks.score_some_accounts.delay"):
        results, errors = run_at_once(
            [lambda: ingest_observations(batch_a), lambda: ingest_observations(batch_b)]
        )

    assert errors == []
    assert sum(r["created"] for r in results) == 600
    assert sum(r["updated"] for r in results) == 300
    assert Observation.objects.count() == 600
    assert Observation.objects.filter(value=Decimal("2")).count() == 150
    assert Observation.objects.filter(value=Decimal("3")).count() == 150


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_two_csv_imports_of_overlapping_keys_at_once_both_finish():
    admin = factories.AdminFactory()
    accounts = [factories.AccountFactory() for _ in range(10)]
    logins = factories.MeasureFactory(code="race-csv")
    days = [DAY - dt.timedelta(days=n) for n in range(50)]
    header = "account,measure,observed_on,value\n"
    lines = [f"{a.pk},{logins.code},{d},1\n" for a in accounts for d in days]
    jobs = [
        csv_job(header + "".join(lines), admin),
        csv_job(header + "".join(reversed(lines[:300])) + "".join(lines[:0]), admin),
    ]
    for job in jobs:
        import_job_validate(job.pk)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING)

    with mock.patch("health.tasks.score_some_accounts.delay"):
        _, errors = run_at_once([lambda job=job: import_job_run(job.pk) for job in jobs])

    assert errors == []
    finished = list(ImportJob.objects.filter(pk__in=[j.pk for j in jobs]).order_by("pk"))
    assert [job.status for job in finished] == [ImportStatus.DONE, ImportStatus.DONE]
    assert sum(job.created_count for job in finished) == 500
    assert sum(job.updated_count for job in finished) == 300
    assert Observation.objects.count() == 500


def _delete_while_an_import_holds_its_locks(rows, delete) -> list[Exception]:
    """Run ``delete`` while an API batch of ``rows`` has merged but not yet
    committed; returns the errors of the delete."""
    importer = get_importer("observations")
    merged, release = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def after_merge(stage) -> None:
        merged.set()
        assert release.wait(10)

    def importing() -> None:
        try:
            ingest_observations(rows)
        finally:
            connection.close()

    def deleting() -> None:
        try:
            assert merged.wait(10)
            delete()
        except Exception as error:  # asserted on by the test
            errors.append(error)
        finally:
            connection.close()

    with (
        mock.patch("health.tasks.score_some_accounts.delay"),
        mock.patch.object(importer, "after_merge", side_effect=after_merge),
    ):
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
    return errors


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_an_account_deleted_during_an_import_takes_the_imported_observations_with_it():
    account, other = factories.AccountFactory(), factories.AccountFactory()
    logins = factories.MeasureFactory(code="race-cascade")
    rows = [row(a, logins, DAY - dt.timedelta(days=n)) for a in (account, other) for n in range(5)]

    errors = _delete_while_an_import_holds_its_locks(rows, lambda: account.delete())

    assert errors == []
    assert not Account.objects.filter(pk=account.pk).exists()
    assert set(Observation.objects.values_list("account_id", flat=True)) == {other.pk}


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_a_measure_deleted_during_an_import_of_its_first_observations_is_kept():
    account = factories.AccountFactory()
    admin = factories.AdminFactory()
    fresh = factories.MeasureFactory(code="race-protect")
    rows = [row(account, fresh, DAY - dt.timedelta(days=n)) for n in range(5)]

    errors = _delete_while_an_import_holds_its_locks(
        rows, lambda: measure_delete(user=admin, measure=fresh.pk)
    )

    assert [type(error) for error in errors] == [Conflict]
    assert Measure.objects.filter(pk=fresh.pk).exists()
    assert Observation.objects.filter(measure_id=fresh.pk).count() == 5
