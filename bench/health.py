"""Health figures of `make bench`: observations for every bench account,
scoring all of them against one hand-written statement, and the query count
per thousand accounts (bench/run.py prints them)."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.backends.signals import connection_created

# Weekly observations per account and measure: with the twelve seeded
# measures, 100,000 accounts hold 10 x 11 x 100,000 numbers plus the events:
# eleven million rows.
WEEKS = 10

# Deterministic values spread from below red to beyond green, from a hash of
# (account, measure, week); an event (sponsor left) for one account in 40.
_OBSERVATIONS_SQL = """
INSERT INTO health_observation (account_id, measure_id, observed_on, value, source, recorded_at)
SELECT a.id, m.id, %(as_of)s::date - CAST(7 * w + a.id %% 7 AS integer),
       CASE WHEN m.kind = 'event' THEN 1
            ELSE round(t.red + (t.green - t.red)
                 * ((abs(hashtext(a.id || ':' || m.id || ':' || w)) %% 1000) / 700.0 - 0.2), 2)
       END,
       'api', now()
FROM accounts_account a
CROSS JOIN health_measure m
JOIN health_threshold t ON t.measure_id = m.id AND t.segment_id IS NULL
CROSS JOIN generate_series(0, %(weeks)s - 1) AS w
WHERE m.kind = 'number' OR (a.id %% 40 = 0 AND w = 0)
"""

# The same scores as health.scoring, written by hand as one statement over
# every account: DISTINCT ON for each measure's latest value, a lateral mean
# for the baseline, one aggregate per account.
HAND_SQL = """
WITH card AS (
    SELECT a.id AS account_id, m.id AS measure_id, m.kind, m.better, m.scoring,
           m.baseline_days, m.stale_after_days,
           COALESCE(ts.red, td.red) AS red, COALESCE(ts.green, td.green) AS green,
           COALESCE(ts.weight, td.weight) AS weight
    FROM accounts_account a
    CROSS JOIN health_measure m
    LEFT JOIN health_threshold ts ON ts.measure_id = m.id AND ts.segment_id = a.segment_id
    LEFT JOIN health_threshold td ON td.measure_id = m.id AND td.segment_id IS NULL
    WHERE m.active AND (a.status = 'active' OR a.churned_on > %(as_of)s)
      AND COALESCE(ts.weight, td.weight) > 0
),
latest AS (
    SELECT DISTINCT ON (o.account_id, o.measure_id)
           o.account_id, o.measure_id, o.observed_on, o.value
    FROM health_observation o
    WHERE o.observed_on <= %(as_of)s
    ORDER BY o.account_id, o.measure_id, o.observed_on DESC
),
parts AS (
    SELECT c.account_id, c.weight,
           CASE
             WHEN c.kind = 'event' THEN
               CASE WHEN l.observed_on > %(as_of)s::date - c.stale_after_days THEN 0 ELSE 100 END
             ELSE (
               SELECT CASE WHEN v IS NULL THEN NULL
                           WHEN c.better = 'higher' THEN
                             CASE WHEN v <= c.red THEN 0 WHEN v >= c.green THEN 100
                                  ELSE 100.0 * (v - c.red) / (c.green - c.red) END
                           ELSE
                             CASE WHEN v >= c.red THEN 0 WHEN v <= c.green THEN 100
                                  ELSE 100.0 * (c.red - v) / (c.red - c.green) END
                      END
               FROM (SELECT CASE
                        WHEN l.observed_on IS NULL
                             OR %(as_of)s::date - l.observed_on > c.stale_after_days THEN NULL
                        WHEN c.scoring = 'value' THEN l.value
                        WHEN base.m IS NULL OR base.m = 0 THEN NULL
                        ELSE 100.0 * (l.value - base.m) / base.m END AS v) AS x)
           END AS s
    FROM card c
    LEFT JOIN latest l ON l.account_id = c.account_id AND l.measure_id = c.measure_id
    LEFT JOIN LATERAL (
        SELECT avg(b.value) AS m FROM health_observation b
        WHERE c.scoring = 'change' AND b.account_id = c.account_id
          AND b.measure_id = c.measure_id
          AND b.observed_on >= l.observed_on - c.baseline_days
          AND b.observed_on < l.observed_on
    ) base ON TRUE
)
SELECT account_id,
       CASE WHEN 2 * sum(weight) FILTER (WHERE s IS NOT NULL) < sum(weight)
                 OR count(s) = 0 THEN NULL
            ELSE round(round(sum(weight * s) / sum(weight) FILTER (WHERE s IS NOT NULL), 9))
       END AS score
FROM parts
GROUP BY account_id
"""


def generate_observations(as_of: dt.date) -> int:
    """Load the observations with the table's unique index and foreign keys
    dropped, then put them back (validated in one pass each)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'health_observation'::regclass AND contype IN ('u', 'f')"
        )
        constraints = cursor.fetchall()
        for name, _ in constraints:
            cursor.execute(f'ALTER TABLE health_observation DROP CONSTRAINT "{name}"')
        cursor.execute(_OBSERVATIONS_SQL, {"as_of": as_of, "weeks": WEEKS})
        count = cursor.rowcount
        for name, definition in constraints:
            cursor.execute(f'ALTER TABLE health_observation ADD CONSTRAINT "{name}" {definition}')
        cursor.execute("VACUUM ANALYZE health_observation")
        cursor.execute("ANALYZE accounts_account")
    return count


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """The statements run in the block on this connection and on every
    connection opened during it: scoring runs its chunks on worker
    connections of its own."""
    statements: list[str] = []  # list.append is atomic across threads

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    def watch(sender, connection, **kwargs) -> None:
        connection.execute_wrappers.append(record)

    connection_created.connect(watch)
    try:
        with connection.execute_wrapper(record):
            yield statements
    finally:
        connection_created.disconnect(watch)


def measure_scoring(as_of: dt.date, repeat: int) -> dict[str, object]:
    """Score every account as of successive days, as the daily task does (each
    run writes a new day and moves every account's current health), against
    the hand-written statement computing the same days' scores. Both must
    agree on every account."""
    from accounts.models import Account
    from health.models import HealthScore
    from health.scoring import score_accounts

    days = [as_of - dt.timedelta(days=repeat - i) for i in range(repeat + 1)]
    ours_s, hand_s = [], []
    for index, day in enumerate(days):
        start = time.perf_counter()
        score_accounts(day)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(HAND_SQL, {"as_of": day})
            expected = {account: None if s is None else int(s) for account, s in cursor}
        hand = time.perf_counter() - start
        if index:  # the first day warms the caches
            ours_s.append(ours)
            hand_s.append(hand)
        scored = dict(HealthScore.objects.filter(as_of=day).values_list("account_id", "score"))
        differing = [a for a in scored if scored[a] != expected.get(a)]
        if differing or len(scored) != Account.objects.filter(status="active").count():
            raise SystemExit(
                f"score_all_vs_sql: {len(differing)} scores differ from the hand SQL "
                f"on {day}, e.g. accounts {differing[:5]}"
            )

    active = len(scored)
    ids = list(Account.objects.order_by("pk").values_list("pk", flat=True)[:10_000])
    with count_queries() as ten_k:
        score_accounts(as_of, ids)
    with count_queries() as all_accounts:
        score_accounts(as_of)
    ours_median = statistics.median(ours_s)
    hand_median = statistics.median(hand_s)
    return {
        "health_accounts_scored": active,
        "score_all_s": round(ours_median, 2),
        "score_all_sql_s": round(hand_median, 2),
        "score_all_vs_sql": round(ours_median / hand_median, 2),
        "score_queries_10k": round(len(ten_k) / (len(ids) / 1000), 2),
        "score_queries_100k": round(len(all_accounts) / (active / 1000), 2),
    }


def observations_csv(as_of: dt.date, rows: int) -> bytes:
    """A CSV file of `rows` observations of the bench accounts (by external id)
    for the numeric measures, on the three days before `as_of`: some keys are
    new, some are already stored (an update)."""
    from health.models import Measure

    codes = list(
        Measure.objects.filter(kind="number").order_by("code").values_list("code", flat=True)
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT external_id FROM accounts_account ORDER BY id")
        external_ids = [row[0] for row in cursor]
    lines = ["account_external_id,measure,observed_on,value"]
    per_account = len(codes)
    for index in range(rows):
        account = external_ids[(index // per_account) % len(external_ids)]
        code = codes[index % per_account]
        day = as_of - dt.timedelta(days=1 + (index // (per_account * len(external_ids))) % 3)
        lines.append(f"{account},{code},{day.isoformat()},{(index * 37) % 1000 / 10}")
    return ("\n".join(lines) + "\n").encode()


# The columns of the bench's CSV file, as an unindexed table.
_FILE_COLUMNS = "(account_external_id text, measure text, observed_on date, value numeric)"


def _copy_file(cursor, table: str, content: bytes) -> None:
    with cursor.cursor.copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
        copy.write(content)


_FLOOR_MERGE = """
INSERT INTO health_observation (account_id, measure_id, observed_on, value, source, recorded_at)
SELECT a.id, m.id, s.observed_on, s.value, 'csv', now()
FROM bench_floor s
JOIN accounts_account a ON a.external_id = s.account_external_id
JOIN health_measure m ON m.code = s.measure
ORDER BY 1, 2, 3
ON CONFLICT (account_id, measure_id, observed_on) DO UPDATE
SET value = excluded.value, source = excluded.source, recorded_at = excluded.recorded_at
"""


def measure_merge_floor(content: bytes) -> float:
    """The least any import of the file into the observation table can cost
    when it stages the file and merges it with one INSERT … ON CONFLICT, as
    ours does: a COPY into a temporary table, then the merge with
    nothing else (no row numbers, no checks, no locks, no progress). Rolled
    back, so the import measured next finds the table unchanged."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE bench_floor {_FILE_COLUMNS} ON COMMIT DROP")
        start = time.perf_counter()
        _copy_file(cursor, "bench_floor", content)
        cursor.execute(_FLOOR_MERGE)
        seconds = time.perf_counter() - start
        transaction.set_rollback(True)
    return seconds


def measure_import(as_of: dt.date, user, rows: int) -> dict[str, object]:
    """The CSV import path (the job's import step: COPY into its stage, every
    rule, one INSERT … ON CONFLICT) against a bare COPY of the same file into
    an unindexed table."""
    from core.imports import import_job_run, import_job_validate
    from core.models import ImportJob, ImportStatus

    content = observations_csv(as_of, rows)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE bench_copy {_FILE_COLUMNS}")
        start = time.perf_counter()
        _copy_file(cursor, "bench_copy", content)
        bare = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_copy")
    floor = measure_merge_floor(content)
    with connection.cursor() as cursor:
        # The rolled-back rows would otherwise sit in the index the import
        # writes next.
        cursor.execute("VACUUM health_observation")

    job = ImportJob.objects.create(
        kind="observations",
        filename="bench.csv",
        size=len(content),
        content=content,
        created_by=user,
    )
    start = time.perf_counter()
    import_job_validate(job.pk)
    check = time.perf_counter() - start
    job.refresh_from_db()
    if job.status != ImportStatus.READY:
        raise SystemExit(f"observations import: the check found {job.error_count} errors")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING)
    start = time.perf_counter()
    import_job_run(job.pk)
    imported = time.perf_counter() - start
    job.refresh_from_db()
    if job.status != ImportStatus.DONE or job.created_count + job.updated_count != rows:
        raise SystemExit(f"observations import ended {job.status}: {job.failure}")
    return {
        "observations_import_rows": rows,
        "observations_import_created": job.created_count,
        "observations_import_updated": job.updated_count,
        "observations_copy_s": round(bare, 2),
        "observations_check_s": round(check, 2),
        "observations_import_s": round(imported, 2),
        "observations_import_vs_copy": round(imported / bare, 2),
        "observations_floor_s": round(floor, 2),
        "observations_floor_vs_copy": round(floor / bare, 2),
    }


def measure_api(client, as_of: dt.date, requests: int) -> dict[str, object]:
    """Bulk POSTs of 10,000 observations through the whole stack."""
    import json

    from health.models import Measure

    codes = list(
        Measure.objects.filter(kind="number").order_by("code").values_list("code", flat=True)
    )
    seconds = []
    for request in range(requests):
        rows = [
            {
                "account_external_id": f"CRM-{1 + (request * 1000 + index // len(codes)):07d}",
                "measure": codes[index % len(codes)],
                "observed_on": (as_of - dt.timedelta(days=4)).isoformat(),
                "value": str(index % 500),
            }
            for index in range(10_000)
        ]
        body = json.dumps(rows)
        start = time.perf_counter()
        response = client.post("/api/v1/observations/", body, content_type="application/json")
        seconds.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"observations API: {response.status_code} {response.content[:300]!r}")
    return {"api_observations_rows_per_s": round(10_000 / statistics.median(seconds))}
