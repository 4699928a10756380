"""The health score history chart: a line over the band zones."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from core.charts import Chart, LinePoint, Series, ShareBar, Zone, line_chart, share_bars

from .models import Band
from .selectors import BAND_COLUMNS, BandRow, HistoryPoint

BAND_SERIES = [
    Series(band, label, f"chart-band-{band}") for band, label, _condition in BAND_COLUMNS
]


def band_zones() -> list[Zone]:
    red_below, green_at = settings.HEALTH_RED_BELOW, settings.HEALTH_GREEN_AT
    return [
        Zone(0, red_below, "Red", "chart-zone-red"),
        Zone(red_below, green_at, "Yellow", "chart-zone-yellow"),
        Zone(green_at, 100, "Green", "chart-zone-green"),
    ]


def history_chart(history: Sequence[HistoryPoint], *, chart_id: str = "health-history") -> Chart:
    """The account's scores over time, with the red, yellow and green zones shaded."""
    title = "Health score history"
    scored = [point for point in history if point.score is not None]
    labels = dict(Band.choices)
    if scored:
        lowest = min(scored, key=lambda point: point.score)
        highest = max(scored, key=lambda point: point.score)
        desc = (
            f"A line of {len(scored)} health scores from {history[0].as_of:%d %b %Y} to "
            f"{history[-1].as_of:%d %b %Y} on a scale of 0 to 100, over shaded zones: red "
            f"below {settings.HEALTH_RED_BELOW}, green from {settings.HEALTH_GREEN_AT}. "
            f"Latest {scored[-1].score} ({labels[scored[-1].band].lower()}); lowest "
            f"{lowest.score}, highest {highest.score}."
        )
        unscored = len(history) - len(scored)
        if unscored:
            desc += (
                f" {unscored} day{'s' if unscored != 1 else ''} had too little data for a score."
            )
    else:
        desc = "No day has had enough data for a score yet."
    ticks = sorted({0, settings.HEALTH_RED_BELOW, settings.HEALTH_GREEN_AT, 100})
    return line_chart(
        [
            LinePoint(point.as_of, point.score, labels.get(point.band, point.band).lower())
            for point in history
        ],
        title=title,
        desc=desc,
        chart_id=chart_id,
        y_ticks=ticks,
        zones=band_zones(),
        y_label="Score",
        css_class="chart-health-history",
        empty_message="No day has had enough data for a score yet.",
    )


def band_share_chart(rows: Sequence[BandRow], *, group_label: str, chart_id: str) -> Chart:
    """Each group's ARR split by band, as 100% stacked bars."""
    group = group_label.lower()
    title = f"Share of ARR by health band per {group}"
    desc = (
        f"One horizontal bar per {group} ({len(rows)} in all), split into the shares of "
        "its active accounts' ARR that are green, yellow, red and without a score. "
        "The table below gives the counts and amounts."
    )
    bars = [
        ShareBar(
            label=row.code if group == "region" else row.name,
            values={cell.band: float(cell.arr) for cell in row.cells},
        )
        for row in rows
    ]
    return share_bars(
        bars,
        BAND_SERIES,
        title=title,
        desc=desc,
        chart_id=chart_id,
        empty_message="No active accounts match these filters.",
    )
