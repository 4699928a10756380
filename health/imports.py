"""Observations in bulk, through the import framework (core.imports): the
columns of a file or an API record, the rules beyond the generic ones, and the
merge. Registered from HealthConfig.ready(); the CSV pages and
health.ingest use it.

A row names its account by id (``account``) or by external id
(``account_external_id``), its measure by code, and gives the day observed and
the value. Sending a key (account, measure, day) again updates its value."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from accounts.imports import (
    ACCOUNT_CHECKS,
    ACCOUNT_COLUMNS,
    ACCOUNT_ID,
    ACCOUNT_JOINS,
    ACCOUNT_ONE_OF,
    lock_named_accounts,
)
from core import dates
from core.imports import Check, Column, Counts, Importer, Stage, sql_text

from . import services

KIND = "observations"


class ObservationImporter(Importer):
    kind = KIND
    title = "Observations"
    description = (
        "Signals of account health: one value of one measure for one account on one day. "
        "A row whose account, measure and day are already stored updates that value."
    )
    columns = (
        *ACCOUNT_COLUMNS,
        Column("measure", "The measure's code, e.g. logins-30d or nps."),
        Column(
            "observed_on",
            f"The day observed, as YYYY-MM-DD: from {dates.EARLIEST.isoformat()} to today.",
            type="date",
        ),
        Column(
            "value",
            "A number such as 118 or -12.5: at most 4 decimal places, no thousands "
            "separators. An event (e.g. sponsor-left) has the value 1.",
            type="decimal",
        ),
    )
    one_of = ACCOUNT_ONE_OF
    key = ("account_id", "measure_id", "observed_on")
    key_field = "observed_on"
    key_label = "account, measure and day"
    file_source = "csv"
    sample = (
        "account_external_id,measure,observed_on,value\n"
        "CRM-0042,logins-30d,2026-06-30,118\n"
        "CRM-0042,nps,2026-06-30,-12.5\n"
        "CRM-0107,sponsor-left,2026-06-28,1\n"
    )

    def resolved_sql(self, table: str) -> str:
        # Each row with the ids it names (NULL when it names nothing known).
        return f"""
            SELECT s.*, {ACCOUNT_ID} AS account_id, m.id AS measure_id,
                   m.kind AS measure_kind, m.name AS measure_name,
                   s.v_observed_on AS observed_on, s.v_value AS value
            FROM {table} s {ACCOUNT_JOINS}
            LEFT JOIN health_measure m ON m.code = s.c_measure
        """

    def checks(self) -> list[Check]:
        return [
            *ACCOUNT_CHECKS,
            Check(
                "measure",
                "r.c_measure <> '' AND r.measure_id IS NULL",
                "'No measure has the code \"' || r.c_measure || '\".'",
            ),
            Check(
                "observed_on",
                "r.observed_on > %(today)s",
                sql_text("The day is in the future."),
            ),
            Check(
                "observed_on",
                "r.observed_on < %(earliest)s",
                sql_text(f"Enter a day from {dates.EARLIEST.isoformat()} on."),
            ),
            Check(
                "value",
                "r.measure_kind = 'event' AND CAST(r.value AS numeric) <> 1",
                "r.measure_name || ' is an event: its value is 1.'",
            ),
        ]

    def params(self) -> dict[str, Any]:
        adapt = connection.ops.adapt_datefield_value
        return {"today": adapt(timezone.localdate()), "earliest": adapt(dates.EARLIEST)}

    def lock(self, stage: Stage) -> None:
        # Observations have no foreign key constraints (a per-row check cost
        # more than the insert): the accounts and measures the rows name are
        # locked until the commit; a delete waits for it, and one that came
        # first leaves its rows out of the lock and the check that follows
        # reports them. SQLite serialises writers: nothing to lock.
        lock_named_accounts(stage)
        if not stage.postgres:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM (SELECT m.id FROM health_measure m "
                f"WHERE m.code IN (SELECT c_measure FROM {stage.table}) "
                "ORDER BY m.id FOR KEY SHARE OF m) locked"
            )

    def merge(self, stage: Stage, *, source: str) -> Counts:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        # Sorted by key, so two imports writing the same keys at once take
        # their row locks in the same order and wait for each other instead
        # of deadlocking.
        return stage.upsert(
            "health_observation",
            ("account_id", "measure_id", "observed_on", "value", "source", "recorded_at"),
            "SELECT account_id, measure_id, observed_on, value, %(source)s, %(now)s "
            "FROM resolved WHERE TRUE ORDER BY account_id, measure_id, observed_on",
            key=("account_id", "measure_id", "observed_on"),
            update=("value", "source", "recorded_at"),
            params={"source": source, "now": now},
        )

    def after_merge(self, stage: Stage) -> None:
        services.rescore_on_commit(stage.values("SELECT DISTINCT account_id FROM resolved"))


observation_importer = ObservationImporter()
