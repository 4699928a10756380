"""Health scores, computed in the database: one statement scores a chunk of
accounts as of a day and writes their HealthScore rows (docs/domain.md,
"Health scores", has the formula this SQL follows to the letter).

Per account and weighted measure of its scorecard (the segment's own
threshold line, else the default line):
- latest: the observation with the greatest observed_on <= D; a number is
  fresh when D - observed_on <= stale_after_days, and left out otherwise;
- scoring=change: v = 100 (latest - m) / m, m the mean of the values in
  [latest.observed_on - baseline_days, latest.observed_on); none or m = 0 →
  left out. scoring=value: v = latest;
- v scores 0 at red, 100 at green, linearly between; an event seen within
  (D - stale_after_days, D] scores 0, else 100 (never left out);
- score = Σ w·s / Σ w over the parts not left out, half up to an integer;
  coverage = that Σ w / Σ w of every weighted measure; coverage < 0.5 → no
  score, band unknown. Sub-scores: the same within one dimension.

The same SQL runs on PostgreSQL and SQLite; the few spellings that differ
(date arithmetic, JSON building, locking) come from `_Dialect`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

DIMENSIONS = ("fit", "current_state", "interest")


@dataclass(frozen=True)
class _Dialect:
    date_param: str  # the as-of parameter as a date
    days_between: str  # whole days from {b} to {a}
    date_minus: str  # the date {d} less {n} days
    json_object: str  # a JSON object from key/value pairs
    json_object_agg: str  # an object of {key}: {value} over a group
    json_bool: str  # a JSON boolean from a SQL condition
    lock: str  # lock the chunk's account rows while they are scored
    parts_column: str  # the parts as the column stores them
    half_up: str  # {x} >= 0 rounded half up to an integer
    latest: str  # columns observed_on, value of the newest observation <= as_of
    latest_join: str  # the join that feeds them, if any
    stage: str  # a CTE {name} whose {body} is computed once per row, not per reference


_POSTGRES = _Dialect(
    date_param="CAST(%(as_of)s AS date)",
    days_between="({a} - {b})",
    date_minus="({d} - {n})",
    # Built as text json (no key sorting or binary numerics per part), turned
    # into jsonb once per account as it is written.
    json_object="json_build_object({pairs})",
    json_object_agg="json_object_agg({key}, {value})",
    json_bool="({cond})",
    lock="FOR NO KEY UPDATE",
    parts_column="CAST(parts AS jsonb)",
    # Round to 9 places first, so that a quotient such as 149/3·… that is
    # exactly .5 but printed as .49999… by finite decimals rounds up.
    half_up="CAST(round(round({x}, 9)) AS integer)",
    # One backward index probe per account and measure.
    latest="o.observed_on, o.value",
    latest_join="""LEFT JOIN LATERAL (
            SELECT o.observed_on, o.value FROM health_observation o
            WHERE o.account_id = card.account_id AND o.measure_id = card.measure_id
              AND o.observed_on <= CAST(%(as_of)s AS date)
            ORDER BY o.observed_on DESC LIMIT 1) o ON TRUE""",
    # OFFSET 0 keeps the subquery from being pulled up into its reader (which
    # would evaluate its columns again at every reference) without writing
    # its rows out as a materialized CTE does.
    stage="{name} AS ({body}\n        OFFSET 0)",
)
_SQLITE = _Dialect(
    date_param="date(%(as_of)s)",
    days_between="CAST(julianday({a}) - julianday({b}) AS integer)",
    date_minus="date({d}, '-' || {n} || ' days')",
    json_object="json_object({pairs})",
    json_object_agg="json_group_object({key}, json({value}))",
    json_bool="json(CASE WHEN {cond} THEN 'true' ELSE 'false' END)",
    lock="",
    parts_column="parts",
    half_up="CAST(round({x}, 9) + 0.5 AS integer)",
    # SQLite has no LATERAL: the newest day, then its value, by the unique index.
    latest="""(SELECT max(o.observed_on) FROM health_observation o
                WHERE o.account_id = card.account_id AND o.measure_id = card.measure_id
                  AND o.observed_on <= date(%(as_of)s)) AS observed_on,
               (SELECT o.value FROM health_observation o
                WHERE o.account_id = card.account_id AND o.measure_id = card.measure_id
                  AND o.observed_on = (SELECT max(o2.observed_on) FROM health_observation o2
                      WHERE o2.account_id = card.account_id AND o2.measure_id = card.measure_id
                        AND o2.observed_on <= date(%(as_of)s))) AS value""",
    latest_join="",
    stage="{name} AS MATERIALIZED ({body})",
)


def _dialect() -> _Dialect:
    return _POSTGRES if connection.vendor == "postgresql" else _SQLITE


def scoring_select(dialect: _Dialect, chunk_filter: str) -> str:
    """The CTEs and SELECT that compute one row per account of the chunk:
    (account_id, score, band, coverage, fit, current_state, interest, parts).

    `chunk_filter` narrows accounts_account (alias a). Parameters: as_of,
    green_at, red_below, plus the filter's own."""
    d = dialect.date_param
    age = dialect.days_between.format(a=d, b="l.observed_on")
    baseline_from = dialect.date_minus.format(d="l.observed_on", n="l.baseline_days")
    part = dialect.json_object.format(
        pairs=", ".join(
            [
                "'value', p.value",
                "'observed_on', p.observed_on",
                "'change', round(p.change, 2)",
                "'score', round(p.s, 2)",
                "'weight', p.weight",
                "'fresh', " + dialect.json_bool.format(cond="p.fresh = 1"),
            ]
        )
    )

    def sums(prefix: str, condition: str = "TRUE") -> str:
        # Every weight, the weight of the parts not left out, and Σ w·s.
        return (
            f"sum(CASE WHEN {condition} THEN p.weight END) AS {prefix}_all, "
            f"sum(CASE WHEN {condition} AND p.s IS NOT NULL THEN p.weight END) AS {prefix}_in, "
            f"sum(CASE WHEN {condition} THEN p.weight * p.s END) AS {prefix}_ws"
        )

    def ratio(prefix: str) -> str:
        # Σ w·s / Σ w half up, or NULL when under half of the weight is covered.
        rounded = dialect.half_up.format(x=f"t.{prefix}_ws * 1.0 / t.{prefix}_in")
        return (
            f"CASE WHEN t.{prefix}_in IS NULL OR 2 * t.{prefix}_in < t.{prefix}_all "
            f"THEN NULL ELSE {rounded} END"
        )

    dimension_sums = ",\n        ".join(sums(dim, f"p.dimension = '{dim}'") for dim in DIMENSIONS)
    dimension_scores = ", ".join(f"{ratio(dim)} AS {dim}" for dim in DIMENSIONS)

    card_body = """
        SELECT acc.id AS account_id, m.id AS measure_id, m.code, m.dimension, m.kind,
               m.better, m.scoring, m.baseline_days, m.stale_after_days,
               CASE WHEN ts.id IS NULL THEN td.red ELSE ts.red END AS red,
               CASE WHEN ts.id IS NULL THEN td.green ELSE ts.green END AS green,
               CASE WHEN ts.id IS NULL THEN td.weight ELSE ts.weight END AS weight
        FROM acc
        CROSS JOIN health_measure m
        LEFT JOIN health_threshold ts ON ts.measure_id = m.id AND ts.segment_id = acc.segment_id
        LEFT JOIN health_threshold td ON td.measure_id = m.id AND td.segment_id IS NULL
        WHERE m.active"""
    latest_body = f"""
        SELECT card.*, {dialect.latest}
        FROM card {dialect.latest_join}
        WHERE card.weight > 0"""
    valued_body = f"""
        SELECT l.*, {age} AS age,
               CASE WHEN l.kind = 'number' AND l.scoring = 'change' THEN
                   (SELECT avg(b.value) FROM health_observation b
                    WHERE b.account_id = l.account_id AND b.measure_id = l.measure_id
                      AND b.observed_on >= {baseline_from} AND b.observed_on < l.observed_on)
               END AS baseline
        FROM latest l"""
    p_body = """
        SELECT scored.*,
               CASE WHEN kind = 'event' THEN CASE WHEN fresh = 1 THEN 0 ELSE 100 END
                    WHEN v IS NULL THEN NULL
                    WHEN better = 'higher' THEN
                        CASE WHEN v <= red THEN 0 WHEN v >= green THEN 100
                             ELSE 100.0 * (v - red) / (green - red) END
                    ELSE
                        CASE WHEN v >= red THEN 0 WHEN v <= green THEN 100
                             ELSE 100.0 * (red - v) / (red - green) END
               END AS s
        FROM scored"""

    def stage(name: str, body: str) -> str:
        return dialect.stage.format(name=name, body=body)

    return f"""
    acc AS (
        SELECT a.id, a.segment_id FROM accounts_account a
        WHERE (a.status = 'active' OR a.churned_on > {d}) AND {chunk_filter}
    ),
    {stage("card", card_body)},
    {stage("latest", latest_body)},
    {stage("valued", valued_body)},
    measured AS (
        SELECT valued.*,
               CASE WHEN kind = 'event'
                    THEN CASE WHEN observed_on IS NOT NULL AND age < stale_after_days
                              THEN 1 ELSE 0 END
                    ELSE CASE WHEN observed_on IS NOT NULL AND age <= stale_after_days
                              THEN 1 ELSE 0 END
               END AS fresh,
               CASE WHEN scoring = 'change' AND baseline <> 0
                    THEN 100.0 * (value - baseline) / baseline END AS change
        FROM valued
    ),
    scored AS (
        SELECT measured.*,
               CASE WHEN kind = 'number' AND fresh = 1 AND scoring = 'change' THEN change
                    WHEN kind = 'number' AND fresh = 1 AND scoring = 'value' THEN value
               END AS v
        FROM measured
    ),
    {stage("p", p_body)},
    totals AS (
        SELECT p.account_id,
        {sums("w")},
        {dimension_sums},
        {dialect.json_object_agg.format(key="p.code", value=part)} AS parts
        FROM p GROUP BY p.account_id
    ),
    ratios AS (
        SELECT t.account_id, {ratio("w")} AS score, {dimension_scores},
               CASE WHEN t.w_in IS NULL THEN 0
                    ELSE round(t.w_in * 1.0 / t.w_all, 4) END AS coverage,
               t.parts
        FROM totals t
    ),
    result AS (
        SELECT acc.id AS account_id, r.score,
               CASE WHEN r.score IS NULL THEN 'unknown'
                    WHEN r.score >= %(green_at)s THEN 'green'
                    WHEN r.score < %(red_below)s THEN 'red'
                    ELSE 'yellow' END AS band,
               COALESCE(r.coverage, 0) AS coverage,
               r.fit, r.current_state, r.interest,
               COALESCE(r.parts, {dialect.json_object.format(pairs="")}) AS parts
        FROM acc LEFT JOIN ratios r ON r.account_id = acc.id
    )"""


_COLUMNS = (
    "account_id, as_of, score, band, coverage, fit, current_state, interest, parts, computed_at"
)
_UPSERT = """
    ON CONFLICT (account_id, as_of) DO UPDATE SET
        score = EXCLUDED.score, band = EXCLUDED.band, coverage = EXCLUDED.coverage,
        fit = EXCLUDED.fit, current_state = EXCLUDED.current_state,
        interest = EXCLUDED.interest, parts = EXCLUDED.parts,
        computed_at = EXCLUDED.computed_at"""
_INSERTED = """
    SELECT account_id, {as_of}, score, band, coverage, fit, current_state, interest,
           parts, %(now)s FROM result"""


def _postgres_chunk(chunk_filter: str, params: dict) -> None:
    dialect = _POSTGRES
    d = dialect.date_param
    sql = f"""
    WITH {scoring_select(dialect, chunk_filter)},
    ins AS (
        INSERT INTO health_healthscore ({_COLUMNS})
        {_INSERTED.format(as_of=d, parts=dialect.parts_column)}
        {_UPSERT}
        RETURNING account_id, as_of, score, band
    )
    UPDATE accounts_account a
    SET health_score = ins.score, health_band = ins.band, health_as_of = ins.as_of
    FROM ins
    WHERE a.id = ins.account_id AND (a.health_as_of IS NULL OR a.health_as_of <= ins.as_of)
      AND (a.health_score, a.health_band, a.health_as_of)
          IS DISTINCT FROM (ins.score, ins.band, ins.as_of)"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _sqlite_chunk(chunk_filter: str, params: dict) -> None:
    dialect = _SQLITE
    d = dialect.date_param
    sql = f"""
    INSERT INTO health_healthscore ({_COLUMNS})
    WITH {scoring_select(dialect, chunk_filter)}
    {_INSERTED.format(as_of=d, parts=dialect.parts_column)} WHERE TRUE
    {_UPSERT}"""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        cursor.execute(
            f"""
            UPDATE accounts_account
            SET health_score = h.score, health_band = h.band, health_as_of = h.as_of
            FROM health_healthscore h
            WHERE h.account_id = accounts_account.id AND h.as_of = {d}
              AND accounts_account.id BETWEEN %(low)s AND %(high)s
              AND (accounts_account.health_as_of IS NULL
                   OR accounts_account.health_as_of <= h.as_of)""",
            params,
        )


class _Chunks:
    """Hands out the chunks of one scoring run to its workers, one at a time:
    the accounts after the last one claimed (every account) or the next
    slice of the given ids. A worker claims a chunk by locking its accounts
    (`_claim`), which is what tells where the next chunk starts."""

    def __init__(self, account_ids: Iterable[int] | None, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.after = 0
        self.listed: list[list[int]] | None = None
        self.more = True
        if account_ids is not None:
            ids = sorted(set(account_ids))
            self.listed = [ids[i : i + size] for i in range(0, len(ids), size)]
            self.more = bool(self.listed)

    def candidates(self) -> tuple[str, dict]:
        """The filter on accounts_account (alias a) of the next chunk."""
        if self.listed is None:
            return "a.id > %(after)s", {"after": self.after}
        part = self.listed[0]
        placeholders = ", ".join(f"%(id{i})s" for i in range(len(part)))
        return f"a.id IN ({placeholders})", {f"id{i}": pk for i, pk in enumerate(part)}

    def stop(self) -> None:
        """No more chunks for anyone: the workers stop after their current one."""
        with self.lock:
            self.more = False

    def claimed(self, ids: list[int], more: bool) -> None:
        if self.listed is None:
            self.after = ids[-1] if ids else self.after
            self.more = more
        else:
            self.listed.pop(0)
            self.more = bool(self.listed)


def _claim(chunks: _Chunks, params: dict) -> tuple[list[int], str] | None:
    """Lock the next chunk's accounts (those active on the day among its
    candidates, in id order, at most a chunk) in the current transaction.
    Returns their ids and the filter that scores exactly them, or None when
    the run is over. One statement; only the chunk's own rows are locked,
    so the worker claiming the next chunk never waits for this one."""
    d = _dialect().date_param
    with chunks.lock:
        if not chunks.more:
            return None
        candidates, extra = chunks.candidates()
        params.update(extra, limit=chunks.size)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""WITH pick AS (
                    SELECT a.id FROM accounts_account a
                    WHERE (a.status = 'active' OR a.churned_on > {d}) AND {candidates}
                    ORDER BY a.id LIMIT %(limit)s + 1)
                SELECT a.id, (SELECT count(*) FROM pick) > %(limit)s
                FROM accounts_account a
                WHERE a.id IN (SELECT id FROM pick ORDER BY id LIMIT %(limit)s)
                ORDER BY a.id {_dialect().lock}""",
                params,
            )
            rows = cursor.fetchall()
        ids = [row[0] for row in rows]
        # Whether more candidates follow the chunk, read in the same statement.
        chunks.claimed(ids, bool(rows) and bool(rows[0][1]))
    if not ids:
        return [], ""
    params.update(low=ids[0], high=ids[-1])
    return ids, f"a.id BETWEEN %(low)s AND %(high)s AND {candidates}"


def _score_chunks(as_of: date, chunks: _Chunks) -> int:
    """Score chunk after chunk until the run is over. Returns how many
    accounts this worker scored; when it fails, the others stop after the
    chunk they are scoring."""
    scored = 0
    try:
        while (done := _score_next_chunk(as_of, chunks)) is not None:
            scored += done
    except BaseException:
        chunks.stop()
        raise
    return scored


def _score_next_chunk(as_of: date, chunks: _Chunks) -> int | None:
    """Lock the next chunk's accounts, then score exactly them, in one
    transaction. Returns how many were scored, None when the run is over.

    The lock comes first, in its own statement: under READ COMMITTED the
    scoring statement then reads with a snapshot taken after the lock, so
    it sees every rescore that committed before, and a rescore that comes
    later waits for this one and writes after it. Newer data never loses."""
    params = {
        "as_of": as_of,
        "green_at": settings.HEALTH_GREEN_AT,
        "red_below": settings.HEALTH_RED_BELOW,
        "now": timezone.now(),
    }
    with transaction.atomic():
        claim = _claim(chunks, params)
        if claim is None:
            return None
        ids, chunk_filter = claim
        if ids and connection.vendor == "postgresql":
            _postgres_chunk(chunk_filter, params)
        elif ids:
            _sqlite_chunk(chunk_filter, params)
    return len(ids)


def _in_own_connection(work: Callable[[], int]) -> Callable[[], int]:
    def run() -> int:
        try:
            return work()
        finally:
            connection.close()

    return run


def score_accounts(
    as_of: date,
    account_ids: Iterable[int] | None = None,
    *,
    chunk_size: int | None = None,
    workers: int | None = None,
) -> int:
    """Score the accounts (all that were active on `as_of` when None) as of
    that day, writing their HealthScore rows and mirroring the newest onto
    each account. Returns how many accounts were scored. Per chunk of
    accounts: one statement locks them and one scores them (two on SQLite),
    whatever their count.

    On PostgreSQL, outside a transaction, `workers` (HEALTH_SCORE_WORKERS)
    connections score chunks side by side. Inside a transaction the chunks
    are scored one after another in it: another connection could not see
    what the transaction has written."""
    chunks = _Chunks(account_ids, chunk_size or settings.HEALTH_SCORE_CHUNK)
    workers = workers or settings.HEALTH_SCORE_WORKERS
    if chunks.listed is not None:
        workers = min(workers, len(chunks.listed))
    if workers <= 1 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return _score_chunks(as_of, chunks)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = [
            pool.submit(_in_own_connection(lambda: _score_chunks(as_of, chunks)))
            for _ in range(workers)
        ]
        try:
            return sum(run.result() for run in runs)
        except BaseException:
            # A worker failed, or this thread was interrupted (a task's soft
            # time limit): the pool waits for the workers as it closes, so
            # let them stop after their current chunk.
            chunks.stop()
            raise
