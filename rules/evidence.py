"""A match's evidence in words a CSM understands: one sentence per condition,
from the values the evaluation stored with the match (so the words stay true
when the rule or the measure changes later)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from accounts.models import HealthBand
from core.dates import in_words

from . import conditions as c


def _number(value: Any) -> str:
    """A value as people write it: no trailing zeros, thousands separated."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number.normalize():,f}"


def _percent(value: Any) -> str:
    try:
        number = Decimal(str(value)).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        return f"{value}%"
    text = f"{number:f}".rstrip("0").rstrip(".")
    return ("+" if number > 0 else "") + text.replace("-", "\u2212") + "%"


def _band(value: Any) -> str:
    try:
        return HealthBand(value).label.lower()
    except ValueError:
        return str(value)


def _days(value: Any) -> str:
    return f"{value} day" + ("" if str(value) == "1" else "s")


def sentence(item: dict[str, Any]) -> str:
    """One condition's evidence as a sentence."""
    kind = item.get("type")
    name = item.get("name") or item.get("measure") or "The measure"
    if kind == c.BAND_IS:
        score = item.get("score")
        shown = f" (score {score})" if score is not None else " (no score yet)"
        return f"Health is {_band(item.get('band'))}{shown}."
    if kind == c.SCORE_DROP:
        was, now = item.get("was"), item.get("score")
        fell = was - now if isinstance(was, int) and isinstance(now, int) else "?"
        return (
            f"Health score fell {fell} points in {_days(item.get('days'))} "
            f"({was} \u2192 {now}; the rule looks for {item.get('points')} or more)."
        )
    if kind in (c.MEASURE_BELOW, c.MEASURE_ABOVE):
        side = "below" if kind == c.MEASURE_BELOW else "above"
        return (
            f"{name} was {_number(item.get('value'))} on {in_words(item.get('observed_on'))}, "
            f"{side} {_number(item.get('limit'))}."
        )
    if kind == c.MEASURE_CHANGE_BELOW:
        return (
            f"{name} was {_number(item.get('value'))} on {in_words(item.get('observed_on'))}: "
            f"{_percent(item.get('change'))} against its average of the "
            f"{_days(item.get('baseline_days'))} before (the rule looks for under "
            f"{_percent(item.get('limit'))})."
        )
    if kind == c.EVENT_WITHIN:
        return (
            f"{name} was recorded on {in_words(item.get('observed_on'))}, "
            f"within the last {_days(item.get('days'))}."
        )
    if kind == c.RENEWAL_WITHIN:
        return f"Renews on {in_words(item.get('renewal_date'))}, within {_days(item.get('days'))}."
    return str(item)


def sentences(evidence: Any) -> list[str]:
    """Every condition's evidence, in the rule's order."""
    if not isinstance(evidence, list):
        return []
    return [sentence(item) for item in evidence if isinstance(item, dict)]


def describe(condition: dict[str, Any], measure_names: dict[str, str]) -> str:
    """A condition itself in words (for the rule list and the editor)."""
    kind = condition.get("type")
    name = measure_names.get(condition.get("measure") or "", condition.get("measure") or "")
    if kind == c.BAND_IS:
        return f"health is {_band(condition.get('band'))}"
    if kind == c.SCORE_DROP:
        return (
            f"health score fell {condition.get('points')}+ points in {_days(condition.get('days'))}"
        )
    if kind == c.MEASURE_BELOW:
        return f"{name} below {_number(condition.get('value'))}"
    if kind == c.MEASURE_ABOVE:
        return f"{name} above {_number(condition.get('value'))}"
    if kind == c.MEASURE_CHANGE_BELOW:
        return f"{name} changed by less than {_percent(condition.get('percent'))} vs its baseline"
    if kind == c.EVENT_WITHIN:
        return f"{name} in the last {_days(condition.get('days'))}"
    if kind == c.RENEWAL_WITHIN:
        return f"renewal within {_days(condition.get('days'))}"
    return str(condition)
