"""The Health calibration report (docs/domain.md, "Health calibration"): did
the health score, read some days ahead of each renewal, tell the churns
apart from the renewals?

For each renewal in scope, S is the account's health score with the greatest
``as_of`` on or before the renewal date less ``days_before`` days (none: the
"No score" row). From those pairs the report gives the churn per band, the
AUC of the score, the churn per score decile, the churn of the renewals whose
part score of a measure was low (under 40) against the others, and the
churned renewals whose score was green.

Two statements whatever the number of renewals. The first reads every
renewal's S once (a backward probe of the unique (account, as_of) index: a
lateral join on PostgreSQL, a correlated lookup on SQLite), fans S's scored
parts out beside the renewal, and aggregates the lot into a few hundred
groups: one per (band, score) for the renewals, one per (measure, low) for
the parts. The band rows, the per-score counts, the deciles and the measure
rows are sums over those groups, in the same statement. The second lists
the green churns. Python only lays the aggregated rows out, adds up the
five band rows for the totals, and combines the per-score counts (at most
101) into the AUC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection

from core.csv_files import cell
from core.exceptions import InvalidInput

from .programs import RenewalFilters, parse_renewal_query, rate
from .selectors import RATE_PLACES, TOTAL_LABEL, ZERO, as_money

DAYS_BEFORE_DEFAULT = 90
DAYS_BEFORE_MAX = 730
DAYS_BEFORE_MESSAGE = f"Enter a whole number of days from 0 to {DAYS_BEFORE_MAX}."
# A part scoring under this is *low*: a fixed bound, the default red bound of a score.
LOW_PART_SCORE = 40

NO_SCORE = "none"
UNKNOWN = "unknown"
BANDS: list[tuple[str, str]] = [
    ("green", "Green"),
    ("yellow", "Yellow"),
    ("red", "Red"),
    (UNKNOWN, "Unknown"),
    (NO_SCORE, "No score"),
]
DECILES = 10


def decile_label(bucket: int) -> str:
    """Bucket 0 is scores 0 to 9, …, 8 is 80 to 89, and 9 is 90 to 100 (a
    score of 100 joins the top bucket), each written with an en dash."""
    low = bucket * 10
    return f"{low}\u2013{100 if bucket == DECILES - 1 else low + 9}"


# --- input -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationFilters:
    """``days_before`` (0 to 730) and the renewals in scope: the renewal
    period (inclusive dates on ``renewal_date``), region and segment codes."""

    days_before: int = DAYS_BEFORE_DEFAULT
    renewals: RenewalFilters = field(default_factory=RenewalFilters)


def _days_before(raw: Any) -> int | None:
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= DAYS_BEFORE_MAX else None


def parse_calibration_query(query: Mapping[str, str]) -> CalibrationFilters:
    """``days_before`` (default 90) and the renewal filters of
    ``parse_renewal_query`` (``renewed_after``, ``renewed_before``, ``region``,
    ``segment``; blank means absent). Every problem is raised at once as
    ``InvalidInput({parameter: [message]})``, each message saying what is
    allowed."""
    errors: dict[str, list[str]] = {}
    days_before = DAYS_BEFORE_DEFAULT
    raw = query.get("days_before")
    if raw is not None and str(raw).strip():
        parsed = _days_before(raw)
        if parsed is None:
            errors["days_before"] = [DAYS_BEFORE_MESSAGE]
        else:
            days_before = parsed
    renewals = RenewalFilters()
    try:
        renewals = parse_renewal_query(query)
    except InvalidInput as invalid:
        errors.update(invalid.errors)
    if errors:
        raise InvalidInput(errors)
    return CalibrationFilters(days_before=days_before, renewals=renewals)


# --- the report ------------------------------------------------------------------------------


@dataclass
class BandRow:
    band: str | None  # None on the totals row
    label: str
    renewals: int
    churned: int
    churn_rate: Decimal | None
    arr_churned: Decimal


@dataclass
class DecileRow:
    bucket: int
    label: str
    renewals: int
    churned: int
    churn_rate: Decimal | None


@dataclass
class MeasureRow:
    """One measure: the renewals whose S gave it a part score under 40
    (*low*) against those whose part score was 40 or more."""

    code: str
    name: str
    renewals_low: int
    churned_low: int
    churn_rate_low: Decimal | None
    renewals_not_low: int
    churned_not_low: int
    churn_rate_not_low: Decimal | None
    lift: Decimal | None


@dataclass
class GreenChurn:
    renewal_id: int
    account_id: int
    account_name: str
    region: str
    segment: str
    renewal_date: dt.date
    score: int
    score_as_of: dt.date
    arr_before: Decimal


@dataclass
class HealthCalibration:
    filters: CalibrationFilters
    bands: list[BandRow]
    totals: BandRow
    auc: Decimal | None
    n_churned: int  # scored churned renewals: the AUC's n_c
    n_renewed: int  # scored renewals not churned: the AUC's n_r
    deciles: list[DecileRow]
    measures: list[MeasureRow]
    green_churns: list[GreenChurn]

    @property
    def has_renewals(self) -> bool:
        return self.totals.renewals > 0


def _date(value: dt.date | str) -> dt.date:
    # SQLite hands back a computed date as text.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def auc_from_counts(counts: Iterable[tuple[int, int, int]]) -> tuple[Decimal | None, int, int]:
    """The AUC of (100 - score) as a churn predictor from per-score counts
    ``(score, churned, not churned)``, with n_c and n_r.

    AUC = (#pairs with score_c < score_r + ½ · #pairs with score_c = score_r)
          / (n_c · n_r)

    over every pair of a churned and a not-churned renewal; four places, None
    when either class is empty. Walking the scores upwards, each churned
    renewal at score s pairs with the renewed ones above s (a whole pair each)
    and at s (half each), so the sum takes one step per score, not per pair."""
    ordered = sorted(counts)
    n_churned = sum(churned for _, churned, _ in ordered)
    n_renewed = sum(renewed for _, _, renewed in ordered)
    if n_churned == 0 or n_renewed == 0:
        return None, n_churned, n_renewed
    renewed_above = n_renewed
    twice_pairs = 0  # twice the numerator, so the halves stay whole
    for _, churned, renewed in ordered:
        renewed_above -= renewed
        twice_pairs += churned * (2 * renewed_above + renewed)
    auc = (Decimal(twice_pairs) / Decimal(2 * n_churned * n_renewed)).quantize(
        RATE_PLACES, rounding=ROUND_HALF_UP
    )
    return auc, n_churned, n_renewed


def lift(
    churned_low: int, renewals_low: int, churned_not_low: int, renewals_not_low: int
) -> Decimal | None:
    """churn_rate_low / churn_rate_not_low from the counts (not from the
    rounded rates), four places; None when either rate is undefined or the
    divisor is 0."""
    if renewals_low == 0 or renewals_not_low == 0 or churned_not_low == 0:
        return None
    return (
        Decimal(churned_low * renewals_not_low) / Decimal(renewals_low * churned_not_low)
    ).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


# --- the SQL ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Dialect:
    score_join: str  # joins S (alias s: score, band, as_of, parts) to renewal r; {kind} JOIN
    base_stage: str  # the CTE of one row per renewal with its S
    expanded: str  # each base row once with code NULL, and once per scored part


_POSTGRES = _Dialect(
    # One backward probe of the unique (account_id, as_of) index per renewal.
    score_join="""{kind} JOIN LATERAL (
            SELECT h.score, h.band, h.as_of, h.parts FROM health_healthscore h
            WHERE h.account_id = r.account_id
              AND h.as_of <= r.renewal_date - CAST(%(days_before)s AS integer)
            ORDER BY h.as_of DESC LIMIT 1) s ON TRUE""",
    # Read once, by ``expanded``: PostgreSQL runs it inside the aggregate's
    # scan instead of writing every renewal's parts out.
    base_stage="base AS ({body})",
    # Parts carry no band or score, and renewals no code: fewer, narrower
    # groups to hash. jsonb numbers compare as numbers; a part left out has a
    # JSON null score. The renewal's id among the lateral's parameters tells
    # the planner no two renewals share them: otherwise it caches each
    # expansion (Memoize) under the 2 kB parts as key, which costs a quarter
    # of the statement and is never hit.
    expanded="""
        SELECT x.band, x.score, b.churned, x.arr_before, x.code, x.low
        FROM base b CROSS JOIN LATERAL (
            SELECT b.band, b.score, b.arr_before,
                   CAST(NULL AS text) AS code, CAST(NULL AS boolean) AS low
            UNION ALL
            SELECT NULL, NULL, NULL, p.code, p.part_score < CAST('{low}' AS jsonb)
            FROM (SELECT e.key AS code, e.value -> 'score' AS part_score
                  FROM jsonb_each(b.parts) e OFFSET 0) p
            WHERE jsonb_typeof(p.part_score) = 'number' AND b.renewal_id IS NOT NULL
        ) x""",
)
_SQLITE = _Dialect(
    # SQLite has no LATERAL: the id of S by the same index, then S itself.
    score_join="""{kind} JOIN health_healthscore s ON s.id = (
            SELECT h.id FROM health_healthscore h
            WHERE h.account_id = r.account_id
              AND h.as_of <= date(r.renewal_date, '-' || %(days_before)s || ' days')
            ORDER BY h.as_of DESC LIMIT 1)""",
    base_stage="base AS MATERIALIZED ({body})",
    expanded="""
        SELECT b.band, b.score, b.churned, b.arr_before,
               CAST(NULL AS text) AS code, CAST(NULL AS boolean) AS low
        FROM base b
        UNION ALL
        SELECT NULL, NULL, b.churned, NULL, p.key, json_extract(p.value, '$.score') < {low}
        FROM base b, json_each(b.parts) p
        WHERE json_type(p.value, '$.score') IN ('integer', 'real')""",
)


def _dialect() -> _Dialect:
    return _POSTGRES if connection.vendor == "postgresql" else _SQLITE


def _scope(filters: CalibrationFilters) -> tuple[str, str, dict[str, Any]]:
    """The join to the account (when a code filter needs it), the WHERE
    conditions on renewal r, and their parameters."""
    renewals = filters.renewals
    conditions, params = ["TRUE"], {"days_before": filters.days_before}
    if renewals.renewed_after:
        conditions.append("r.renewal_date >= %(renewed_after)s")
        params["renewed_after"] = renewals.renewed_after
    if renewals.renewed_before:
        conditions.append("r.renewal_date <= %(renewed_before)s")
        params["renewed_before"] = renewals.renewed_before
    if renewals.region:
        conditions.append(
            "a.region_id IN (SELECT g.id FROM accounts_region g WHERE g.code = %(region)s)"
        )
        params["region"] = renewals.region
    if renewals.segment:
        conditions.append(
            "a.segment_id IN (SELECT t.id FROM accounts_segment t WHERE t.code = %(segment)s)"
        )
        params["segment"] = renewals.segment
    join = (
        "JOIN accounts_account a ON a.id = r.account_id"
        if renewals.region or renewals.segment
        else ""
    )
    return join, " AND ".join(conditions), params


def _groups_sql(dialect: _Dialect, account_join: str, where: str) -> str:
    """Rows (section, label, number, low, name, renewals, churned, arr_churned):
    section ``band`` (label: the band, or none / unknown), ``score`` (number:
    the score), ``decile`` (number: the bucket) and ``measure`` (label: the
    code, low: whether the part scored under 40, name: the measure's name)."""
    base = f"""
        SELECT r.id AS renewal_id, CASE WHEN r.outcome = 'churned' THEN 1 ELSE 0 END AS churned,
               r.arr_before,
               CASE WHEN s.as_of IS NULL THEN '{NO_SCORE}'
                    WHEN s.score IS NULL THEN '{UNKNOWN}'
                    ELSE s.band END AS band,
               s.score, s.parts
        FROM accounts_renewal r
        {account_join}
        {dialect.score_join.format(kind="LEFT")}
        WHERE {where}"""
    # ``fine``: one group per (band, score) of the renewals and per (code,
    # low) of the parts, a few hundred at most; every section sums its groups.
    return f"""
    WITH {dialect.base_stage.format(body=base)},
    expanded AS ({dialect.expanded.format(low=LOW_PART_SCORE)}),
    fine AS (
        SELECT band, score, code, low, count(*) AS renewals, sum(churned) AS churned,
               sum(CASE WHEN churned = 1 THEN arr_before END) AS arr_churned
        FROM expanded
        GROUP BY band, score, code, low
    )
    SELECT 'band' AS section, band AS label, CAST(NULL AS integer) AS number,
           CAST(NULL AS boolean) AS low, CAST(NULL AS text) AS name,
           sum(renewals) AS renewals, sum(churned) AS churned, sum(arr_churned) AS arr_churned
    FROM fine WHERE code IS NULL GROUP BY band
    UNION ALL
    SELECT 'score', NULL, score, NULL, NULL, sum(renewals), sum(churned), NULL
    FROM fine WHERE code IS NULL AND score IS NOT NULL GROUP BY score
    UNION ALL
    SELECT 'decile', NULL, CASE WHEN score >= 90 THEN 9 ELSE score / 10 END, NULL, NULL,
           sum(renewals), sum(churned), NULL
    FROM fine WHERE code IS NULL AND score IS NOT NULL
    GROUP BY CASE WHEN score >= 90 THEN 9 ELSE score / 10 END
    UNION ALL
    SELECT 'measure', f.code, NULL, f.low, max(m.name), sum(f.renewals), sum(f.churned), NULL
    FROM fine f LEFT JOIN health_measure m ON m.code = f.code
    WHERE f.code IS NOT NULL GROUP BY f.code, f.low
    """


def _green_churns_sql(dialect: _Dialect, where: str) -> str:
    return f"""
    SELECT r.id, a.id, a.name, g.code, t.code, r.renewal_date, s.score, s.as_of, r.arr_before
    FROM accounts_renewal r
    JOIN accounts_account a ON a.id = r.account_id
    JOIN accounts_region g ON g.id = a.region_id
    JOIN accounts_segment t ON t.id = a.segment_id
    {dialect.score_join.format(kind="")}
    WHERE r.outcome = 'churned' AND s.band = 'green' AND {where}
    ORDER BY r.renewal_date DESC, a.name, r.id
    """


# --- the selector ----------------------------------------------------------------------------


def _band_rows(groups: Mapping[str, Sequence[Any]]) -> tuple[list[BandRow], BandRow]:
    rows = []
    for band, label in BANDS:
        renewals, churned, arr_churned = groups.get(band, (0, 0, None))
        rows.append(
            BandRow(
                band=band,
                label=label,
                renewals=renewals,
                churned=churned,
                churn_rate=rate(churned, renewals),
                arr_churned=as_money(arr_churned),
            )
        )
    # Every renewal is in exactly one band: the totals add up the five rows.
    renewals = sum(row.renewals for row in rows)
    churned = sum(row.churned for row in rows)
    totals = BandRow(
        band=None,
        label=TOTAL_LABEL,
        renewals=renewals,
        churned=churned,
        churn_rate=rate(churned, renewals),
        arr_churned=sum((row.arr_churned for row in rows), ZERO),
    )
    return rows, totals


def _measure_rows(
    groups: Mapping[tuple[str, bool], tuple[str | None, int, int]],
) -> list[MeasureRow]:
    rows = []
    for code in sorted({code for code, _ in groups}):
        low_name, renewals_low, churned_low = groups.get((code, True), (None, 0, 0))
        other_name, renewals_not_low, churned_not_low = groups.get((code, False), (None, 0, 0))
        rows.append(
            MeasureRow(
                code=code,
                # A measure deleted since keeps its code in old scores' parts.
                name=low_name or other_name or code,
                renewals_low=renewals_low,
                churned_low=churned_low,
                churn_rate_low=rate(churned_low, renewals_low),
                renewals_not_low=renewals_not_low,
                churned_not_low=churned_not_low,
                churn_rate_not_low=rate(churned_not_low, renewals_not_low),
                lift=lift(churned_low, renewals_low, churned_not_low, renewals_not_low),
            )
        )
    return rows


def _decile_row(bucket: int, renewals: int, churned: int) -> DecileRow:
    # Every bucket has a row, empty or not, so the chart's axis is fixed.
    return DecileRow(
        bucket=bucket,
        label=decile_label(bucket),
        renewals=renewals,
        churned=churned,
        churn_rate=rate(churned, renewals),
    )


def health_calibration(*, filters: CalibrationFilters | None = None) -> HealthCalibration:
    """The calibration of the renewals in scope (see the module's docstring
    and docs/domain.md). Two queries."""
    filters = filters or CalibrationFilters()
    dialect = _dialect()
    account_join, where, params = _scope(filters)
    bands: dict[str, tuple[int, int, Any]] = {}
    scores: list[tuple[int, int, int]] = []
    deciles: dict[int, tuple[int, int]] = {}
    measures: dict[tuple[str, bool], tuple[str | None, int, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_groups_sql(dialect, account_join, where), params)
        for section, label, number, low, name, renewals, churned, arr in cursor.fetchall():
            renewals, churned = int(renewals), int(churned or 0)
            if section == "band":
                bands[label] = (renewals, churned, arr)
            elif section == "score":
                scores.append((int(number), churned, renewals - churned))
            elif section == "decile":
                deciles[int(number)] = (renewals, churned)
            else:
                measures[(label, bool(low))] = (name, renewals, churned)
        # Only churned renewals look their score up again: a small share of
        # the first statement's lookups.
        cursor.execute(_green_churns_sql(dialect, where), params)
        green = [
            GreenChurn(
                renewal_id=renewal_id,
                account_id=account_id,
                account_name=name,
                region=region,
                segment=segment,
                renewal_date=_date(renewal_date),
                score=score,
                score_as_of=_date(as_of),
                arr_before=as_money(arr_before),
            )
            for (
                renewal_id,
                account_id,
                name,
                region,
                segment,
                renewal_date,
                score,
                as_of,
                arr_before,
            ) in cursor.fetchall()
        ]
    band_rows, totals = _band_rows(bands)
    auc, n_churned, n_renewed = auc_from_counts(scores)
    return HealthCalibration(
        filters=filters,
        bands=band_rows,
        totals=totals,
        auc=auc,
        n_churned=n_churned,
        n_renewed=n_renewed,
        deciles=[_decile_row(bucket, *deciles.get(bucket, (0, 0))) for bucket in range(DECILES)],
        measures=_measure_rows(measures),
        green_churns=green,
    )


# --- CSV ----------------------------------------------------------------------------------

CSV_COLUMNS = [
    "section",
    "key",
    "label",
    "renewals",
    "churned",
    "churn_rate",
    "arr_churned",
    "renewals_not_low",
    "churned_not_low",
    "churn_rate_not_low",
    "lift",
    "auc",
    "renewal_date",
    "region",
    "segment",
    "score",
    "score_as_of",
    "arr_before",
]


def _line(**values: Any) -> list[str]:
    return [cell(values.get(name)) for name in CSV_COLUMNS]


def calibration_csv_rows(report: HealthCalibration) -> Iterable[list[str]]:
    """One file for the whole report, each line tagged by ``section``:
    ``band`` (five lines, key the band) then ``total``; ``auc`` (renewals and
    churned: the scored renewals and churns it compares); ``decile`` (key 0
    to 9); ``measure`` (key the code, label the name; renewals, churned and
    churn_rate are the low group's, the ``*_not_low`` columns the others');
    ``green_churn`` (key the account id, label its name). A section leaves
    the columns it has no use for empty."""
    yield list(CSV_COLUMNS)
    for row in [*report.bands, report.totals]:
        yield _line(
            section="band" if row.band else "total",
            key=row.band,
            label=row.label,
            renewals=row.renewals,
            churned=row.churned,
            churn_rate=row.churn_rate,
            arr_churned=row.arr_churned,
        )
    yield _line(
        section="auc",
        label="AUC",
        renewals=report.n_churned + report.n_renewed,
        churned=report.n_churned,
        auc=report.auc,
    )
    for decile in report.deciles:
        yield _line(
            section="decile",
            key=decile.bucket,
            label=decile.label,
            renewals=decile.renewals,
            churned=decile.churned,
            churn_rate=decile.churn_rate,
        )
    for measure in report.measures:
        yield _line(
            section="measure",
            key=measure.code,
            label=measure.name,
            renewals=measure.renewals_low,
            churned=measure.churned_low,
            churn_rate=measure.churn_rate_low,
            renewals_not_low=measure.renewals_not_low,
            churned_not_low=measure.churned_not_low,
            churn_rate_not_low=measure.churn_rate_not_low,
            lift=measure.lift,
        )
    for churn in report.green_churns:
        yield _line(
            section="green_churn",
            key=churn.account_id,
            label=churn.account_name,
            renewal_date=churn.renewal_date,
            region=churn.region,
            segment=churn.segment,
            score=churn.score,
            score_as_of=churn.score_as_of,
            arr_before=churn.arr_before,
        )
