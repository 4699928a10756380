"""Learning figures of `make bench`: the health calibration report over
100,000 renewals against the bench's scores, compared with one hand-written
statement computing the same figures; and one rule's backtest over 52 weekly
replays of every bench account.

The bench's observations cover ten weeks, and scoring writes a few days of
scores. A calibration needs each account's score months before its renewal,
and a backtest a year of history, so this module first writes a score history
(every four weeks for sixty-eight weeks, derived from each account's newest
score with a deterministic jitter) and one renewal per account in the past
year, about one in eight churned, more often where the score was low."""

from __future__ import annotations

import datetime as dt
import statistics
import time

from django.db import connection

from bench.health import count_queries

HISTORY_STEP_DAYS = 28
HISTORY_STEPS = 17
DAYS_BEFORE = 90

_HISTORY_SQL = """
INSERT INTO health_healthscore
    (account_id, as_of, score, band, coverage, fit, current_state, interest, parts, computed_at)
SELECT h.account_id, %(as_of)s::date - %(step)s * k, x.score,
       CASE WHEN x.score IS NULL THEN 'unknown' WHEN x.score >= 70 THEN 'green'
            WHEN x.score < 40 THEN 'red' ELSE 'yellow' END,
       h.coverage, h.fit, h.current_state, h.interest, h.parts, now()
FROM health_healthscore h
CROSS JOIN generate_series(1, %(steps)s) AS k
CROSS JOIN LATERAL (
    SELECT CASE WHEN h.score IS NULL THEN NULL
                ELSE greatest(0, least(100, h.score
                     + abs(hashtext(h.account_id || ':' || k)) %% 41 - 20)) END AS score
) x
WHERE h.as_of = %(as_of)s
ON CONFLICT (account_id, as_of) DO NOTHING
"""

# One renewal per account in the year before the bench's day. The chance of
# a churn falls with the score the account had three months before (the
# history above): 40 %% when red, 15 %% yellow, 4 %% green, from a hash.
_RENEWALS_SQL = """
INSERT INTO accounts_renewal
    (account_id, renewal_date, outcome, arr_before, arr_after, source, recorded_at)
SELECT a.id, r.day,
       CASE WHEN c.churn THEN 'churned' WHEN a.id %% 9 = 0 THEN 'downsell' ELSE 'renewed' END,
       a.arr,
       CASE WHEN c.churn THEN 0 WHEN a.id %% 9 = 0 THEN round(a.arr * 0.8, 2) ELSE a.arr END,
       'api', now()
FROM accounts_account a
CROSS JOIN LATERAL (SELECT %(as_of)s::date - CAST(a.id %% 364 AS integer) AS day) r
LEFT JOIN LATERAL (
    SELECT s.score FROM health_healthscore s
    WHERE s.account_id = a.id AND s.as_of <= r.day - %(days_before)s
    ORDER BY s.as_of DESC LIMIT 1
) s ON TRUE
CROSS JOIN LATERAL (
    SELECT abs(hashtext('renewal:' || a.id)) %% 100
           < CASE WHEN s.score IS NULL THEN 10 WHEN s.score < 40 THEN 40
                  WHEN s.score < 70 THEN 15 ELSE 4 END AS churn
) c
WHERE a.arr > 0
"""

# The calibration's figures written by hand as one statement: each renewal's
# score days_before earlier (a lateral lookup of the newest score on or before
# that day), then the counts per (band, score, churned), which give the band
# rows, the deciles and the AUC, and per (measure, low, churned) over the
# parts; the green churns are the rows of one band.
HAND_SQL = """
WITH scored AS MATERIALIZED (
    SELECT r.id, r.outcome = 'churned' AS churned, r.arr_before,
           s.score, COALESCE(s.band, 'none') AS band, s.parts
    FROM accounts_renewal r
    JOIN accounts_account a ON a.id = r.account_id
    LEFT JOIN LATERAL (
        SELECT h.score, h.band, h.parts FROM health_healthscore h
        WHERE h.account_id = r.account_id AND h.as_of <= r.renewal_date - %(days_before)s
        ORDER BY h.as_of DESC LIMIT 1
    ) s ON TRUE
    WHERE r.renewal_date BETWEEN %(after)s AND %(before)s
),
by_score AS (
    SELECT 'score' AS kind, band AS key, score, churned, count(*) AS n,
           sum(arr_before) FILTER (WHERE churned) AS arr
    FROM scored GROUP BY band, score, churned
),
by_measure AS (
    SELECT 'measure' AS kind, p.key,
           CASE WHEN (p.value ->> 'score')::numeric < 40 THEN 1 ELSE 0 END,
           churned, count(*), NULL::numeric
    FROM scored CROSS JOIN LATERAL jsonb_each(scored.parts) p
    WHERE p.value ->> 'score' IS NOT NULL
    GROUP BY 2, 3, 4
),
green AS (
    SELECT 'green' AS kind, CAST(id AS text), score, churned, 1, arr_before
    FROM scored WHERE band = 'green' AND churned
)
SELECT * FROM by_score UNION ALL SELECT * FROM by_measure UNION ALL SELECT * FROM green
"""


def generate_history(as_of: dt.date) -> dict[str, int]:
    """The score history and the renewals (see the module's docstring)."""
    with connection.cursor() as cursor:
        cursor.execute(
            _HISTORY_SQL, {"as_of": as_of, "step": HISTORY_STEP_DAYS, "steps": HISTORY_STEPS}
        )
        history = cursor.rowcount
        cursor.execute("VACUUM ANALYZE health_healthscore")
        cursor.execute(_RENEWALS_SQL, {"as_of": as_of, "days_before": DAYS_BEFORE})
        renewals = cursor.rowcount
        cursor.execute("VACUUM ANALYZE accounts_renewal")
        # A churn marks its account churned, as the renewal importer does.
        cursor.execute(
            "UPDATE accounts_account a SET status = 'churned', churned_on = r.renewal_date "
            "FROM accounts_renewal r WHERE r.account_id = a.id AND r.outcome = 'churned'"
        )
        cursor.execute("VACUUM ANALYZE accounts_account")
    return {"history_scores": history, "renewals": renewals}


def _hand(after: dt.date, before: dt.date) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(HAND_SQL, {"days_before": DAYS_BEFORE, "after": after, "before": before})
        return cursor.fetchall()


def measure_calibration(as_of: dt.date, repeat: int) -> dict[str, object]:
    """The calibration report over every renewal against the hand-written
    statement, alternately, after one warm-up each; both must count the same
    renewals and churns per band. Then the statements for a tenth of the
    renewals (the newest five weeks) and for all of them."""
    from reports.calibration import CalibrationFilters, health_calibration
    from reports.programs import RenewalFilters

    first, last = as_of - dt.timedelta(days=400), as_of
    everything = CalibrationFilters(
        days_before=DAYS_BEFORE,
        renewals=RenewalFilters(renewed_after=first, renewed_before=last),
    )
    ours_s, hand_s = [], []
    for index in range(repeat + 1):
        start = time.perf_counter()
        report = health_calibration(filters=everything)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        rows = _hand(first, last)
        hand = time.perf_counter() - start
        if index:
            ours_s.append(ours)
            hand_s.append(hand)
    expected: dict[str, list[int]] = {}
    for kind, key, _score, churned, count, _arr in rows:
        if kind == "score":
            tally = expected.setdefault(key, [0, 0])
            tally[0] += count
            tally[1] += count if churned else 0
    got = {row.band: [row.renewals, row.churned] for row in report.bands if row.renewals}
    if got != expected:
        raise SystemExit(f"calibration_vs_sql: bands differ: ours {got}, hand {expected}")

    tenth = CalibrationFilters(
        days_before=DAYS_BEFORE,
        renewals=RenewalFilters(renewed_after=as_of - dt.timedelta(days=35), renewed_before=last),
    )
    with count_queries() as some:
        health_calibration(filters=tenth)
    with count_queries() as every:
        health_calibration(filters=everything)
    ours_median, hand_median = statistics.median(ours_s), statistics.median(hand_s)
    return {
        "calibration_renewals": report.totals.renewals,
        "calibration_auc": report.auc,
        "calibration_s": round(ours_median, 2),
        "calibration_sql_s": round(hand_median, 2),
        "calibration_vs_sql": round(ours_median / hand_median, 2),
        "calibration_queries_10k": len(some),
        "calibration_queries_100k": len(every),
    }


BACKTEST_RULE = "Fees down and red"


def measure_backtest() -> dict[str, object]:
    """One rule (a measure's latest value and the band) replayed weekly over
    twelve months of every bench account, once; then its statements with the
    accounts after the first 10,000 left out (rolled back) and with all; then
    each of the ten bench rules once, for the slowest."""
    from django.db import transaction

    from accounts.models import Account
    from rules.backtest import backtest
    from rules.models import Rule

    rule = Rule.objects.get(name=BACKTEST_RULE)
    start = time.perf_counter()
    result = backtest(rule, months=12, horizon_days=180)
    elapsed = time.perf_counter() - start

    with transaction.atomic():
        first_left_out = Account.objects.order_by("pk").values_list("pk", flat=True)[10_000]
        # Churned before every replay date: no replay looks at them.
        Account.objects.filter(pk__gte=first_left_out).update(
            status="churned", churned_on=dt.date(2000, 1, 1)
        )
        with count_queries() as some:
            backtest(rule, months=12, horizon_days=180)
        transaction.set_rollback(True)
    with count_queries() as every:
        backtest(rule, months=12, horizon_days=180)
    # Every bench rule once, for the slowest: the condition types cost
    # differently (a score drop compares two scores on every replay date).
    slowest, slowest_s = "", 0.0
    for other in Rule.objects.order_by("name"):
        start = time.perf_counter()
        backtest(other, months=12, horizon_days=180)
        seconds = time.perf_counter() - start
        if seconds > slowest_s:
            slowest, slowest_s = other.name, seconds
    return {
        "backtest_slowest_rule": slowest,
        "backtest_slowest_s": round(slowest_s, 1),
        "backtest_replays": result.weeks,
        "backtest_fired": result.fired,
        "backtest_precision": result.precision,
        "backtest_s": round(elapsed, 1),
        "backtest_queries_10k": len(some),
        "backtest_queries_100k": len(every),
    }
