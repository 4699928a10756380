"""The chart of a rule's backtest: how many accounts the rule matched on each
replay date (core.charts draws it; the page lists the same counts in a
table)."""

from __future__ import annotations

import math

from core.charts import Chart, LinePoint, line_chart

from .backtest import Backtest


def _scale(top: int) -> tuple[int, list[int]]:
    """A round maximum at or above ``top`` and its ticks: four steps of 1, 2
    or 5 times a power of ten."""
    if top <= 4:
        return 4, [0, 1, 2, 3, 4]
    power = 10 ** math.floor(math.log10(top / 4))
    step = next(m * power for m in (1, 2, 5, 10) if 4 * m * power >= top)
    return 4 * step, [step * i for i in range(5)]


def backtest_chart(result: Backtest, *, chart_id: str = "backtest-chart") -> Chart:
    top = max((week.matched for week in result.weekly), default=0)
    y_max, ticks = _scale(top)
    return line_chart(
        [LinePoint(day=week.day, value=week.matched) for week in result.weekly],
        title="Accounts matched on each replay date",
        desc=(
            f"{result.weeks} weekly replays from {result.window_start:%-d %b %Y} to "
            f"{result.end:%-d %b %Y}; at most {top} accounts matched on one date."
        ),
        chart_id=chart_id,
        y_max=y_max,
        y_ticks=ticks,
        y_label="Accounts",
        format_value=lambda value: f"{value:,.0f}",
    )
