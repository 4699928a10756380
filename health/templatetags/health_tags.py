"""The health badge: band colour, band name, score and an arrow against the
score of 30 days ago, rendered by templates/includes/health_badge.html."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template

from health.models import Band
from health.selectors import TREND_DAYS

register = template.Library()

SCORED_BANDS = {Band.GREEN: "Green", Band.YELLOW: "Yellow", Band.RED: "Red"}


def _int_or_none(value: Any) -> int | None:
    # A missing annotation reaches a template tag as "" (string_if_invalid).
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def badge_context(
    score: Any, band: Any, previous: Any = None, as_of: dt.date | None = None
) -> dict[str, Any]:
    """What the badge shows. ``previous`` is the score of 30 days ago (None
    without one): the arrow is up, down or level against it."""
    score = _int_or_none(score)
    previous = _int_or_none(previous)
    as_of_text = f" as of {as_of.day} {as_of:%b %Y}" if isinstance(as_of, dt.date) else ""
    if score is None or band not in SCORED_BANDS:
        reason = "never scored" if not band else "too little recent data for a score"
        return {"scored": False, "title": f"No health score: {reason}{as_of_text}"}
    label = SCORED_BANDS[band]
    context: dict[str, Any] = {
        "scored": True,
        "band": band,
        "label": label,
        "score": score,
        "direction": "",
        "trend_text": "",
    }
    if previous is not None:
        delta = score - previous
        if delta > 0:
            context.update(direction="up", arrow="↑", delta=delta)
            context["trend_text"] = f"up {delta} from {TREND_DAYS} days ago"
        elif delta < 0:
            context.update(direction="down", arrow="↓", delta=-delta)
            context["trend_text"] = f"down {-delta} from {TREND_DAYS} days ago"
        else:
            context.update(direction="level", arrow="→", delta=0)
            context["trend_text"] = f"the same as {TREND_DAYS} days ago"
    else:
        context["no_trend_text"] = f"no score {TREND_DAYS} days ago"
    trend = context["trend_text"] or context["no_trend_text"]
    context["title"] = f"Health {label.lower()}, score {score} of 100{as_of_text}; {trend}"
    return context


@register.inclusion_tag("includes/health_badge.html")
def health_badge(score: Any, band: Any, previous: Any = None, as_of: Any = None) -> dict:
    """``{% health_badge account.health_score account.health_band
    account.health_previous_score account.health_as_of %}``"""
    return badge_context(score, band, previous, as_of)


def _plain(value: Any) -> str:
    """1250.5000 → "1,250.5"; 60.0 → "60": no trailing zeros, thousands grouped."""
    number = Decimal(str(value)).quantize(Decimal("0.01")).normalize()
    return format(number, ",f")


@register.filter
def with_unit(value: Any, unit: str = "") -> str:
    """A measure's value and unit: "45%", "1,250 events"."""
    if value is None or value == "":
        return ""
    text = _plain(value)
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


@register.filter
def signed_percent(value: Any) -> str:
    """-35.2 → "\u221235.2%", 12 → "+12%": a minus sign, as wide as the plus."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    sign = "+" if number > 0 else "\u2212" if number < 0 else ""
    return f"{sign}{_plain(abs(number))}%"
