"""The conditions a rule can test, in one place: what each one takes, how its
input is checked, the SQL that tests it for every account at once, and the
words that explain a match (docs/domain.md, "Risk rules").

A rule's conditions are a list of 1-3 objects, each ``{"type": …}`` plus its
parameters, all of which must hold. As of a day D:

- ``band_is`` {band}: the account's newest health score on or before D has
  this band (an account never scored is ``unknown``);
- ``score_drop`` {points, days}: the newest score on or before D - days less
  the newest on or before D is at least ``points``;
- ``measure_below`` / ``measure_above`` {measure, value}: the measure's latest
  observation on or before D is fresh (D - observed_on ≤ stale_after_days)
  and its value is strictly below / above ``value``;
- ``measure_change_below`` {measure, percent}: the latest observation is
  fresh and 100 * (latest - m) / m is strictly below ``percent``, m the mean
  of the values in [latest.observed_on - baseline_days, latest.observed_on)
  (the health score's change; no such values or m = 0 → does not hold);
- ``event_within`` {measure, days}: the event was observed on a day in
  (D - days, D];
- ``renewal_within`` {days}: the account renews on a day in [D, D + days].

``build_query`` judges them as of one day, with evidence (evaluation,
preview); ``build_replay_query`` on many past days at once, with only what
was known on each (a backtest, rules.backtest), and the same tests.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from accounts.models import HealthBand
from health.models import Measure, MeasureKind

MAX_CONDITIONS = 3
MAX_DAYS = 730
MAX_POINTS = 100
# A % change: above -100 (a value cannot fall further) and below this.
PERCENT_LOW = Decimal(-100)
PERCENT_HIGH = Decimal(10000)
# The bounds of a value compared with a measure: as many digits as a
# scorecard line's red and green, few enough that a JSON number keeps every
# one of them.
VALUE_LIMIT = Decimal("1e10")
VALUE_PLACES = 4

BAND_IS = "band_is"
SCORE_DROP = "score_drop"
MEASURE_BELOW = "measure_below"
MEASURE_ABOVE = "measure_above"
MEASURE_CHANGE_BELOW = "measure_change_below"
EVENT_WITHIN = "event_within"
RENEWAL_WITHIN = "renewal_within"

# Each type, its label, and its parameters in the order the editor shows them.
TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    BAND_IS: ("Health band is", ("band",)),
    SCORE_DROP: ("Health score dropped", ("points", "days")),
    MEASURE_BELOW: ("Measure below", ("measure", "value")),
    MEASURE_ABOVE: ("Measure above", ("measure", "value")),
    MEASURE_CHANGE_BELOW: ("Measure changed by less than", ("measure", "percent")),
    EVENT_WITHIN: ("Event within", ("measure", "days")),
    RENEWAL_WITHIN: ("Renewal within", ("days",)),
}
TYPE_CHOICES = [(code, label) for code, (label, _) in TYPES.items()]
MEASURE_TYPES = (MEASURE_BELOW, MEASURE_ABOVE, MEASURE_CHANGE_BELOW, EVENT_WITHIN)
# Cheapest first: a condition is only computed for the accounts that passed
# the ones before it.
_COST = {
    RENEWAL_WITHIN: 0,
    BAND_IS: 1,
    SCORE_DROP: 2,
    MEASURE_BELOW: 3,
    MEASURE_ABOVE: 3,
    EVENT_WITHIN: 3,
    MEASURE_CHANGE_BELOW: 4,
}

REQUIRED = "This field is required."


def _key(index: int, name: str | None = None) -> str:
    return f"conditions[{index}]" + (f".{name}" if name else "")


_KEY = re.compile(r"^conditions\[(\d+)\](?:\.(\w+))?$")


def parse_key(key: str) -> tuple[int, str | None] | None:
    """The (0-based condition, parameter or None) an error key such as
    ``conditions[1].percent`` names; None for any other key."""
    match = _KEY.match(key)
    return (int(match[1]), match[2]) if match else None


def whole_number(value: Any, low: int, high: int) -> int | str:
    """The value as a whole number in [low, high], or the message saying why not."""
    if isinstance(value, bool) or value in (None, ""):
        return REQUIRED if value in (None, "") else "Enter a whole number."
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return "Enter a whole number."
    if not number.is_finite() or number != number.to_integral_value():
        return "Enter a whole number."
    if not low <= number <= high:
        return f"Enter a whole number from {low} to {high}."
    return int(number)


def _decimal(value: Any, low: Decimal, high: Decimal) -> Decimal | str:
    if isinstance(value, bool) or value in (None, ""):
        return REQUIRED if value in (None, "") else "Enter a number."
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return "Enter a number."
    if not number.is_finite():
        return "Enter a number."
    if not low < number < high:
        return f"Enter a number greater than {low:f} and less than {high:f}."
    if number != number.quantize(Decimal(1).scaleb(-VALUE_PLACES)):
        return f"Use at most {VALUE_PLACES} digits after the point."
    return number


def _json_number(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


def clean_conditions(
    raw: Any, measures: Mapping[str, Measure], errors: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The conditions as stored (types checked, numbers in range, measures
    known and of the right kind, no pair that contradicts or repeats another),
    every problem added to ``errors`` under ``conditions[i].field`` or
    ``conditions``. ``measures`` maps codes to Measure rows."""
    if not isinstance(raw, list) or not raw:
        errors.setdefault("conditions", []).append(
            f"Give between 1 and {MAX_CONDITIONS} conditions."
        )
        return []
    if len(raw) > MAX_CONDITIONS:
        errors.setdefault("conditions", []).append(
            f"A rule has at most {MAX_CONDITIONS} conditions; this one has {len(raw)}."
        )
        return []
    cleaned: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        condition = _clean_one(index, item, measures, errors)
        if condition is not None:
            cleaned.append(condition)
    if len(cleaned) == len(raw):
        for message in _contradictions(cleaned):
            errors.setdefault("conditions", []).append(message)
    return cleaned


def _clean_one(
    index: int, item: Any, measures: Mapping[str, Measure], errors: dict[str, list[str]]
) -> dict[str, Any] | None:
    def fail(name: str | None, message: str) -> None:
        errors.setdefault(_key(index, name), []).append(message)

    if not isinstance(item, dict):
        fail(None, 'Each condition is an object such as {"type": "band_is", "band": "red"}.')
        return None
    kind = item.get("type")
    if not isinstance(kind, str) or kind not in TYPES:
        fail("type", "Choose one of: " + ", ".join(TYPES) + ".")
        return None
    params = TYPES[kind][1]
    unknown = sorted(set(item) - {"type", *params})
    if unknown:
        fail(
            None, f"{', '.join(unknown)}: not a parameter of {kind} (it takes {', '.join(params)})."
        )
    result: dict[str, Any] = {"type": kind}
    ok = not unknown
    for name in params:
        value, problem = _parameter(kind, name, item.get(name), measures)
        if problem:
            fail(name, problem)
            ok = False
        else:
            result[name] = value
    return result if ok else None


def _parameter(
    kind: str, name: str, value: Any, measures: Mapping[str, Measure]
) -> tuple[Any, str]:
    """A parameter as stored, or the message that says what is wrong with it."""
    checked: Any
    if name == "band":
        if value in (None, ""):
            return None, REQUIRED
        if value not in HealthBand.values:
            return None, "Choose one of: " + ", ".join(HealthBand.values) + "."
        return value, ""
    if name == "measure":
        problem = _measure(kind, value, measures)
        return (None, problem) if problem else (value, "")
    if name == "points":
        checked = whole_number(value, 1, MAX_POINTS)
    elif name == "days":
        checked = whole_number(value, 1, MAX_DAYS)
    elif name == "value":
        checked = _decimal(value, -VALUE_LIMIT, VALUE_LIMIT)
    else:  # percent
        checked = _decimal(value, PERCENT_LOW, PERCENT_HIGH)
    if isinstance(checked, str):
        return None, checked
    return (_json_number(checked) if isinstance(checked, Decimal) else checked), ""


def _measure(kind: str, code: Any, measures: Mapping[str, Measure]) -> str:
    """What is wrong with the measure a condition names ("" when nothing)."""
    if code in (None, ""):
        return REQUIRED
    measure = measures.get(code) if isinstance(code, str) else None
    if measure is None:
        return f"No measure has the code {code!r}."
    if not measure.active:
        return f"The measure {measure.name} is inactive."
    if kind == EVENT_WITHIN and measure.kind != MeasureKind.EVENT:
        return f"{measure.name} is a number; event_within needs an event measure."
    if kind != EVENT_WITHIN and measure.kind != MeasureKind.NUMBER:
        return f"{measure.name} is an event; {kind} needs a number measure."
    return ""


def unusable(conditions: list[dict[str, Any]], measures: Mapping[str, Measure]) -> str:
    """Why stored conditions can no longer run ("" when they can): a measure
    they test was deleted, renamed or changed kind since the rule was saved
    (the health app does not know rules and cannot stop that)."""
    for condition in conditions:
        code = condition.get("measure")
        if condition.get("type") not in MEASURE_TYPES:
            continue
        measure = measures.get(code) if isinstance(code, str) else None
        if measure is None:
            return f"it tests the measure {code!r}, which no longer exists"
        wanted = MeasureKind.EVENT if condition["type"] == EVENT_WITHIN else MeasureKind.NUMBER
        if measure.kind != wanted:
            kind = "an event" if wanted == MeasureKind.EVENT else "a number"
            return f"it tests {measure.name} as {kind}, which it no longer is"
    return ""


def _contradictions(conditions: list[dict[str, Any]]) -> Iterable[str]:
    seen: dict[tuple[str, str | None], dict[str, Any]] = {}
    for condition in conditions:
        kind = condition["type"]
        key = (kind, condition.get("measure"))
        if kind == BAND_IS and (BAND_IS, None) in seen:
            other = seen[(BAND_IS, None)]["band"]
            if other == condition["band"]:
                yield f"The band is tested twice ({other})."
            else:
                yield f"The band cannot be both {other} and {condition['band']}."
            continue
        if key in seen:
            what = f" on {key[1]}" if key[1] else ""
            yield f"{kind}{what} is given twice; keep one."
            continue
        seen[key] = condition
    for (kind, code), below in seen.items():
        above = seen.get((MEASURE_ABOVE, code)) if kind == MEASURE_BELOW else None
        if above is not None and Decimal(str(below["value"])) <= Decimal(str(above["value"])):
            yield (f"{code} cannot be below {below['value']} and above {above['value']} at once.")


# --- SQL ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    date: str  # a date parameter
    minus_days: str  # the date column {d} less {n} days
    plus_days: str  # the date column {d} plus {n} days
    days_between: str  # the whole days from the date {start} to the date {end}
    dates: str  # the rows (day) of the JSON list of dates parameter {name}
    day_number: str  # the date {d} as a number of days
    # The rows of {spans} (account_id, since, until) on each replay day in
    # [since, until), the last replay day at index {last} back from %(replay_end)s.
    spread: str
    number: str  # a numeric parameter
    json_object: str
    json_array: str
    json_list: str  # the JSON array of {item} over the rows of a group
    json_stored: str  # the JSON as the evidence column stores it
    stage: str  # a CTE {name} computed once per row
    # An UPDATE of the open episodes of rule %(rule)s whose {column} is not
    # among the hit of {ctes}: the clause before it, and its condition.
    with_update: str
    not_in_hit: str


POSTGRES = Dialect(
    date="CAST(%({name})s AS date)",
    minus_days="({d} - {n})",
    plus_days="({d} + {n})",
    days_between="({end} - {start})",
    dates="SELECT CAST(value AS date) AS day "
    "FROM json_array_elements_text(CAST(%({name})s AS json))",
    day_number="({d} - DATE '2000-01-01')",
    # The replay days in the span, counted back from the last in weeks
    # (generate_series), instead of comparing each span with every day.
    spread="""SELECT x.account_id, CAST(%(replay_end)s AS date) - 7 * k AS day, {columns}
        FROM {spans} x CROSS JOIN LATERAL generate_series(
            CASE WHEN x.until IS NULL OR x.until > CAST(%(replay_end)s AS date) THEN 0
                 ELSE (CAST(%(replay_end)s AS date) - x.until) / 7 + 1 END,
            LEAST((CAST(%(replay_end)s AS date) - x.since) / 7, {last})) AS k
        WHERE x.since <= CAST(%(replay_end)s AS date)""",
    number="CAST(%({name})s AS numeric)",
    json_object="json_build_object({pairs})",
    json_array="json_build_array({items})",
    json_list="json_agg({item})",
    json_stored="CAST({json} AS jsonb)",
    stage="{name} AS ({body}\n        OFFSET 0)",
    # The accounts of the open episodes less the hit, as a set difference
    # computed once: a NOT IN list larger than work_mem is searched once per
    # row, and a NOT EXISTS against the hit may be planned as a nested loop
    # that runs the whole condition pipeline again for every episode.
    with_update="""WITH {ctes},
        gone AS MATERIALIZED (
            SELECT m.account_id FROM rules_rulematch m
            WHERE m.rule_id = %(rule)s AND m.cleared_at IS NULL
            EXCEPT SELECT account_id FROM hit)""",
    not_in_hit="{column} IN (SELECT account_id FROM gone)",
)
SQLITE = Dialect(
    date="date(%({name})s)",
    minus_days="date({d}, '-' || {n} || ' days')",
    plus_days="date({d}, '+' || {n} || ' days')",
    days_between="CAST(julianday({end}) - julianday({start}) AS INTEGER)",
    dates="SELECT date(value) AS day FROM json_each(%({name})s)",
    day_number="julianday({d})",
    spread="""SELECT x.account_id, r.day, {columns}
        FROM {spans} x JOIN replay_days r
          ON r.day >= x.since AND (x.until IS NULL OR r.day < x.until)""",
    number="CAST(%({name})s AS REAL)",
    json_object="json_object({pairs})",
    json_array="json_array({items})",
    json_list="json_group_array({item})",
    json_stored="{json}",
    stage="{name} AS MATERIALIZED ({body})",
    # SQLite builds the list once, as an index; and its cursor counts the
    # rows of an UPDATE only when the statement starts with UPDATE.
    with_update="",
    not_in_hit="{column} NOT IN (WITH {ctes} SELECT account_id FROM hit)",
)


@dataclass
class Query:
    """The SQL of one rule: ``ctes`` end in ``hit`` — the accounts in scope
    for which every condition holds: (account_id, arr, evidence) as of one
    day (``build_query``), (account_id, day) on each replay date
    (``build_replay_query``)."""

    ctes: str
    params: dict[str, Any] = field(default_factory=dict)


def _latest(measure_param: str, column: str, d: Dialect) -> str:
    """The given column of the account's newest observation of a measure on or before D."""
    return f"""(SELECT {column} FROM health_observation o
            WHERE o.account_id = a.id AND o.measure_id = %({measure_param})s
              AND o.observed_on <= {d.date.format(name="as_of")}
            ORDER BY o.observed_on DESC LIMIT 1)"""


def _health(column: str, d: Dialect, on: str = "as_of") -> str:
    """The account's newest health score's column on or before a day; the
    account's mirror of its newest score serves when it is not newer."""
    day = d.date.format(name=on)
    row = f"""(SELECT h.{column} FROM health_healthscore h
            WHERE h.account_id = a.id AND h.as_of <= {day}
            ORDER BY h.as_of DESC LIMIT 1)"""
    if on != "as_of":
        return row
    return (
        f"CASE WHEN a.health_as_of IS NULL THEN NULL WHEN a.health_as_of <= {day} "
        f"THEN a.health_{column} ELSE {row} END"
    )


def build_query(
    conditions: list[dict[str, Any]],
    measures: Mapping[str, Measure],
    *,
    as_of: dt.date,
    scope: str,
    scope_params: dict[str, Any],
    d: Dialect,
) -> Query:
    """The CTEs that find the accounts matching the conditions as of a day.
    ``scope`` filters accounts_account (alias a) and must keep churned
    accounts out."""
    params: dict[str, Any] = {"as_of": as_of, **scope_params}
    ordered = sorted(enumerate(conditions), key=lambda pair: (_COST[pair[1]["type"]], pair[0]))
    stages = [
        d.stage.format(
            name="s0",
            body=f"""
        SELECT a.id, a.arr, a.renewal_date, a.health_as_of, a.health_band, a.health_score
        FROM accounts_account a WHERE a.status = 'active' AND {scope}""",
        )
    ]
    evidence: dict[int, str] = {}
    previous = "s0"
    for step, (index, condition) in enumerate(ordered):
        column, test, words = _condition_sql(index, condition, measures, as_of, params, d)
        name = f"s{step + 1}"
        stages.append(
            d.stage.format(
                name=name,
                body=f"""
        SELECT a.*, {column} AS c{index} FROM {previous} a""",
            )
        )
        # The test runs on the next stage (or the hit), over this stage's rows.
        stages.append(f"t{step + 1} AS (SELECT a.* FROM {name} a WHERE {test})")
        previous = f"t{step + 1}"
        evidence[index] = words
    items = ", ".join(evidence[index] for index in range(len(conditions)))
    stages.append(
        f"""hit AS (
        SELECT a.id AS account_id, a.arr,
               {d.json_array.format(items=items)} AS evidence
        FROM {previous} a)"""
    )
    return Query(ctes=",\n    ".join(stages), params=params)


def _condition_sql(
    index: int,
    condition: dict[str, Any],
    measures: Mapping[str, Measure],
    as_of: dt.date,
    params: dict[str, Any],
    d: Dialect,
) -> tuple[str, str, str]:
    """(the column computed for the condition, the test on it as c{index},
    the JSON evidence object of a matching row)."""
    kind = condition["type"]
    p = f"c{index}_"
    c = f"a.c{index}"

    def param(name: str, value: Any) -> str:
        params[p + name] = value
        return p + name

    def obj(**pairs: str) -> str:
        body = ", ".join(
            f"'{key}', {value}" for key, value in {"type": f"'{kind}'", **pairs}.items()
        )
        return d.json_object.format(pairs=body)

    if kind == RENEWAL_WITHIN:
        until = d.date.format(name=param("until", as_of + dt.timedelta(days=condition["days"])))
        return (
            "a.renewal_date",
            f"{c} >= {d.date.format(name='as_of')} AND {c} <= {until}",
            obj(days=str(condition["days"]), renewal_date=c),
        )
    if kind == BAND_IS:
        band = param("band", condition["band"])
        return (
            f"COALESCE({_health('band', d)}, 'unknown')",
            f"{c} = %({band})s",
            obj(band=c, score=_health("score", d)),
        )
    if kind == SCORE_DROP:
        param("then", as_of - dt.timedelta(days=condition["days"]))
        points = param("points", condition["points"])
        was = _health("score", d, on=p + "then")
        now = _health("score", d)
        return (
            f"{was} - {now}",
            f"{c} >= %({points})s",
            obj(points=str(condition["points"]), days=str(condition["days"]), was=was, score=now),
        )
    measure = measures[condition["measure"]]
    m = param("measure", measure.pk)
    about = {
        "measure": f"CAST(%({param('code', measure.code)})s AS text)",
        "name": f"CAST(%({param('name', measure.name)})s AS text)",
    }
    if kind == EVENT_WITHIN:
        after = d.date.format(name=param("after", as_of - dt.timedelta(days=condition["days"])))
        seen = f"""(SELECT max(o.observed_on) FROM health_observation o
            WHERE o.account_id = a.id AND o.measure_id = %({m})s
              AND o.observed_on > {after} AND o.observed_on <= {d.date.format(name="as_of")})"""
        return seen, f"{c} IS NOT NULL", obj(**about, days=str(condition["days"]), observed_on=c)
    fresh = d.date.format(name=param("fresh", as_of - dt.timedelta(days=measure.stale_after_days)))
    observed_on = _latest(m, "o.observed_on", d)
    if kind in (MEASURE_BELOW, MEASURE_ABOVE):
        limit = d.number.format(name=param("limit", Decimal(str(condition["value"]))))
        value = _latest(m, f"CASE WHEN o.observed_on >= {fresh} THEN o.value END", d)
        sign = "<" if kind == MEASURE_BELOW else ">"
        return (
            value,
            f"{c} {sign} {limit}",
            obj(**about, limit=limit, value=c, observed_on=observed_on),
        )
    # MEASURE_CHANGE_BELOW: the health score's own change against the baseline.
    limit = d.number.format(name=param("limit", Decimal(str(condition["percent"]))))
    baseline_from = d.minus_days.format(d="o.observed_on", n=str(measure.baseline_days))
    change = _latest(
        m,
        f"""CASE WHEN o.observed_on >= {fresh} THEN (
                SELECT 100.0 * (o.value - avg(b.value)) / NULLIF(avg(b.value), 0)
                FROM health_observation b
                WHERE b.account_id = o.account_id AND b.measure_id = o.measure_id
                  AND b.observed_on >= {baseline_from} AND b.observed_on < o.observed_on)
            END""",
        d,
    )
    return (
        change,
        f"{c} < {limit}",
        obj(
            **about,
            limit=limit,
            change=f"round({c}, 1)",
            value=_latest(m, "o.value", d),
            observed_on=observed_on,
            baseline_days=str(measure.baseline_days),
        ),
    )


# --- replaying past days -----------------------------------------------------------------
#
# A backtest judges the conditions on many past days D at once, with only what was
# known on each: the spelling above looks up each account's figures with a subquery
# per account and day, which for a year of weekly days and 100,000 accounts is five
# million lookups per condition. Here each source row is read once instead: a score,
# an observation or a renewal date holds from one day until another, and is spread
# onto the replay days in that span (Dialect.spread), then joined by (account, day).


@dataclass(frozen=True)
class _Replay:
    d: Dialect
    params: dict[str, Any]
    scope: str
    start: dt.date  # the earliest replay day
    end: dt.date  # the latest
    weeks: int

    def date(self, name: str, value: dt.date) -> str:
        self.params[name] = value
        return self.d.date.format(name=name)

    def plus(self, column: str, days: int) -> str:
        if days < 0:
            return self.d.minus_days.format(d=column, n=str(int(-days)))
        return self.d.plus_days.format(d=column, n=str(int(days)))

    def spread(self, spans: str, columns: str) -> str:
        """The rows of ``spans`` (account_id, since, until: a day or null for
        open, excluded) on each replay day D in [since, until): account_id,
        day, then ``columns`` of the span (alias x)."""
        return self.d.spread.format(spans=spans, columns=columns, last=str(self.weeks - 1))


def _score_rows(name: str, lo: str, r: _Replay) -> str:
    """The CTE ``name`` of the score rows that can be an account's newest on a
    day from ``lo`` on: those dated in [lo, end], and each account's newest
    before ``lo`` (one lookup per account in scope)."""
    newest = """(SELECT p.{column} FROM health_healthscore p
                WHERE p.account_id = a.id AND p.as_of < {lo} ORDER BY p.as_of DESC LIMIT 1)"""
    before = ", ".join(
        f"{newest.format(column=column, lo=lo)} AS {column}"
        for column in ("as_of", "band", "score")
    )
    return f"""{name} AS (
        SELECT h.account_id, h.as_of, h.band, h.score FROM health_healthscore h
        WHERE h.as_of >= {lo} AND h.as_of <= {r.d.date.format(name="replay_end")}
        UNION ALL
        SELECT b.id, b.as_of, b.band, b.score
        FROM (SELECT a.id, {before} FROM accounts_account a WHERE {r.scope}) b
        WHERE b.as_of IS NOT NULL)"""


def _spans_of(rows: str, day: str, columns: str) -> str:
    """Each row of ``rows`` holds from its ``day`` until the account's next row."""
    return f"""SELECT account_id, {day} AS since,
            lead({day}) OVER (PARTITION BY account_id ORDER BY {day}) AS until, {columns}
        FROM {rows}"""


def _replay_condition_sql(
    index: int, condition: dict[str, Any], measures: Mapping[str, Measure], r: _Replay
) -> tuple[list[str], bool]:
    """The CTEs the condition needs on replay days, the last of them
    ``c{index}_on`` (account_id, day) without repeats, and whether the
    condition holds on exactly those account days (True) or on all the
    others (False: ``band_is`` unknown, which holds where no known band
    does). The same figures and tests as ``_condition_sql``, on each day."""
    kind = condition["type"]
    p = f"c{index}_"
    on = f"{p}on"

    def param(name: str, value: Any) -> str:
        r.params[p + name] = value
        return p + name

    def days_of(spans: str) -> str:
        # An account's spans follow each other without overlapping: each day comes once.
        return f"{on} AS (SELECT s.account_id, s.day FROM ({r.spread(spans, '1')}) s)"

    def earliest(a: str, b: str) -> str:
        """The earlier of the day ``a`` and the day ``b`` (null: no bound)."""
        return f"CASE WHEN {b} IS NOT NULL AND {b} < {a} THEN {b} ELSE {a} END"

    def latest(a: str, b: str) -> str:
        """The later of the day ``a`` and the day ``b`` (null: no bound)."""
        return f"CASE WHEN {b} IS NOT NULL AND {b} > {a} THEN {b} ELSE {a} END"

    if kind == RENEWAL_WITHIN:
        # Renewing within the days on D: the next renewal date known on D (of
        # the recorded renewals and the account's current date, the earliest
        # on or after D) is in [D, D + days]. The date x is the next one from
        # the day after the previous date p on: on the days in
        # [max(x - days, p + 1), x].
        days = condition["days"]
        lo = r.d.date.format(name="replay_start")
        hi = r.date(p + "until", r.end + dt.timedelta(days=days))
        since = latest(r.plus("renews", -days), r.plus("previous", 1))
        ctes = [
            f"""{p}dates AS (
        SELECT rr.account_id, rr.renewal_date AS renews FROM accounts_renewal rr
        WHERE rr.renewal_date >= {lo} AND rr.renewal_date <= {hi}
        UNION
        SELECT a.id, a.renewal_date FROM accounts_account a
        WHERE a.renewal_date >= {lo} AND a.renewal_date <= {hi} AND {r.scope})""",
            f"""{p}spans AS (
        SELECT account_id, renews,
               lag(renews) OVER (PARTITION BY account_id ORDER BY renews) AS previous
        FROM {p}dates)""",
            days_of(
                f"(SELECT account_id, {since} AS since, {r.plus('renews', 1)} AS until "
                f"FROM {p}spans)"
            ),
        ]
        return ctes, True
    if kind == BAND_IS:
        band = condition["band"]
        unknown = band == HealthBand.UNKNOWN
        test = f"band {'<>' if unknown else '='} %({param('band', band)})s"
        ctes = [
            _score_rows(f"{p}rows", r.d.date.format(name="replay_start"), r),
            f"{p}spans AS ({_spans_of(f'{p}rows', 'as_of', 'band')})",
            days_of(f"(SELECT * FROM {p}spans WHERE {test})"),
        ]
        return ctes, not unknown
    if kind == SCORE_DROP:
        days = condition["days"]
        points = param("points", condition["points"])
        lo = r.date(p + "from", r.start - dt.timedelta(days=days))
        # The score on D - days is the one whose span holds D - days, so the
        # span moved on by ``days`` holds D.
        moved = (
            f"(SELECT account_id, {r.plus('since', days)} AS since, "
            f"{r.plus('until', days)} AS until, score FROM {p}spans WHERE score IS NOT NULL)"
        )
        ctes = [
            _score_rows(f"{p}rows", lo, r),
            f"{p}spans AS ({_spans_of(f'{p}rows', 'as_of', 'score')})",
            # Both scores of each day side by side by grouping, not joining: a
            # join of two such lists may be planned as a loop over both.
            f"""{on} AS (
        SELECT s.account_id, s.day FROM (
            {r.spread(f"(SELECT * FROM {p}spans WHERE score IS NOT NULL)", "-x.score AS score")}
            UNION ALL
            {r.spread(moved, "x.score")}) s
        GROUP BY s.account_id, s.day
        HAVING count(*) = 2 AND sum(s.score) >= %({points})s)""",
        ]
        return ctes, True
    measure = measures[condition["measure"]]
    m = param("measure", measure.pk)
    end = r.d.date.format(name="replay_end")
    if kind == EVENT_WITHIN:
        days = condition["days"]
        after = r.date(p + "after", r.start - dt.timedelta(days=days))
        # An event counts for ``days`` from its day, or until the next one.
        events = f"""(SELECT o.account_id, o.observed_on AS since,
                lead(o.observed_on) OVER (PARTITION BY o.account_id ORDER BY o.observed_on)
                  AS next_on
            FROM health_observation o
            WHERE o.measure_id = %({m})s AND o.observed_on > {after} AND o.observed_on <= {end})"""
        spans = (
            f"(SELECT account_id, since, "
            f"{earliest(r.plus('since', days), 'next_on')} AS until FROM {events} e)"
        )
        return [days_of(spans)], True
    stale = measure.stale_after_days
    if kind in (MEASURE_BELOW, MEASURE_ABOVE):
        lo = r.date(p + "from", r.start - dt.timedelta(days=stale))
        rows = f"""(SELECT o.account_id, o.observed_on, o.value FROM health_observation o
            WHERE o.measure_id = %({m})s AND o.observed_on >= {lo} AND o.observed_on <= {end}) o"""
        limit = r.d.number.format(name=param("limit", Decimal(str(condition["value"]))))
        test = f"value {'<' if kind == MEASURE_BELOW else '>'} {limit}"
    else:  # MEASURE_CHANGE_BELOW: each observation's change against its baseline
        baseline = measure.baseline_days
        lo = r.date(p + "from", r.start - dt.timedelta(days=stale + baseline))
        number = r.d.day_number.format(d="o.observed_on")
        mean = (
            f"avg(o.value) OVER (PARTITION BY o.account_id ORDER BY {number} "
            f"RANGE BETWEEN {int(baseline)} PRECEDING AND 1 PRECEDING)"
        )
        rows = f"""(SELECT o.account_id, o.observed_on,
                   100.0 * (o.value - {mean}) / NULLIF({mean}, 0) AS value
            FROM health_observation o
            WHERE o.measure_id = %({m})s AND o.observed_on >= {lo} AND o.observed_on <= {end}) o"""
        limit = r.d.number.format(name=param("limit", Decimal(str(condition["percent"]))))
        test = f"value < {limit}"
    # The newest observation holds until the next one, and only while fresh
    # (D - observed_on ≤ stale_after_days): a stale one is not replaced by an older.
    fresh_until = r.plus("since", stale + 1)
    ctes = [
        f"{p}obs AS ({_spans_of(rows, 'observed_on', 'value')})",
        f"""{p}spans AS (
        SELECT account_id, since, {earliest(fresh_until, "until")} AS until
        FROM {p}obs WHERE {test})""",
        days_of(f"{p}spans"),
    ]
    return ctes, True


def _holds_where_none(condition: dict[str, Any]) -> bool:
    return condition["type"] == BAND_IS and condition["band"] == HealthBand.UNKNOWN


def build_replay_query(
    conditions: list[dict[str, Any]],
    measures: Mapping[str, Measure],
    *,
    days: Sequence[dt.date],
    scope: str,
    scope_params: dict[str, Any],
    d: Dialect,
) -> Query:
    """The CTEs that replay the conditions on each of ``days`` (a week apart,
    oldest first) at once, with only what was known on each day D:
    observations dated on or before D, health score rows dated on or before
    D (never the account's mirror of its newest score), the renewal dates
    known on D (recorded renewals and the current date, never only the
    current one), and the accounts in ``scope`` (alias a) that had not
    churned on D (churned_on null or after D). They begin with
    ``replay_days`` (day) and end in ``hit`` (account_id, day): each account
    and day on which every condition held. No evidence: a replay counts."""
    params: dict[str, Any] = {
        "replay_days": json.dumps([day.isoformat() for day in days]),
        "replay_start": days[0],
        "replay_end": days[-1],
        **scope_params,
    }
    r = _Replay(d, params, scope, days[0], days[-1], len(days))
    ctes = [f"replay_days AS ({d.dates.format(name='replay_days')})"]
    active = f"(a.churned_on IS NULL OR a.churned_on > {{day}}) AND {scope}"
    # Conditions that hold on the account days they list first, cheapest
    # first: the first one's days, joined with the accounts, are the only
    # rows the others look at. Only when none does (band unknown alone) is
    # every account on every day the start.
    ordered = sorted(
        enumerate(conditions),
        key=lambda pair: (_holds_where_none(pair[1]), _COST[pair[1]["type"]], pair[0]),
    )
    stages: list[str] = []
    previous = ""
    for step, (index, condition) in enumerate(ordered):
        needs, holds_on = _replay_condition_sql(index, condition, measures, r)
        ctes += needs
        last = step == len(ordered) - 1
        if not previous and holds_on:
            day = "j.day"
            rows = f"""c{index}_on j
        JOIN accounts_account a ON a.id = j.account_id WHERE {active.format(day=day)}"""
        else:
            if not previous:
                stages.append(
                    d.stage.format(
                        name="s0",
                        body=f"""
        SELECT a.id, r.day FROM accounts_account a CROSS JOIN replay_days r
        WHERE {active.format(day="r.day")}""",
                    )
                )
                previous = "s0"
            day = "a.day"
            on = f"c{index}_on j ON j.account_id = a.id AND j.day = a.day"
            rows = (
                f"{previous} a JOIN {on}"
                if holds_on
                else f"{previous} a LEFT JOIN {on} WHERE j.account_id IS NULL"
            )
        columns = f"a.id AS account_id, {day}" if last else f"a.id, {day} AS day"
        name = "hit" if last else f"s{step + 1}"
        stages.append(d.stage.format(name=name, body=f"\n        SELECT {columns} FROM {rows}"))
        previous = name
    return Query(ctes=",\n    ".join(ctes + stages), params=params)
