"""Small server-drawn SVG charts that any app may use (core is the bottom layer,
so health, risks and reports can all import it).

The conventions are those of the report charts: each function returns a
complete ``<svg>`` as a safe string; every piece of text goes through
``format_html``; colours come from CSS classes in app.css (the
Content-Security-Policy forbids inline ``style=``); the chart carries a
``<title>`` and ``<desc>`` so a screen reader announces it as one image, and the
page puts a table with the same figures next to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH = 760
FONT_SIZE = 12
CHAR_WIDTH = 6.6  # roughly one character of the chart font, for layout


@dataclass(frozen=True)
class Chart:
    """The drawn chart and its title (the page shows the title as the caption)."""

    title: str
    svg: SafeString

    def __html__(self) -> SafeString:
        return self.svg

    def __str__(self) -> str:
        return self.svg


@dataclass(frozen=True)
class LinePoint:
    """One point of a line; ``value`` None leaves a gap in the line."""

    day: dt.date
    value: float | None
    note: str = ""  # added to the point's tooltip, e.g. the band


@dataclass(frozen=True)
class Zone:
    """A horizontal band of the plot from ``low`` to ``high``, shaded by
    ``css_class`` and named by ``label`` at the right edge (not colour alone)."""

    low: float
    high: float
    label: str
    css_class: str


def num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def open_svg(*, chart_id: str, height: float, title: str, desc: str, css_class: str) -> str:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart {}" id="{}" viewBox="0 0 {} {}" '
        'role="img" aria-labelledby="{}-title {}-desc" font-size="{}">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>',
        css_class,
        chart_id,
        WIDTH,
        num(height),
        chart_id,
        chart_id,
        FONT_SIZE,
        chart_id,
        title,
        chart_id,
        desc,
    )


def close(parts: list[str], *, title: str) -> Chart:
    # Every part was built by format_html (or is a constant).
    parts.append("</svg>")
    return Chart(title=title, svg=mark_safe("".join(parts)))


def _label_indices(count: int, most: int) -> list[int]:
    """Up to ``most`` indices spread evenly from the first to the last."""
    if count <= most:
        return list(range(count))
    return sorted({round(i * (count - 1) / (most - 1)) for i in range(most)})


def line_chart(
    points: Sequence[LinePoint],
    *,
    title: str,
    desc: str,
    chart_id: str,
    y_max: float = 100,
    y_ticks: Sequence[float] = (0, 25, 50, 75, 100),
    zones: Sequence[Zone] = (),
    y_label: str = "",
    format_value: Callable[[float], str] = lambda value: num(value),
    css_class: str = "chart-line",
    empty_message: str = "Nothing to draw yet.",
) -> Chart:
    """A line over time on a fixed 0..``y_max`` scale, with shaded zones.

    Points are placed by date, so uneven gaps (a weekly backfill, then daily
    scores) show as such. A point without a value breaks the line; each point
    with a value gets a marker (class ``chart-point``) whose tooltip names the
    day and value."""
    if not any(point.value is not None for point in points):
        parts = [
            open_svg(
                chart_id=chart_id, height=40, title=title, desc=empty_message, css_class=css_class
            ),
            format_html('<text class="chart-note" x="0" y="24">{}</text>', empty_message),
        ]
        return close(parts, title=title)
    points = sorted(points, key=lambda point: point.day)
    left, right, top = 46, 64, 10
    plot_width = WIDTH - left - right
    plot_height = 170
    bottom = top + plot_height
    height = bottom + 44
    first, last = points[0].day, points[-1].day
    span = (last - first).days

    def x_of(day: dt.date) -> float:
        if span == 0:
            return left + plot_width / 2
        return left + plot_width * (day - first).days / span

    def y_of(value: float) -> float:
        clamped = min(max(float(value), 0.0), y_max)
        return bottom - plot_height * clamped / y_max

    parts = [
        open_svg(chart_id=chart_id, height=height, title=title, desc=desc, css_class=css_class)
    ]
    parts.append(mark_safe('<g class="chart-zones" aria-hidden="true">'))
    for zone in zones:
        y_top, y_bottom = y_of(zone.high), y_of(zone.low)
        parts.append(
            format_html(
                '<rect class="chart-zone {}" x="{}" y="{}" width="{}" height="{}"></rect>'
                '<text class="chart-zone-label" x="{}" y="{}">{}</text>',
                zone.css_class,
                left,
                num(y_top),
                num(plot_width),
                num(y_bottom - y_top),
                num(left + plot_width + 8),
                num((y_top + y_bottom) / 2 + 4),
                zone.label,
            )
        )
    parts.append(mark_safe("</g>"))

    parts.append(mark_safe('<g class="chart-axis" aria-hidden="true">'))
    for tick in y_ticks:
        y = y_of(tick)
        parts.append(
            format_html(
                '<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text x="{}" y="{}" text-anchor="end">{}</text>',
                left,
                num(y),
                num(left + plot_width),
                num(y),
                left - 6,
                num(y + 4),
                format_value(tick),
            )
        )
    for index in _label_indices(len(points), 5):
        day = points[index].day
        anchor = (
            "start"
            if span and index == 0
            else "end"
            if span and index == len(points) - 1
            else "middle"
        )
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="{}">{}</text>',
                num(x_of(day)),
                num(bottom + 16),
                anchor,
                _day(day),
            )
        )
        if span == 0:
            break
    parts.append(
        format_html(
            '<line class="chart-baseline" x1="{}" y1="{}" x2="{}" y2="{}"></line>',
            left,
            num(bottom),
            num(left + plot_width),
            num(bottom),
        )
    )
    if y_label:
        parts.append(
            format_html(
                '<text class="chart-axis-title" transform="translate(12 {}) rotate(-90)" '
                'text-anchor="middle">{}</text>',
                num(top + plot_height / 2),
                y_label,
            )
        )
    parts.append(mark_safe("</g>"))

    # The line: one path, with a new segment after every gap.
    commands = []
    pen_down = False
    for point in points:
        if point.value is None:
            pen_down = False
            continue
        commands.append(
            f"{'L' if pen_down else 'M'}{num(x_of(point.day))} {num(y_of(point.value))}"
        )
        pen_down = True
    parts.append(format_html('<path class="chart-line-path" d="{}"></path>', " ".join(commands)))

    valued = [point for point in points if point.value is not None]
    radius = 3.5 if len(valued) <= 60 else 2
    parts.append(mark_safe('<g class="chart-points">'))
    for point in valued:
        tooltip = f"{_day(point.day)}: {format_value(point.value)}"
        if point.note:
            tooltip += f" ({point.note})"
        parts.append(
            format_html(
                '<circle class="chart-point" cx="{}" cy="{}" r="{}"><title>{}</title></circle>',
                num(x_of(point.day)),
                num(y_of(point.value)),
                num(radius),
                tooltip,
            )
        )
    parts.append(mark_safe("</g>"))
    return close(parts, title=title)


@dataclass(frozen=True)
class Series:
    """One coloured series: ``css_class`` sets its fill in app.css (3:1 or more
    against the chart background; tests/web/test_contrast.py checks it)."""

    key: str
    label: str
    css_class: str


@dataclass(frozen=True)
class ShareBar:
    label: str
    values: dict[str, float]  # series key → amount (any unit; the bar shows shares)


def legend(series: Sequence[Series], *, y: float, x: float = 0) -> tuple[str, float]:
    """A row of swatches with their labels, wrapping at the chart's width.
    Returns the markup and the y below it."""
    parts = [mark_safe('<g class="chart-legend" aria-hidden="true">')]
    cursor_x, cursor_y = x, y
    for item in series:
        item_width = 14 + 6 + len(item.label) * CHAR_WIDTH + 18
        if cursor_x > x and cursor_x + item_width > WIDTH:
            cursor_x, cursor_y = x, cursor_y + 20
        parts.append(
            format_html(
                '<rect class="{}" x="{}" y="{}" width="14" height="14" rx="2"></rect>'
                '<text x="{}" y="{}">{}</text>',
                item.css_class,
                num(cursor_x),
                num(cursor_y - 11),
                num(cursor_x + 20),
                num(cursor_y),
                item.label,
            )
        )
        cursor_x += item_width
    parts.append(mark_safe("</g>"))
    return "".join(parts), cursor_y + 18


def share_bars(
    bars: Sequence[ShareBar],
    series: Sequence[Series],
    *,
    title: str,
    desc: str,
    chart_id: str,
    empty_message: str = "Nothing to draw.",
) -> Chart:
    """One horizontal bar per row, split into each series' share of the row's
    total (100% stacked), with the percentage written on parts wide enough."""
    if not bars:
        parts = [
            open_svg(
                chart_id=chart_id,
                height=40,
                title=title,
                desc=empty_message,
                css_class="chart-share",
            ),
            format_html('<text class="chart-note" x="0" y="24">{}</text>', empty_message),
        ]
        return close(parts, title=title)
    legend_svg, top = legend(series, y=14)
    left, right, row_height, bar_height = 150, 16, 30, 20
    plot_width = WIDTH - left - right
    height = top + 6 + row_height * len(bars) + 8
    parts = [
        open_svg(chart_id=chart_id, height=height, title=title, desc=desc, css_class="chart-share"),
        legend_svg,
    ]
    for index, bar in enumerate(bars):
        y = top + 6 + index * row_height
        total = sum(bar.values.get(item.key, 0) for item in series)
        parts.append(mark_safe('<g class="chart-row">'))
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end">{}</text>',
                left - 8,
                num(y + bar_height / 2 + 4),
                bar.label if len(bar.label) <= 22 else bar.label[:21] + "…",
            )
        )
        x = float(left)
        for item in series:
            value = bar.values.get(item.key, 0)
            if not value or not total:
                continue
            share = value / total
            width = plot_width * share
            parts.append(
                format_html(
                    '<rect class="{}" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{}, {}: {}%</title></rect>",
                    item.css_class,
                    num(x),
                    num(y),
                    num(width),
                    bar_height,
                    bar.label,
                    item.label,
                    num(100 * share),
                )
            )
            if width >= 34:
                # "<series class>-label" lets app.css pick a text colour that
                # keeps 4.5:1 on that series' fill.
                parts.append(
                    format_html(
                        '<text class="chart-share-label {}-label" x="{}" y="{}" '
                        'text-anchor="middle" aria-hidden="true">{}%</text>',
                        item.css_class,
                        num(x + width / 2),
                        num(y + bar_height / 2 + 4),
                        f"{100 * share:.0f}",
                    )
                )
            x += width
        parts.append(mark_safe("</g>"))
    return close(parts, title=title)
