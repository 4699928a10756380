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
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
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


def _whole(value: Any, low: int, high: int) -> int | str:
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
        checked = _whole(value, 1, MAX_POINTS)
    elif name == "days":
        checked = _whole(value, 1, MAX_DAYS)
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
    number: str  # a numeric parameter
    json_object: str
    json_array: str
    json_stored: str  # the JSON as the evidence column stores it
    stage: str  # a CTE {name} computed once per row
    # An UPDATE of the open episodes of rule %(rule)s whose {column} is not
    # among the hit of {ctes}: the clause before it, and its condition.
    with_update: str
    not_in_hit: str


POSTGRES = Dialect(
    date="CAST(%({name})s AS date)",
    minus_days="({d} - {n})",
    number="CAST(%({name})s AS numeric)",
    json_object="json_build_object({pairs})",
    json_array="json_build_array({items})",
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
    number="CAST(%({name})s AS REAL)",
    json_object="json_object({pairs})",
    json_array="json_array({items})",
    json_stored="{json}",
    stage="{name} AS MATERIALIZED ({body})",
    # SQLite builds the list once, as an index; and its cursor counts the
    # rows of an UPDATE only when the statement starts with UPDATE.
    with_update="",
    not_in_hit="{column} NOT IN (WITH {ctes} SELECT account_id FROM hit)",
)


@dataclass
class Query:
    """The SQL of one rule: ``ctes`` end in ``hit`` (account_id, arr,
    evidence) — the accounts in scope for which every condition holds."""

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
