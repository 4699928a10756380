"""Renewals in bulk, through the import framework (core.imports): the columns
of a file or an API record, the rules beyond the generic ones, and the merge.
Registered from AccountsConfig.ready(); the CSV pages and accounts.ingest use
it.

A row names its account by id (``account``) or by external id
(``account_external_id``) and gives the day the contract came up for renewal,
the outcome and the ARR before and after. Sending a key (account, renewal
date) again replaces that renewal. A churn the batch brings news of (its key
not stored as a churn already) that is the account's newest renewal marks
the account churned (``services.renewals_mark_churned``), in the merge's
transaction."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from core import dates
from core.imports import Check, Column, Counts, Importer, Stage, sql_text

from . import services
from .models import RenewalOutcome

KIND = "renewals"

OUTCOMES = ", ".join(RenewalOutcome.values)
MONEY_TYPE_MESSAGE = (
    "Enter an amount such as 125000 or 99500.50: at most 12 digits before the decimal "
    "point and 2 after it, without thousands separators or a currency."
)


# --- naming an account: shared by every importer of rows about accounts ----------------

ACCOUNT_COLUMNS = (
    Column(
        "account",
        "The account's id in Red Account (the number in its page's address). "
        "Give this or account_external_id.",
        type="integer",
        required=False,
        type_message="Enter the account's id, a whole number such as 42.",
    ),
    Column(
        "account_external_id",
        "The account's external id, e.g. its CRM id. Give this or account.",
        required=False,
    ),
)
ACCOUNT_ONE_OF = (("account", "account_external_id"),)
# The id of the account a staged row ``s`` names (NULL when it names none),
# and the joins it needs.
ACCOUNT_ID = "COALESCE(a.id, e.id)"
ACCOUNT_JOINS = """
            LEFT JOIN accounts_account a ON a.id = s.v_account
            LEFT JOIN accounts_account e
                ON s.c_account_external_id <> '' AND e.external_id = s.c_account_external_id"""
ACCOUNT_CHECKS = (
    Check(
        "account",
        "r.v_account IS NOT NULL AND r.c_account_external_id = '' AND r.account_id IS NULL",
        "'No account has the id ' || r.c_account || '.'",
    ),
    Check(
        "account_external_id",
        "r.c_account_external_id <> '' AND r.c_account = '' AND r.account_id IS NULL",
        "'No account has the external id \"' || r.c_account_external_id || '\".'",
    ),
)


def lock_named_accounts(stage: Stage) -> None:
    """Hold the accounts the staged rows name (by id or external id: unique
    columns, so a rename waits too) FOR KEY SHARE, in id order, until the
    merge commits: a delete that came first leaves its account out of the
    lock, and the check that runs next reports the row; one that comes later
    waits. KEY SHARE blocks neither edits of the accounts nor the scoring
    that writes their health. SQLite serialises writers: nothing to lock."""
    if not stage.postgres:
        return
    with connection.cursor() as cursor:
        # One set of ids (a UNION, not an OR of two IN lists, which
        # PostgreSQL would test row by row against the whole stage).
        cursor.execute(
            "SELECT count(*) FROM (SELECT a.id FROM accounts_account a "
            f"WHERE a.id IN (SELECT v_account FROM {stage.table} WHERE v_account IS NOT NULL "
            "UNION SELECT e.id FROM accounts_account e "
            f"JOIN (SELECT DISTINCT c_account_external_id FROM {stage.table} "
            "WHERE c_account_external_id <> '') named "
            "ON e.external_id = named.c_account_external_id) "
            "ORDER BY a.id FOR KEY SHARE OF a) locked"
        )


# --- renewals ------------------------------------------------------------------------------


def _money(name: str, help_text: str, *, required: bool = True) -> Column:
    # The model's DecimalField(14, 2): a cell that does not fit is a type error.
    return Column(
        name,
        help_text,
        type="decimal",
        required=required,
        max_digits=14,
        decimal_places=2,
        type_message=MONEY_TYPE_MESSAGE,
    )


class RenewalImporter(Importer):
    kind = KIND
    title = "Renewals"
    description = (
        "What happened when an account's contract came up for renewal: renewed, downsell or "
        "churned, with the ARR before and after. A row whose account and renewal date are "
        "already stored replaces that renewal. A churn that is the account's newest renewal "
        "marks the account churned; its open risk record is left for its owner to close."
    )
    columns = (
        *ACCOUNT_COLUMNS,
        Column(
            "renewal_date",
            "The day the contract came up for renewal, as YYYY-MM-DD: from "
            f"{dates.EARLIEST.isoformat()} to today.",
            type="date",
        ),
        Column("outcome", f"One of {OUTCOMES} (in any case)."),
        _money("arr_before", "The ARR of the contract ending, e.g. 120000 or 120000.00."),
        _money(
            "arr_after",
            "The ARR of the contract that follows: at least arr_before for renewed, less for "
            "a downsell, empty or 0 for churned.",
            required=False,
        ),
    )
    one_of = ACCOUNT_ONE_OF
    key = ("account_id", "renewal_date")
    key_field = "renewal_date"
    key_label = "account and renewal date"
    file_source = "csv"
    sample = (
        "account_external_id,renewal_date,outcome,arr_before,arr_after\n"
        "CRM-0042,2026-03-31,renewed,120000,132000\n"
        "CRM-0107,2026-04-30,downsell,80000,55000.50\n"
        "CRM-0311,2026-05-31,churned,45000,\n"
    )

    def resolved_sql(self, table: str) -> str:
        # Each row with the account it names (NULL when it names none) and its
        # outcome in lower case (NULL when it is none of the outcomes).
        outcomes = ", ".join(sql_text(outcome) for outcome in RenewalOutcome.values)
        return f"""
            SELECT s.*, {ACCOUNT_ID} AS account_id,
                   s.v_renewal_date AS renewal_date,
                   CASE WHEN lower(s.c_outcome) IN ({outcomes}) THEN lower(s.c_outcome) END
                       AS outcome,
                   CAST(s.v_arr_before AS numeric) AS arr_before,
                   CAST(s.v_arr_after AS numeric) AS arr_after
            FROM {table} s {ACCOUNT_JOINS}
        """

    def checks(self) -> list[Check]:
        # The outcome's rules only compare amounts that are there and not
        # negative, so a row gets one error per mistake, not two.
        both_amounts = (
            "r.arr_before IS NOT NULL AND r.arr_after IS NOT NULL "
            "AND r.arr_before >= 0 AND r.arr_after >= 0"
        )
        return [
            *ACCOUNT_CHECKS,
            Check(
                "renewal_date",
                "r.renewal_date > %(today)s",
                sql_text(
                    "The renewal date is in the future: send a renewal once its date has come."
                ),
            ),
            Check(
                "renewal_date",
                "r.renewal_date < %(earliest)s",
                sql_text(f"Enter a date from {dates.EARLIEST.isoformat()} on."),
            ),
            Check(
                "outcome",
                "r.c_outcome <> '' AND r.outcome IS NULL",
                "'Unknown outcome \"' || r.c_outcome || '\". The outcomes are: " + OUTCOMES + ".'",
            ),
            Check(
                "arr_before",
                "r.arr_before < 0",
                sql_text("The ARR before cannot be negative."),
            ),
            Check(
                "arr_after",
                "r.arr_after < 0",
                sql_text("The ARR after cannot be negative."),
            ),
            Check(
                "arr_after",
                "r.outcome IN ('renewed', 'downsell') AND r.c_arr_after = ''",
                sql_text("A value is required: only a churn may leave arr_after empty."),
            ),
            Check(
                "arr_after",
                "r.outcome = 'churned' AND r.arr_after IS NOT NULL AND r.arr_after > 0",
                sql_text("A churned account keeps no ARR: leave arr_after empty or 0."),
            ),
            Check(
                "arr_after",
                f"r.outcome = 'downsell' AND {both_amounts} AND r.arr_after >= r.arr_before",
                "'A downsell ends below the ARR before: arr_after (' || r.c_arr_after || "
                "') must be less than arr_before (' || r.c_arr_before || ').'",
            ),
            Check(
                "arr_after",
                f"r.outcome = 'renewed' AND {both_amounts} AND r.arr_after < r.arr_before",
                "'A renewal keeps at least the ARR before: arr_after (' || r.c_arr_after || "
                "') is less than arr_before (' || r.c_arr_before || '); send it as a downsell.'",
            ),
        ]

    def params(self) -> dict[str, Any]:
        adapt = connection.ops.adapt_datefield_value
        return {"today": adapt(timezone.localdate()), "earliest": adapt(dates.EARLIEST)}

    def lock(self, stage: Stage) -> None:
        # Renewals have a foreign key constraint, so nothing can point at a
        # deleted account; the lock is about what the check says: a row
        # naming an account deleted meanwhile gets its error instead of the
        # insert failing on the constraint.
        lock_named_accounts(stage)

    def merge(self, stage: Stage, *, source: str) -> Counts:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        # The churns this batch brings news of: a churn row whose key is not
        # stored as a churn already. Read before the write, so that sending
        # the same history again marks nobody (an admin may have
        # reactivated the account since).
        new_churns = stage.values(
            "SELECT DISTINCT r.account_id FROM resolved r "
            "LEFT JOIN accounts_renewal n "
            "ON n.account_id = r.account_id AND n.renewal_date = r.renewal_date "
            "WHERE r.outcome = 'churned' AND (n.id IS NULL OR n.outcome <> 'churned')"
        )
        # Sorted by key, so two imports writing the same keys at once take
        # their row locks in the same order and wait for each other instead
        # of deadlocking. A churn's empty arr_after is 0.
        counts = stage.upsert(
            "accounts_renewal",
            (
                "account_id",
                "renewal_date",
                "outcome",
                "arr_before",
                "arr_after",
                "source",
                "recorded_at",
            ),
            "SELECT account_id, renewal_date, outcome, arr_before, COALESCE(arr_after, 0), "
            "%(source)s, %(now)s FROM resolved WHERE TRUE ORDER BY account_id, renewal_date",
            key=("account_id", "renewal_date"),
            update=("outcome", "arr_before", "arr_after", "source", "recorded_at"),
            params={"source": source, "now": now},
        )
        services.renewals_mark_churned(account_ids=new_churns)
        return counts


renewal_importer = RenewalImporter()
