"""Renewals in bulk: the API service (accounts.ingest) and CSV files through the
import framework. Every rule names its row and field, nothing is written when
any row is bad, a key sent again replaces the renewal, and a churn that is the
account's newest renewal marks the account churned in the same transaction.

Vendor-neutral on purpose: tests/accounts/test_sqlite_parity.py runs this
module again on SQLite."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services
from accounts.ingest import MAX_ROWS, ingest_renewals
from accounts.models import Account, AccountStatus, Renewal, RenewalSource
from core.imports import RowErrors, get_importer, import_job_run, import_job_validate
from core.models import ImportJob, ImportStatus
from risks.models import RiskRecord, RiskStatus
from risks.services import risk_close
from tests import factories

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 31)


@pytest.fixture
def accounts():
    return [factories.AccountFactory(external_id=f"CRM-R{n}") for n in range(3)]


def row(account, renewal_date=DAY, outcome="renewed", before="100000", after="100000", *, by="id"):
    named = {"account": account.pk} if by == "id" else {"account_external_id": account.external_id}
    return {
        **named,
        "renewal_date": str(renewal_date),
        "outcome": outcome,
        "arr_before": before,
        "arr_after": after,
    }


def errors_of(rows) -> list[tuple]:
    with pytest.raises(RowErrors) as caught:
        ingest_renewals(rows)
    return [(e["row"], e["field"], e["message"]) for e in caught.value.errors]


def status_of(account) -> tuple[str, dt.date | None]:
    account.refresh_from_db()
    return account.status, account.churned_on


# --- the API service: created, updated ------------------------------------------------------


def test_rows_are_created_then_the_same_keys_are_replaced(accounts):
    first, second, third = accounts
    result = ingest_renewals(
        [
            row(first, before="120000", after="132000.50"),
            row(second, outcome="downsell", before="80000", after="55000", by="external"),
            row(first, DAY - dt.timedelta(days=365), before=90000, after=120000),
        ]
    )
    assert result == {"created": 3, "updated": 0}
    stored = Renewal.objects.get(account=first, renewal_date=DAY)
    assert (stored.outcome, stored.arr_before, stored.arr_after, stored.source) == (
        "renewed",
        Decimal("120000.00"),
        Decimal("132000.50"),
        RenewalSource.API,
    )

    result = ingest_renewals(
        [
            row(first, outcome="DownSell", before="120000", after="110000", by="external"),
            row(second, outcome="renewed", before="80000", after="80000"),
            row(third, outcome="renewed", before="5000.5", after="6000"),
        ],
        source="demo",
    )
    assert result == {"created": 1, "updated": 2}
    assert Renewal.objects.count() == 4
    replaced = Renewal.objects.get(account=first, renewal_date=DAY)
    assert (replaced.outcome, replaced.arr_after, replaced.source) == (
        "downsell",
        Decimal("110000.00"),
        RenewalSource.DEMO,
    )
    assert Renewal.objects.get(account=third).arr_before == Decimal("5000.50")


def test_a_churn_may_leave_arr_after_empty_or_out_and_stores_zero(accounts):
    first, second, third = accounts
    without = {k: v for k, v in row(third, outcome="churned").items() if k != "arr_after"}

    ingest_renewals(
        [
            row(first, outcome="churned", after=""),
            row(second, outcome="churned", after=None),
            without,
        ]
    )

    assert set(Renewal.objects.values_list("arr_after", flat=True)) == {Decimal("0")}
    assert Renewal.objects.filter(outcome="churned").count() == 3


def test_an_unknown_source_is_a_programming_error(accounts):
    with pytest.raises(ValueError, match="Unknown renewal source"):
        ingest_renewals([row(accounts[0])], source="csv-ish")


# --- the API service: every rule with its message --------------------------------------------


def test_every_bad_row_is_named_by_index_and_field_and_nothing_is_written(accounts):
    account = accounts[0]
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    rows = [
        row(account),  # 0: good
        {**row(account, DAY - dt.timedelta(days=1)), "account": 999999},  # 1
        {
            **{k: v for k, v in row(account, DAY - dt.timedelta(days=2)).items() if k != "account"},
            "account_external_id": "NOPE",
        },  # 2
        row(account, "2026-02-30"),  # 3: not a day
        row(account, tomorrow),  # 4: future
        row(account, "1899-12-31"),  # 5: too early
        row(account, DAY - dt.timedelta(days=3), outcome="lost"),  # 6
        row(account, DAY - dt.timedelta(days=4), before="-1", after="0", outcome="churned"),  # 7
        row(account, DAY - dt.timedelta(days=5), before="10", after="-1", outcome="downsell"),
        row(account, DAY - dt.timedelta(days=6), outcome="churned", before="10", after="5"),
        row(account, DAY - dt.timedelta(days=7), outcome="downsell", before="10", after="10"),
        row(account, DAY - dt.timedelta(days=8), outcome="downsell", before="10", after="12"),
        row(account, DAY - dt.timedelta(days=9), outcome="renewed", before="10", after="9.99"),
        row(account, DAY - dt.timedelta(days=10), outcome="renewed", after=""),  # 13
        row(account, DAY - dt.timedelta(days=11), outcome="downsell", after=None),  # 14
        row(account),  # 15: same key as row 0
        row(account, DAY - dt.timedelta(days=12), before="1,000"),  # 16
        row(account, DAY - dt.timedelta(days=13), before="10.001"),  # 17
        row(account, DAY - dt.timedelta(days=14), before="1000000000000"),  # 18: 13 digits
        {**row(account, DAY - dt.timedelta(days=15)), "outcome": ""},  # 19
        {**row(account, DAY - dt.timedelta(days=16)), "account": "seven"},  # 20
    ]

    found = errors_of(rows)

    money = (
        "Enter an amount such as 125000 or 99500.50: at most 12 digits before the decimal "
        "point and 2 after it, without thousands separators or a currency."
    )
    assert found == [
        (1, "account", "No account has the id 999999."),
        (2, "account_external_id", 'No account has the external id "NOPE".'),
        (3, "renewal_date", "Enter a date as YYYY-MM-DD, e.g. 2026-06-30."),
        (
            4,
            "renewal_date",
            "The renewal date is in the future: send a renewal once its date has come.",
        ),
        (5, "renewal_date", "Enter a date from 1900-01-01 on."),
        (6, "outcome", 'Unknown outcome "lost". The outcomes are: renewed, downsell, churned.'),
        (7, "arr_before", "The ARR before cannot be negative."),
        (8, "arr_after", "The ARR after cannot be negative."),
        (9, "arr_after", "A churned account keeps no ARR: leave arr_after empty or 0."),
        (
            10,
            "arr_after",
            "A downsell ends below the ARR before: arr_after (10) must be less than "
            "arr_before (10).",
        ),
        (
            11,
            "arr_after",
            "A downsell ends below the ARR before: arr_after (12) must be less than "
            "arr_before (10).",
        ),
        (
            12,
            "arr_after",
            "A renewal keeps at least the ARR before: arr_after (9.99) is less than "
            "arr_before (10); send it as a downsell.",
        ),
        (13, "arr_after", "A value is required: only a churn may leave arr_after empty."),
        (14, "arr_after", "A value is required: only a churn may leave arr_after empty."),
        (15, "renewal_date", "Same account and renewal date as row 0."),
        (16, "arr_before", money),
        (17, "arr_before", money),
        (18, "arr_before", money),
        (19, "outcome", "A value is required."),
        (20, "account", "Enter the account's id, a whole number such as 42."),
    ]
    assert not Renewal.objects.exists()


def test_a_row_naming_its_account_both_ways_or_neither_is_an_error(accounts):
    account = accounts[0]
    neither = {k: v for k, v in row(account).items() if k != "account"}
    both = {**row(account, DAY - dt.timedelta(days=1)), "account_external_id": "CRM-R0"}

    assert errors_of([neither, both]) == [
        (0, "account", "Give account or account_external_id."),
        (1, "account_external_id", "Give account or account_external_id, not both."),
    ]


def test_the_same_key_named_by_id_and_by_external_id_is_a_repeat(accounts):
    account = accounts[0]
    assert errors_of([row(account), row(account, outcome="churned", after="0", by="external")]) == [
        (1, "renewal_date", "Same account and renewal date as row 0."),
    ]


def test_today_and_the_earliest_date_are_accepted(accounts):
    today = timezone.localdate()
    result = ingest_renewals(
        [row(accounts[0], today), row(accounts[1], dt.date(1900, 1, 1), before=0, after=0)]
    )
    assert result == {"created": 2, "updated": 0}


def test_more_than_the_limit_is_one_error_about_the_limit(accounts):
    rows = [row(accounts[0], DAY - dt.timedelta(days=n)) for n in range(MAX_ROWS + 1)]

    with pytest.raises(RowErrors) as caught:
        ingest_renewals(rows)

    assert len(caught.value.errors) == 1
    error = caught.value.errors[0]
    assert (error["row"], error["field"]) == (None, None)
    assert "10,000" in error["message"] and "10,001" in error["message"]
    assert not Renewal.objects.exists()


def test_an_empty_list_writes_nothing():
    assert ingest_renewals([]) == {"created": 0, "updated": 0}


def test_a_good_batch_takes_a_fixed_number_of_queries_whatever_its_size(accounts):
    def queries(count: int, offset: int) -> int:
        rows = [
            row(
                accounts[n % 3],
                DAY - dt.timedelta(days=offset + n // 3),
                outcome="churned" if n % 2 else "renewed",
                after="0" if n % 2 else "100000",
            )
            for n in range(count)
        ]
        with CaptureQueriesContext(connection) as captured:
            ingest_renewals(rows)
        return len(captured)

    assert queries(3, 0) == queries(600, 10)


# --- churn marks the account --------------------------------------------------------------


def test_a_churn_marks_its_account_churned_as_of_the_renewal_date(accounts):
    first, second, third = accounts

    ingest_renewals(
        [
            row(first, DAY, outcome="churned", before="50000", after="0"),
            row(second, DAY, outcome="downsell", before="50000", after="20000"),
        ]
    )

    assert status_of(first) == (AccountStatus.CHURNED, DAY)
    assert status_of(second) == (AccountStatus.ACTIVE, None)
    assert status_of(third) == (AccountStatus.ACTIVE, None)


def test_a_churn_older_than_a_stored_renewal_leaves_the_account_active(accounts):
    account = accounts[0]
    factories.RenewalFactory(account=account, renewal_date=DAY, outcome="renewed")

    ingest_renewals([row(account, DAY - dt.timedelta(days=365), outcome="churned", after="0")])

    assert status_of(account) == (AccountStatus.ACTIVE, None)
    assert Renewal.objects.filter(account=account).count() == 2


def test_only_the_newest_renewal_of_a_batch_decides(accounts):
    churned_last, renewed_last = accounts[:2]
    earlier, later = DAY - dt.timedelta(days=365), DAY

    ingest_renewals(
        [
            row(churned_last, later, outcome="churned", after="0"),
            row(churned_last, earlier, outcome="renewed"),
            row(renewed_last, later, outcome="renewed"),
            row(renewed_last, earlier, outcome="churned", after="0"),
        ]
    )

    assert status_of(churned_last) == (AccountStatus.CHURNED, later)
    assert status_of(renewed_last) == (AccountStatus.ACTIVE, None)


def test_a_churn_newer_than_the_stored_renewals_marks_the_account(accounts):
    account = accounts[0]
    factories.RenewalFactory(account=account, renewal_date=DAY - dt.timedelta(days=365))

    ingest_renewals([row(account, DAY, outcome="churned", after="")])

    assert status_of(account) == (AccountStatus.CHURNED, DAY)


def test_a_renewal_replacing_a_churn_on_the_same_day_is_the_newest_but_marks_nothing(accounts):
    account = accounts[0]
    factories.RenewalFactory(account=account, renewal_date=DAY, outcome="churned")

    ingest_renewals([row(account, DAY, outcome="renewed")])

    assert Renewal.objects.get(account=account).outcome == "renewed"
    assert status_of(account) == (AccountStatus.ACTIVE, None)


def test_an_account_churned_already_keeps_its_churn_date(accounts):
    account = accounts[0]
    Account.objects.filter(pk=account.pk).update(
        status=AccountStatus.CHURNED, churned_on=DAY - dt.timedelta(days=20)
    )

    ingest_renewals([row(account, DAY, outcome="churned", after="0")])

    assert status_of(account) == (AccountStatus.CHURNED, DAY - dt.timedelta(days=20))


def test_a_batch_without_a_churn_does_not_undo_a_reactivation(accounts, admin_user):
    account = accounts[0]
    ingest_renewals([row(account, DAY, outcome="churned", after="0")])
    services.account_reactivate(user=admin_user, account=account)

    ingest_renewals([row(account, DAY - dt.timedelta(days=365), outcome="renewed")])

    assert status_of(account) == (AccountStatus.ACTIVE, None)


def test_the_same_churn_sent_again_does_not_undo_a_reactivation(accounts, admin_user):
    account = accounts[0]
    churn = row(account, DAY, outcome="churned", before="50000", after="0")
    ingest_renewals([churn])
    services.account_reactivate(user=admin_user, account=account)

    # The same history again, with a corrected ARR: no news of a churn.
    ingest_renewals([{**churn, "arr_before": "51000"}])

    assert status_of(account) == (AccountStatus.ACTIVE, None)
    assert Renewal.objects.get(account=account).arr_before == Decimal("51000.00")


def test_a_renewal_turned_into_a_churn_is_news_and_marks_the_account(accounts):
    account = accounts[0]
    factories.RenewalFactory(account=account, renewal_date=DAY, outcome="renewed")

    ingest_renewals([row(account, DAY, outcome="churned", after="0")])

    assert status_of(account) == (AccountStatus.CHURNED, DAY)


def test_the_open_risk_record_of_a_churned_account_stays_open(accounts):
    account = accounts[0]
    risk = factories.RiskRecordFactory(account=account)

    ingest_renewals([row(account, DAY, outcome="churned", after="0")])

    assert status_of(account) == (AccountStatus.CHURNED, DAY)
    assert RiskRecord.objects.get(pk=risk.pk).status == RiskStatus.OPEN


def test_closing_the_open_record_as_churned_later_keeps_the_churn_date(accounts, admin_user):
    account = accounts[0]
    risk = factories.RiskRecordFactory(account=account)
    ingest_renewals([row(account, DAY, outcome="churned", after="0")])

    risk_close(user=admin_user, risk=risk, outcome=RiskStatus.CHURNED, note="Gone at renewal.")

    assert RiskRecord.objects.get(pk=risk.pk).status == RiskStatus.CHURNED
    assert status_of(account) == (AccountStatus.CHURNED, DAY)


def test_the_service_marks_only_the_accounts_it_is_given(accounts):
    first, _, third = accounts
    for account in accounts:
        factories.RenewalFactory(account=account, renewal_date=DAY, outcome="churned")

    assert services.renewals_mark_churned(account_ids=[first.pk, third.pk, third.pk]) == 2
    assert services.renewals_mark_churned(account_ids=[first.pk]) == 0
    assert services.renewals_mark_churned(account_ids=[]) == 0

    assert [status_of(a)[0] for a in accounts] == [
        AccountStatus.CHURNED,
        AccountStatus.ACTIVE,
        AccountStatus.CHURNED,
    ]


def test_a_refused_batch_marks_no_account(accounts):
    account = accounts[0]
    with pytest.raises(RowErrors):
        ingest_renewals(
            [row(account, DAY, outcome="churned", after="0"), row(account, outcome="lost")]
        )
    assert status_of(account) == (AccountStatus.ACTIVE, None)
    assert not Renewal.objects.exists()


def test_a_failure_after_the_merge_rolls_the_renewals_back(accounts):
    account = accounts[0]
    with (
        mock.patch.object(services, "renewals_mark_churned", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        ingest_renewals([row(account, DAY, outcome="churned", after="0")])
    assert not Renewal.objects.exists()


# --- CSV files -------------------------------------------------------------------------------


def csv_job(text: str, user=None) -> ImportJob:
    return ImportJob.objects.create(
        kind="renewals",
        created_by=user or factories.AdminFactory(),
        filename="renewals.csv",
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


def test_a_csv_file_is_checked_then_imported_with_exact_counts_and_churns(accounts):
    first, second, third = accounts
    factories.RenewalFactory(account=first, renewal_date=DAY, outcome="renewed")
    text = (
        "account,account_external_id,renewal_date,outcome,arr_before,arr_after\n"
        f"{first.pk},,{DAY},downsell,100000,90000.50\n"
        f",{second.external_id},{DAY},churned,45000,\n"
        "\n"
        f",{third.external_id},{DAY},Renewed,45000,45000\n"
    )

    job = validated(text)
    assert job.status == ImportStatus.READY
    assert (job.total_rows, job.error_count, job.errors) == (3, 0, [])
    assert [line["row"] for line in job.sample[1:]] == [2, 3, 5]
    assert Renewal.objects.count() == 1, "the check writes nothing"
    assert status_of(second) == (AccountStatus.ACTIVE, None)

    job = imported(job)
    assert job.status == ImportStatus.DONE
    assert (job.created_count, job.updated_count, job.processed_rows) == (2, 1, 3)
    assert Renewal.objects.get(account=first).arr_after == Decimal("90000.50")
    assert set(Renewal.objects.values_list("source", flat=True)) == {RenewalSource.CSV}
    assert status_of(second) == (AccountStatus.CHURNED, DAY)


def test_every_bad_csv_row_is_named_by_its_spreadsheet_row_and_column(accounts):
    account = accounts[0]
    text = (
        "account,renewal_date,outcome,arr_before,arr_after\n"  # row 1
        f"{account.pk},{DAY},renewed,10,10\n"  # 2: good
        f"424242,{DAY},renewed,10,10\n"  # 3
        f"{account.pk},2026-03-30,maybe,10,10\n"  # 4
        f"{account.pk},2026-03-29,churned,10,1\n"  # 5
        f"{account.pk},31/03/2026,renewed,10,10\n"  # 6
        f"{account.pk},{DAY},renewed,10,11\n"  # 7: same key as row 2
        f"{account.pk},{DAY}\n"  # 8: short
    )

    job = validated(text)

    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["field"]) for e in job.errors] == [
        (3, "account"),
        (4, "outcome"),
        (5, "arr_after"),
        (6, "renewal_date"),
        (7, "renewal_date"),
        (8, None),
    ]
    assert job.errors[4]["message"] == "Same account and renewal date as row 2."
    assert job.errors[5]["message"] == "This row has 2 cells; the header has 5."


def test_a_header_without_outcome_or_account_is_an_error_of_row_one():
    job = validated("renewal_date,arr_before,arr_after\n2026-01-01,1,1\n")
    assert job.status == ImportStatus.INVALID
    assert [(e["row"], e["field"]) for e in job.errors] == [(1, "outcome"), (1, "account")]
    assert job.errors[0]["message"] == "The column “outcome” is missing."


def test_an_import_checks_again_and_writes_nothing_when_an_account_went(accounts):
    first, second, _ = accounts
    job = validated(
        "account_external_id,renewal_date,outcome,arr_before,arr_after\n"
        f"{first.external_id},{DAY},churned,10,0\n"
        f"{second.external_id},{DAY},renewed,10,10\n"
    )
    assert job.status == ImportStatus.READY
    second.delete()

    job = imported(job)

    assert job.status == ImportStatus.INVALID
    assert job.errors == [
        {
            "row": 3,
            "field": "account_external_id",
            "message": f'No account has the external id "{second.external_id}".',
        }
    ]
    assert not Renewal.objects.exists()
    assert status_of(first) == (AccountStatus.ACTIVE, None)


def test_deleting_an_account_deletes_its_renewals(accounts):
    first, second, _ = accounts
    ingest_renewals([row(first), row(second)])

    first.delete()

    assert list(Renewal.objects.values_list("account_id", flat=True)) == [second.pk]


def test_the_importer_is_registered_for_the_import_pages():
    importer = get_importer("renewals")
    assert (importer.title, importer.file_source) == ("Renewals", "csv")
    assert importer.column_names == [
        "account",
        "account_external_id",
        "renewal_date",
        "outcome",
        "arr_before",
        "arr_after",
    ]
