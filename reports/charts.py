"""Server-drawn SVG charts for the reports pages.

No JavaScript chart library: each function returns a complete ``<svg>`` as a
safe string. Every piece of text goes through ``format_html`` (so cause names
typed by an admin cannot inject markup), colours come from CSS classes in
app.css (the Content-Security-Policy forbids inline ``style=``), and each chart
carries a ``<title>`` and ``<desc>`` so a screen reader announces it as one
image; the table under the chart holds the same figures for reading.

The functions take plain values rather than report objects so they can be
tested, and reused, without the database.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

# The chart frame, legend and series are shared with every app's charts.
from core.charts import CHAR_WIDTH, WIDTH, Chart, Series, ShareBar, share_bars
from core.charts import close as _close
from core.charts import legend as _legend
from core.charts import num as _num
from core.charts import open_svg as _open_svg
from core.money import format_money
from risks.models import Tier

Number = int | float | Decimal


@dataclass(frozen=True)
class OutcomeBar:
    label: str
    saved: int
    churned: int
    withdrawn: int


OUTCOME_SERIES = (
    Series("saved", "Saved", "chart-saved"),
    Series("churned", "Churned", "chart-churned"),
    Series("withdrawn", "Withdrawn", "chart-withdrawn"),
)

TIER_SERIES = (
    Series("1", "Tier 1 · CSM", "chart-tier-1"),
    Series("2", "Tier 2 · Manager", "chart-tier-2"),
    Series("3", "Tier 3 · Review", "chart-tier-3"),
)

# Categories are free slugs an admin can add, so they get colours by position.
CATEGORY_CLASSES = 6


def category_series(categories: Sequence[tuple[str, str]]) -> list[Series]:
    return [
        Series(slug, label, f"chart-cat-{index % CATEGORY_CLASSES}")
        for index, (slug, label) in enumerate(categories)
    ]


# --- numbers and text -------------------------------------------------------


def nice_ticks(maximum: Number, *, count: int = 5, integer: bool = False) -> list[float]:
    """Evenly spaced round tick values from 0 to at least ``maximum``."""
    top = float(maximum)
    if top <= 0:
        return [0.0, 1.0]
    raw_step = top / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = magnitude * 10
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= raw_step:
            step = factor * magnitude
            break
    if integer:
        step = max(1.0, math.ceil(step))
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def short_number(value: Number) -> str:
    """12 → "12", 125000 → "125k", 1500000 → "1.5M": axis labels stay short."""
    amount = float(value)
    sign = "\u2212" if amount < 0 else ""  # a minus sign, as wide as a digit
    amount = abs(amount)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if amount >= threshold:
            scaled = amount / threshold
            text = f"{scaled:.1f}".rstrip("0").rstrip(".") if scaled < 10 else f"{scaled:.0f}"
            return f"{sign}{text}{suffix}"
    if amount == int(amount):
        return f"{sign}{int(amount)}"
    return f"{sign}{amount:.1f}"


def shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def in_sentence(label: str) -> str:
    """In a sentence "Primary cause" reads "primary cause"; "CSM" stays."""
    first = label.split(" ", 1)[0]
    return label if first.isupper() else label[:1].lower() + label[1:]


# --- shared pieces ------------------------------------------------------------


def _empty_chart(*, chart_id: str, title: str, message: str) -> Chart:
    parts = [
        _open_svg(chart_id=chart_id, height=40, title=title, desc=message, css_class="chart-empty"),
        format_html('<text class="chart-note" x="0" y="24">{}</text>', message),
    ]
    return _close(parts, title=title)


# --- outcomes: stacked horizontal bars, one per group -----------------------


def _bar_axes(
    *, left: float, top: float, width: float, height: float, x_title: str, y_title: str
) -> SafeString:
    """The vertical baseline of a horizontal bar chart, its two axis titles,
    and the end of the axes' group."""
    return format_html(
        '<line class="chart-baseline" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
        '<text class="chart-axis-title" x="{}" y="{}" text-anchor="middle">{}</text>'
        '<text class="chart-axis-title" transform="translate(12 {}) rotate(-90)" '
        'text-anchor="middle">{}</text></g>',
        _num(left),
        _num(top),
        _num(left),
        _num(top + height),
        _num(left + width / 2),
        _num(top + height + 38),
        x_title,
        _num(top + height / 2),
        y_title,
    )


def outcomes_chart(
    bars: Sequence[OutcomeBar],
    *,
    group_label: str,
    chart_id: str = "outcomes-chart",
) -> Chart:
    """Saved, churned and withdrawn records per group as stacked horizontal bars."""
    title = f"Outcomes by {in_sentence(group_label)}: records saved, churned and withdrawn"
    saved = sum(bar.saved for bar in bars)
    churned = sum(bar.churned for bar in bars)
    withdrawn = sum(bar.withdrawn for bar in bars)
    if not bars:
        return _empty_chart(
            chart_id=chart_id, title=title, message="No records closed in this period."
        )
    desc = (
        f"Stacked horizontal bars, one per {in_sentence(group_label)} ({len(bars)} in all), "
        f"each split into records saved, churned and withdrawn. "
        f"In total {saved} saved, {churned} churned and {withdrawn} withdrawn. "
        "The table below the chart gives the same figures."
    )
    label_chars = 30
    left = 12 + 22 + label_chars * CHAR_WIDTH * 0.95
    right = 48
    row_height = 28
    bar_height = 18
    legend, plot_top = _legend(OUTCOME_SERIES, y=14)
    plot_top += 4
    plot_height = row_height * len(bars)
    plot_width = WIDTH - left - right
    height = plot_top + plot_height + 56
    maximum = max(bar.saved + bar.churned + bar.withdrawn for bar in bars)
    ticks = nice_ticks(maximum, integer=True)
    scale = plot_width / ticks[-1]

    parts = [
        _open_svg(
            chart_id=chart_id, height=height, title=title, desc=desc, css_class="chart-outcomes"
        ),
        legend,
    ]
    # Grid lines and tick labels along the bottom axis.
    parts.append(mark_safe('<g class="chart-axis" aria-hidden="true">'))
    for tick in ticks:
        x = left + tick * scale
        parts.append(
            format_html(
                '<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                _num(x),
                _num(plot_top),
                _num(x),
                _num(plot_top + plot_height),
                _num(x),
                _num(plot_top + plot_height + 16),
                short_number(tick),
            )
        )
    parts.append(
        _bar_axes(
            left=left,
            top=plot_top,
            width=plot_width,
            height=plot_height,
            x_title="Risk records closed",
            y_title=group_label,
        )
    )
    for index, bar in enumerate(bars):
        y = plot_top + index * row_height + (row_height - bar_height) / 2
        parts.append(mark_safe('<g class="chart-row">'))
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end"><title>{}</title>{}</text>',
                _num(left - 8),
                _num(y + bar_height / 2 + 4),
                bar.label,
                shorten(bar.label, label_chars),
            )
        )
        x = left
        for item in OUTCOME_SERIES:
            value = getattr(bar, item.key)
            if value:
                width = value * scale
                parts.append(
                    format_html(
                        '<rect class="{}" x="{}" y="{}" width="{}" height="{}">'
                        "<title>{}: {} {}</title></rect>",
                        item.css_class,
                        _num(x),
                        _num(y),
                        _num(width),
                        bar_height,
                        bar.label,
                        value,
                        item.label.lower(),
                    )
                )
                x += width
        total = bar.saved + bar.churned + bar.withdrawn
        parts.append(
            format_html(
                '<text class="chart-value" x="{}" y="{}">{}</text></g>',
                _num(x + 6),
                _num(y + bar_height / 2 + 4),
                total,
            )
        )
    return _close(parts, title=title)


# --- vertical stacked bars (open risk) and diverging bars (trend) -------------


def _band_labels(
    labels: Sequence[str], *, left: float, band: float, baseline_y: float
) -> tuple[list[str], float]:
    """Period labels under the bands; turned when they would overlap. Returns
    the markup and the height they take."""
    longest = max((len(label) for label in labels), default=0) * CHAR_WIDTH
    turned = longest + 6 > band
    parts = []
    for index, label in enumerate(labels):
        x = left + band * index + band / 2
        if turned:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="end" transform="rotate(-45 {} {})">{}</text>',
                    _num(x + 4),
                    _num(baseline_y + 14),
                    _num(x + 4),
                    _num(baseline_y + 14),
                    label,
                )
            )
        else:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                    _num(x),
                    _num(baseline_y + 16),
                    label,
                )
            )
    return parts, (longest * 0.71 + 18 if turned else 22)


def open_risk_chart(
    periods: Sequence[str],
    values: dict[tuple[str, int], Decimal],
    *,
    period_label: str,
    chart_id: str = "open-risk-chart",
) -> Chart:
    """ARR at risk of open records per renewal period, stacked by tier.

    ``values`` maps (period, tier) to the ARR at risk; missing pairs are 0."""
    title = (
        f"Open ARR at risk ({settings.CURRENCY}) by renewal {period_label.lower()}, stacked by tier"
    )
    if not periods:
        return _empty_chart(
            chart_id=chart_id, title=title, message="No open risk records match these filters."
        )
    totals = {
        period: sum((values.get((period, tier), Decimal(0)) for tier in Tier.values), Decimal(0))
        for period in periods
    }
    grand_total = sum(totals.values(), Decimal(0))
    tier_totals = [
        sum((values.get((period, tier), Decimal(0)) for period in periods), Decimal(0))
        for tier in Tier.values
    ]
    desc = (
        f"Vertical bars, one per renewal {period_label.lower()} from {periods[0]} to "
        f"{periods[-1]}, each stacked by tier, showing the ARR at risk of open records. "
        f"In total {grand_total:,.0f} at risk: tier 1 {tier_totals[0]:,.0f}, "
        f"tier 2 {tier_totals[1]:,.0f}, tier 3 {tier_totals[2]:,.0f}. "
        "The table below the chart gives the same figures."
    )
    legend, plot_top = _legend(TIER_SERIES, y=14)
    plot_top += 14
    left, right = 74, 16
    plot_width = WIDTH - left - right
    plot_height = 240
    band = plot_width / len(periods)
    bar_width = min(band * 0.7, 64)
    baseline_y = plot_top + plot_height
    label_parts, label_height = _band_labels(periods, left=left, band=band, baseline_y=baseline_y)
    height = baseline_y + label_height + 30
    ticks = nice_ticks(max(totals.values()))
    scale = plot_height / ticks[-1]

    parts = [
        _open_svg(
            chart_id=chart_id, height=height, title=title, desc=desc, css_class="chart-open-risk"
        ),
        legend,
        mark_safe('<g class="chart-axis" aria-hidden="true">'),
    ]
    for tick in ticks:
        y = baseline_y - tick * scale
        parts.append(
            format_html(
                '<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text x="{}" y="{}" text-anchor="end">{}</text>',
                left,
                _num(y),
                WIDTH - right,
                _num(y),
                left - 6,
                _num(y + 4),
                short_number(tick),
            )
        )
    parts.extend(label_parts)
    parts.append(
        format_html(
            '<line class="chart-baseline" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
            '<text class="chart-axis-title" transform="translate(14 {}) rotate(-90)" '
            'text-anchor="middle">{}</text>'
            '<text class="chart-axis-title" x="{}" y="{}" text-anchor="middle">{}</text></g>',
            left,
            _num(baseline_y),
            WIDTH - right,
            _num(baseline_y),
            _num(plot_top + plot_height / 2),
            "ARR at risk",
            _num(left + plot_width / 2),
            _num(height - 6),
            f"Renewal {period_label.lower()}",
        )
    )
    for index, period in enumerate(periods):
        x = left + band * index + (band - bar_width) / 2
        y = baseline_y
        parts.append(mark_safe('<g class="chart-column">'))
        for tier, item in zip(Tier.values, TIER_SERIES, strict=True):
            value = values.get((period, tier), Decimal(0))
            if value:
                bar_height = float(value) * scale
                y -= bar_height
                parts.append(
                    format_html(
                        '<rect class="{}" x="{}" y="{}" width="{}" height="{}">'
                        "<title>{}, {}: {} at risk</title></rect>",
                        item.css_class,
                        _num(x),
                        _num(y),
                        _num(bar_width),
                        _num(bar_height),
                        period,
                        item.label,
                        format_money(value),
                    )
                )
        parts.append(
            format_html(
                '<text class="chart-value" x="{}" y="{}" text-anchor="middle">{}</text></g>',
                _num(x + bar_width / 2),
                _num(y - 5),
                short_number(totals[period]),
            )
        )
    return _close(parts, title=title)


def trend_chart(
    months: Sequence[str],
    categories: Sequence[tuple[str, str]],
    saved: dict[tuple[str, str], int],
    churned: dict[tuple[str, str], int],
    *,
    chart_id: str = "trend-chart",
) -> Chart:
    """Saves (above the line) and churn (below it) per month, stacked by category.

    ``saved`` and ``churned`` map (month, category slug) to a count."""
    title = "Saves and churn per month by category"
    if not months:
        return _empty_chart(
            chart_id=chart_id, title=title, message="No records closed in this period."
        )
    series = category_series(categories)
    up = {m: sum(saved.get((m, slug), 0) for slug, _ in categories) for m in months}
    down = {m: sum(churned.get((m, slug), 0) for slug, _ in categories) for m in months}
    desc = (
        f"Bars for each month from {months[0]} to {months[-1]}: records saved rise above "
        "the zero line and records churned fall below it, each stacked by root-cause "
        f"category ({', '.join(label for _, label in categories)}). "
        f"In total {sum(up.values())} saved and {sum(down.values())} churned. "
        "The table below the chart gives the same figures."
    )
    legend, plot_top = _legend(series, y=14)
    plot_top += 14
    left, right = 74, 16
    plot_width = WIDTH - left - right
    band = plot_width / len(months)
    bar_width = min(band * 0.7, 48)
    ticks = nice_ticks(max(max(up.values()), max(down.values()), 1), count=4, integer=True)
    step_height = 110 / (len(ticks) - 1)
    half = step_height * (len(ticks) - 1)
    scale = half / ticks[-1]
    zero_y = plot_top + half
    bottom_y = zero_y + half
    label_parts, label_height = _band_labels(months, left=left, band=band, baseline_y=bottom_y)
    height = bottom_y + label_height + 30

    parts = [
        _open_svg(
            chart_id=chart_id, height=height, title=title, desc=desc, css_class="chart-trend"
        ),
        legend,
        mark_safe('<g class="chart-axis" aria-hidden="true">'),
    ]
    for tick in ticks:
        for sign in (1, -1) if tick else (1,):
            y = zero_y - sign * tick * scale
            parts.append(
                format_html(
                    '<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                    '<text x="{}" y="{}" text-anchor="end">{}</text>',
                    left,
                    _num(y),
                    WIDTH - right,
                    _num(y),
                    left - 6,
                    _num(y + 4),
                    short_number(tick),
                )
            )
    parts.extend(label_parts)
    parts.append(
        format_html(
            '<line class="chart-baseline" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
            '<text class="chart-axis-title" transform="translate(14 {}) rotate(-90)" '
            'text-anchor="middle">{}</text>'
            '<text class="chart-axis-title" transform="translate(14 {}) rotate(-90)" '
            'text-anchor="middle">{}</text>'
            '<text class="chart-axis-title" x="{}" y="{}" text-anchor="middle">{}</text></g>',
            left,
            _num(zero_y),
            WIDTH - right,
            _num(zero_y),
            _num(zero_y - half / 2),
            "Saved",
            _num(zero_y + half / 2),
            "Churned",
            _num(left + plot_width / 2),
            _num(height - 6),
            "Month closed",
        )
    )
    for index, month in enumerate(months):
        x = left + band * index + (band - bar_width) / 2
        parts.append(mark_safe('<g class="chart-column">'))
        top, bottom = zero_y, zero_y
        for (slug, label), item in zip(categories, series, strict=True):
            count = saved.get((month, slug), 0)
            if count:
                bar_height = count * scale
                top -= bar_height
                parts.append(
                    format_html(
                        '<rect class="{}" x="{}" y="{}" width="{}" height="{}">'
                        "<title>{}, {}: {} saved</title></rect>",
                        item.css_class,
                        _num(x),
                        _num(top),
                        _num(bar_width),
                        _num(bar_height),
                        month,
                        label,
                        count,
                    )
                )
            count = churned.get((month, slug), 0)
            if count:
                bar_height = count * scale
                parts.append(
                    format_html(
                        '<rect class="{} chart-below" x="{}" y="{}" width="{}" height="{}">'
                        "<title>{}, {}: {} churned</title></rect>",
                        item.css_class,
                        _num(x),
                        _num(bottom),
                        _num(bar_width),
                        _num(bar_height),
                        month,
                        label,
                        count,
                    )
                )
                bottom += bar_height
        parts.append(mark_safe("</g>"))
    return _close(parts, title=title)


# --- program effectiveness: save rates with their 95% intervals -------------


@dataclass(frozen=True)
class RateMark:
    """One group of a row: its save rate and 95% interval (None when the
    group has too few records to show one) and how many records it has."""

    rate: Decimal | None
    low: Decimal | None
    high: Decimal | None
    records: int


@dataclass(frozen=True)
class ProgramLine:
    label: str
    on_time: RateMark
    not_on_time: RateMark


PROGRAM_SERIES = (
    Series("on_time", "Done on time", "chart-cat-0"),
    Series("not_on_time", "Not on time", "chart-cat-1"),
)


def _percent(value: Decimal | float) -> str:
    return f"{float(value) * 100:.1f}%"


def program_chart(
    lines: Sequence[ProgramLine], *, few_note: str, chart_id: str = "program-chart"
) -> Chart:
    """Per row, the save rate of the records whose task was done on time and
    of the others: a dot each, on a 0 to 100% scale, with the 95% interval as
    a line with end caps. A group without a rate says ``few_note`` instead."""
    title = "Save rate when the task was done on time and when not, with 95% intervals"
    if not lines:
        return _empty_chart(
            chart_id=chart_id, title=title, message="No closed records with these tasks."
        )
    shown = sum(
        1 for line in lines for mark in (line.on_time, line.not_on_time) if mark.rate is not None
    )
    desc = (
        f"Dots with interval lines, two per row ({len(lines)} rows: playbook steps and "
        "review action items): the save rate of the records whose task was done on time "
        "and of those whose task was late or never done, on a scale from 0 to 100%, each "
        f"with its 95% interval as a horizontal line. {shown} groups have a rate; groups "
        "of fewer than 5 records show a note instead. The table below the chart gives "
        "the same figures."
    )
    label_chars = 34
    left = 12 + 22 + label_chars * CHAR_WIDTH * 0.95
    right = 24
    row_height = 44
    legend, plot_top = _legend(PROGRAM_SERIES, y=14)
    plot_top += 4
    plot_width = WIDTH - left - right
    plot_height = row_height * len(lines)
    height = plot_top + plot_height + 56

    def x_of(value: Decimal | float) -> float:
        return left + plot_width * min(max(float(value), 0.0), 1.0)

    parts = [
        _open_svg(
            chart_id=chart_id, height=height, title=title, desc=desc, css_class="chart-programs"
        ),
        legend,
        mark_safe('<g class="chart-axis" aria-hidden="true">'),
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            format_html(
                '<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text x="{}" y="{}" text-anchor="middle">{}</text>',
                _num(x_of(tick)),
                _num(plot_top),
                _num(x_of(tick)),
                _num(plot_top + plot_height),
                _num(x_of(tick)),
                _num(plot_top + plot_height + 16),
                f"{tick * 100:.0f}%",
            )
        )
    parts.append(
        _bar_axes(
            left=left,
            top=plot_top,
            width=plot_width,
            height=plot_height,
            x_title="Save rate (dot) and its 95% interval (line)",
            y_title="Playbook step",
        )
    )
    for index, line in enumerate(lines):
        top = plot_top + index * row_height
        parts.append(mark_safe('<g class="chart-row">'))
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="end"><title>{}</title>{}</text>',
                _num(left - 8),
                _num(top + row_height / 2 + 4),
                line.label,
                shorten(line.label, label_chars),
            )
        )
        for offset, item, mark in (
            (14, PROGRAM_SERIES[0], line.on_time),
            (30, PROGRAM_SERIES[1], line.not_on_time),
        ):
            y = top + offset
            if mark.rate is None or mark.low is None or mark.high is None:
                parts.append(
                    format_html(
                        '<text class="chart-note" x="{}" y="{}">{}: {} ({} record{})</text>',
                        _num(left + 6),
                        _num(y + 4),
                        item.label,
                        few_note,
                        mark.records,
                        "" if mark.records == 1 else "s",
                    )
                )
                continue
            low, high = x_of(mark.low), x_of(mark.high)
            parts.append(
                format_html(
                    '<path class="chart-interval" d="M{} {}H{}M{} {}V{}M{} {}V{}"></path>'
                    '<circle class="{}" cx="{}" cy="{}" r="5"><title>{}, {}: {} saved '
                    "(95% interval {} to {}), {} records</title></circle>",
                    _num(low),
                    _num(y),
                    _num(high),
                    _num(low),
                    _num(y - 5),
                    _num(y + 5),
                    _num(high),
                    _num(y - 5),
                    _num(y + 5),
                    item.css_class,
                    _num(x_of(mark.rate)),
                    _num(y),
                    line.label,
                    item.label.lower(),
                    _percent(mark.rate),
                    _percent(mark.low),
                    _percent(mark.high),
                    mark.records,
                )
            )
        parts.append(mark_safe("</g>"))
    return _close(parts, title=title)


# --- flag coverage: the share of churns flagged in time ----------------------

COVERAGE_SERIES = (
    Series("flagged", "Flagged 30 to 365 days before", "chart-band-green"),
    Series("unflagged", "Not flagged", "chart-band-red"),
)


def coverage_chart(bars: Sequence[tuple[str, int, int]], *, dimension: str, chart_id: str) -> Chart:
    """One 100% bar per group (label, churns, flagged): the share of its
    churns flagged in time and the share not flagged."""
    churns = sum(total for _, total, _ in bars)
    flagged = sum(count for _, _, count in bars)
    return share_bars(
        [
            ShareBar(label, {"flagged": count, "unflagged": total - count})
            for label, total, count in bars
        ],
        COVERAGE_SERIES,
        title=f"Flag coverage by {dimension}: churns flagged in time",
        desc=(
            f"100% stacked bars, one per {dimension} ({len(bars)} in all), each split into "
            "the churns whose account had a risk record opened 30 to 365 days before the "
            f"churn and the churns without one. In total {flagged} of {churns} churns were "
            "flagged. The table below the chart gives the same figures."
        ),
        chart_id=chart_id,
        empty_message="No churns in this period.",
    )


# --- health calibration: churn rate per band and per score decile ------------


@dataclass(frozen=True)
class ChurnBar:
    """One bar: ``churned`` of ``renewals`` churned, drawn in ``css_class``."""

    label: str
    renewals: int
    churned: int
    css_class: str


def churn_percent(churned: int, renewals: int) -> str:
    """The churn rate as a percentage with one decimal, rounded once from the
    counts; "—" without renewals."""
    if renewals == 0:
        return "—"
    share = (Decimal(churned) * 100 / Decimal(renewals)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{share}%"


def churn_rate_chart(
    bars: Sequence[ChurnBar],
    *,
    title: str,
    axis_label: str,
    chart_id: str,
    empty_message: str = "No renewals in this period.",
) -> Chart:
    """Vertical bars of churn rate on a 0 to 100% scale, one per group, each
    named under the axis with its number of renewals (n = …) and topped by
    its rate; a group without renewals shows "—" and no bar."""
    if not any(bar.renewals for bar in bars):
        return _empty_chart(chart_id=chart_id, title=title, message=empty_message)
    renewals = sum(bar.renewals for bar in bars)
    churned = sum(bar.churned for bar in bars)
    desc = (
        f"Vertical bars, one per {in_sentence(axis_label)} ({len(bars)} in all: "
        f"{', '.join(bar.label for bar in bars)}), each as tall as the share of its "
        f"renewals that churned, on a scale from 0 to 100%. In total {churned} of "
        f"{renewals} renewals churned. The table below the chart gives the same figures."
    )
    left, right, top = 74, 16, 24
    plot_width = WIDTH - left - right
    plot_height = 220
    baseline_y = top + plot_height
    band = plot_width / len(bars)
    bar_width = min(band * 0.6, 72)
    height = baseline_y + 64

    parts = [
        _open_svg(
            chart_id=chart_id, height=height, title=title, desc=desc, css_class="chart-churn-rate"
        ),
        mark_safe('<g class="chart-axis" aria-hidden="true">'),
    ]
    for tick in (0, 25, 50, 75, 100):
        y = baseline_y - plot_height * tick / 100
        parts.append(
            format_html(
                '<line class="chart-grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text x="{}" y="{}" text-anchor="end">{}%</text>',
                left,
                _num(y),
                WIDTH - right,
                _num(y),
                left - 6,
                _num(y + 4),
                tick,
            )
        )
    for index, bar in enumerate(bars):
        x = left + band * index + band / 2
        parts.append(
            format_html(
                '<text x="{}" y="{}" text-anchor="middle">{}</text>'
                '<text x="{}" y="{}" text-anchor="middle">n = {}</text>',
                _num(x),
                _num(baseline_y + 16),
                shorten(bar.label, max(int(band / CHAR_WIDTH), 4)),
                _num(x),
                _num(baseline_y + 30),
                bar.renewals,
            )
        )
    parts.append(
        format_html(
            '<line class="chart-baseline" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
            '<text class="chart-axis-title" transform="translate(14 {}) rotate(-90)" '
            'text-anchor="middle">{}</text>'
            '<text class="chart-axis-title" x="{}" y="{}" text-anchor="middle">{}</text></g>',
            left,
            _num(baseline_y),
            WIDTH - right,
            _num(baseline_y),
            _num(top + plot_height / 2),
            "Churn rate",
            _num(left + plot_width / 2),
            _num(height - 6),
            axis_label,
        )
    )
    for index, bar in enumerate(bars):
        x = left + band * index + (band - bar_width) / 2
        shown = churn_percent(bar.churned, bar.renewals)
        parts.append(mark_safe('<g class="chart-column">'))
        y = baseline_y
        if bar.renewals:
            bar_height = plot_height * bar.churned / bar.renewals
            y = baseline_y - bar_height
            parts.append(
                format_html(
                    '<rect class="{}" x="{}" y="{}" width="{}" height="{}">'
                    "<title>{}: {} of {} renewals churned ({})</title></rect>",
                    bar.css_class,
                    _num(x),
                    _num(y),
                    _num(bar_width),
                    _num(bar_height),
                    bar.label,
                    bar.churned,
                    bar.renewals,
                    shown,
                )
            )
        parts.append(
            format_html(
                '<text class="chart-value" x="{}" y="{}" text-anchor="middle">{}</text></g>',
                _num(x + bar_width / 2),
                _num(y - 5),
                shown,
            )
        )
    return _close(parts, title=title)
