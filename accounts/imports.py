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
transaction.

Accounts themselves come in through ``AccountImporter`` (kind "accounts"),
keyed on their external id: a file creates the accounts it names that do not
exist yet and updates those that do, never their status."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from core import dates
from core.imports import Check, Column, Counts, Importer, Stage, sql_text

from . import services
from .models import ACCOUNT_OWNER_ROLES, Account, AccountStatus, RenewalOutcome, Role

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


# --- accounts ------------------------------------------------------------------------------

ACCOUNTS_KIND = "accounts"

# The model's field lengths: a longer cell is the row's error, not the insert's.
EXTERNAL_ID_CHARS = Account._meta.get_field("external_id").max_length
NAME_CHARS = Account._meta.get_field("name").max_length
OWNER_ROLES = ", ".join(sql_text(role) for role in ACCOUNT_OWNER_ROLES)


def _in_a_sentence(label: str) -> str:
    # "Reviewer" → "reviewer", but "CS operations admin" keeps its capitals.
    return label if label[1:2].isupper() else label[:1].lower() + label[1:]


# The label of each role that may not own an account, for the CSM's message.
OTHER_ROLE_LABELS = " ".join(
    f"WHEN {sql_text(role.value)} THEN {sql_text(_in_a_sentence(str(role.label)))}"
    for role in Role
    if role not in ACCOUNT_OWNER_ROLES
)


class AccountImporter(Importer):
    """Customer accounts keyed on their external id (the CRM's id): a row whose
    external id no account has creates an account (active), one whose
    external id an account has updates that account's name, region, segment,
    CSM, ARR and renewal date. Every column is required: a row is the whole
    account, as a CRM export gives it.

    An import never changes an account's status: a churned account named by
    a row keeps its churn (an admin reactivates it) while its fields are
    updated, as the API and the admin allow. The rules the table's
    constraints hold (ARR not negative, the lengths of the name and the
    external id) are checked row by row first, so a file never fails on the
    insert."""

    kind = ACCOUNTS_KIND
    title = "Accounts"
    description = (
        "Customer accounts from the CRM, matched on their external id: a row with a new "
        "external id creates an account, a row with a known one updates that account's "
        "name, region, segment, CSM, ARR and renewal date. An import never changes an "
        "account's status: a churned account stays churned."
    )
    columns = (
        Column(
            "external_id",
            "The account's id in the CRM, e.g. a Salesforce account id: it says which "
            f"account the row is, exactly as written (case matters), at most {EXTERNAL_ID_CHARS} "
            "characters, once per file.",
        ),
        Column("name", f"The account's name, at most {NAME_CHARS} characters."),
        Column("region", "The region's code, e.g. EMEA (in any case)."),
        Column(
            "segment", "The segment's code or name, e.g. mid-market or Mid-Market (in any case)."
        ),
        Column(
            "csm",
            "The owner's username or email address (in any case): an active CSM or manager.",
        ),
        _money("arr", "The annual recurring revenue, e.g. 120000 or 55000.50: 0 or more."),
        Column(
            "renewal_date",
            "The next renewal date, as YYYY-MM-DD.",
            type="date",
        ),
    )
    key = ("external_id",)
    key_field = "external_id"
    key_label = "external id"
    file_source = "csv"
    sample = (
        "external_id,name,region,segment,csm,arr,renewal_date\n"
        "CRM-0042,Acme GmbH,EMEA,enterprise,carl,120000,2026-09-30\n"
        "CRM-0107,Globex Inc.,na,Mid-Market,maria@example.com,55000.50,2027-01-31\n"
    )

    def resolved_sql(self, table: str) -> str:
        # Each row with the ids it names (NULL when it names nothing, or more
        # than one thing) and how many things its cells match, for the
        # messages. A code that matches exactly wins over one that matches in
        # another case; a segment is matched by code or name. The people are
        # looked up once per distinct csm cell, by username or email (a
        # person whose two are the same counts once).
        return f"""
            SELECT s.*,
                   NULLIF(s.c_external_id, '') AS external_id,
                   x.id AS account_id,
                   COALESCE(rx.id, CASE WHEN ri.matches = 1 THEN ri.id END) AS region_id,
                   CASE WHEN rx.id IS NULL THEN ri.matches ELSE 1 END AS region_matches,
                   COALESCE(gx.id, CASE WHEN gi.matches = 1 THEN gi.id END) AS segment_id,
                   CASE WHEN gx.id IS NULL THEN gi.matches ELSE 1 END AS segment_matches,
                   COALESCE(o.exact_id, CASE WHEN o.owners = 1 THEN o.owner_id END) AS csm_id,
                   o.people AS csm_people, o.active AS csm_active, o.owners AS csm_owners,
                   o.active_role AS csm_active_role,
                   CAST(s.v_arr AS numeric) AS arr,
                   s.v_renewal_date AS renewal_date
            FROM {table} s
            LEFT JOIN accounts_account x ON x.external_id = s.c_external_id
            LEFT JOIN accounts_region rx ON rx.code = s.c_region
            LEFT JOIN (
                SELECT lower(code) AS code, count(*) AS matches, min(id) AS id
                FROM accounts_region GROUP BY lower(code)
            ) ri ON ri.code = lower(s.c_region)
            LEFT JOIN accounts_segment gx ON gx.code = s.c_segment
            LEFT JOIN (
                SELECT named.label, count(DISTINCT named.id) AS matches, min(named.id) AS id
                FROM (
                    SELECT lower(code) AS label, id FROM accounts_segment
                    UNION SELECT lower(name) AS label, id FROM accounts_segment
                ) named
                GROUP BY named.label
            ) gi ON gi.label = lower(s.c_segment)
            LEFT JOIN (
                SELECT k.c_csm AS csm,
                       count(*) AS people,
                       sum(CASE WHEN u.is_active THEN 1 ELSE 0 END) AS active,
                       sum(CASE WHEN u.is_active AND u.role IN ({OWNER_ROLES}) THEN 1 ELSE 0 END)
                           AS owners,
                       max(CASE WHEN u.is_active AND u.role IN ({OWNER_ROLES}) THEN u.id END)
                           AS owner_id,
                       max(CASE WHEN u.is_active AND u.role IN ({OWNER_ROLES})
                                AND u.username = k.c_csm THEN u.id END) AS exact_id,
                       min(CASE WHEN u.is_active THEN u.role END) AS active_role
                FROM (SELECT DISTINCT c_csm FROM {table} WHERE c_csm <> '') k
                JOIN (
                    SELECT id, lower(username) AS handle FROM accounts_user
                    UNION SELECT id, lower(email) AS handle FROM accounts_user WHERE email <> ''
                ) h ON h.handle = lower(k.c_csm)
                JOIN accounts_user u ON u.id = h.id
                GROUP BY k.c_csm
            ) o ON o.csm = s.c_csm
        """

    def checks(self) -> list[Check]:
        owner = "an account's owner must be an active CSM or manager."
        return [
            Check(
                "external_id",
                f"length(r.c_external_id) > {EXTERNAL_ID_CHARS}",
                f"'The external id has ' || length(r.c_external_id) || ' characters; "
                f"at most {EXTERNAL_ID_CHARS} fit.'",
            ),
            Check(
                "name",
                f"length(r.c_name) > {NAME_CHARS}",
                f"'The name has ' || length(r.c_name) || ' characters; at most {NAME_CHARS} fit.'",
            ),
            Check(
                "region",
                "r.c_region <> '' AND r.region_matches IS NULL",
                "'No region has the code \"' || r.c_region || '\".'",
            ),
            Check(
                "region",
                "r.region_matches > 1",
                "'\"' || r.c_region || '\" matches ' || r.region_matches || ' region codes in "
                "different cases; write the code exactly.'",
            ),
            Check(
                "segment",
                "r.c_segment <> '' AND r.segment_matches IS NULL",
                "'No segment has the code or name \"' || r.c_segment || '\".'",
            ),
            Check(
                "segment",
                "r.segment_matches > 1",
                "'\"' || r.c_segment || '\" matches ' || r.segment_matches || ' segments by "
                "code or name; write the code exactly.'",
            ),
            Check(
                "csm",
                "r.c_csm <> '' AND r.csm_people IS NULL",
                "'No person has the username or email \"' || r.c_csm || '\".'",
            ),
            Check(
                "csm",
                "r.csm_active = 0",
                "'\"' || r.c_csm || '\" is deactivated: " + owner.replace("'", "''") + "'",
            ),
            Check(
                "csm",
                "r.csm_active > 0 AND r.csm_owners = 0",
                "'\"' || r.c_csm || '\" is a ' || "
                f"CASE r.csm_active_role {OTHER_ROLE_LABELS} ELSE r.csm_active_role END || "
                "': " + owner.replace("'", "''") + "'",
            ),
            Check(
                "csm",
                "r.csm_owners > 1 AND r.csm_id IS NULL",
                "'\"' || r.c_csm || '\" names ' || r.csm_owners || ' active CSMs or managers "
                "(an email address they share); give the username.'",
            ),
            Check("arr", "r.arr < 0", sql_text("The ARR cannot be negative.")),
            Check(
                "renewal_date",
                "r.renewal_date < %(earliest)s OR r.renewal_date > %(latest)s",
                sql_text(dates.OUT_OF_RANGE),
            ),
        ]

    def params(self) -> dict[str, Any]:
        adapt = connection.ops.adapt_datefield_value
        return {"earliest": adapt(dates.EARLIEST), "latest": adapt(dates.LATEST)}

    def lock(self, stage: Stage) -> None:
        # The regions, segments and people the rows name are held (FOR KEY
        # SHARE, people FOR SHARE) until the merge commits: one deleted before is left out and
        # the check that follows reports its rows; one deleted later waits
        # (without this, the foreign keys would fail the whole import instead
        # of naming the rows). SQLite serialises writers: nothing to lock.
        if not stage.postgres:
            return
        # One pass over the stage, then each table's rows in id order.
        # People FOR SHARE: being an active CSM or manager is checked, so a
        # deactivation or a change of role waits for the import too.
        locks = ", ".join(
            f"(SELECT count(*) FROM (SELECT t.id FROM {table} t "
            f"WHERE t.id IN (SELECT {column} FROM named) ORDER BY t.id FOR {mode} OF t) x)"
            for table, column, mode in (
                ("accounts_region", "region_id", "KEY SHARE"),
                ("accounts_segment", "segment_id", "KEY SHARE"),
                ("accounts_user", "csm_id", "SHARE"),
            )
        )
        stage.values(
            ", named AS MATERIALIZED (SELECT region_id, segment_id, csm_id FROM resolved) "
            f"SELECT {locks}"
        )

    def merge(self, stage: Stage, *, source: str) -> Counts:
        # Existing accounts first, in id order (the order the health scoring
        # locks them in, so the two wait for each other instead of
        # deadlocking), then the new ones by external id (so two imports of
        # the same new ids wait too). The status is set on insert only.
        return stage.upsert(
            "accounts_account",
            (
                "external_id",
                "name",
                "region_id",
                "segment_id",
                "csm_id",
                "arr",
                "renewal_date",
                "status",
            ),
            "SELECT external_id, c_name, region_id, segment_id, csm_id, arr, renewal_date, "
            "%(active)s FROM resolved WHERE TRUE "
            "ORDER BY CASE WHEN account_id IS NULL THEN 1 ELSE 0 END, account_id, external_id",
            key=("external_id",),
            update=("name", "region_id", "segment_id", "csm_id", "arr", "renewal_date"),
            params={"active": AccountStatus.ACTIVE.value},
        )


account_importer = AccountImporter()
