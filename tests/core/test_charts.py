"""The shared SVG charts of core.charts, without the database."""

from __future__ import annotations

import datetime as dt
import re

from core.charts import LinePoint, Series, ShareBar, Zone, line_chart, share_bars

DAY = dt.date(2026, 6, 1)


def points(*values):
    return [LinePoint(DAY + dt.timedelta(days=7 * i), value) for i, value in enumerate(values)]


def test_line_chart_places_points_by_date_and_breaks_at_gaps():
    chart = line_chart(points(80, 60, None, 20), title="History", desc="d", chart_id="h")

    svg = str(chart)
    assert svg.count('class="chart-point"') == 3
    path = re.search(r'class="chart-line-path" d="([^"]+)"', svg).group(1)
    assert path.split(" L")[0].startswith("M") and path.count("M") == 2
    # First and last points sit at the plot's left and right edges.
    xs = [float(x) for x in re.findall(r'<circle class="chart-point" cx="([\d.]+)"', svg)]
    assert xs[0] == 46 and xs[-1] == 760 - 64


def test_line_chart_clamps_values_to_the_scale_and_names_its_zones():
    svg = str(
        line_chart(
            points(150, -5),
            title="t",
            desc="d",
            chart_id="c",
            zones=[Zone(0, 40, "Red", "z-red"), Zone(40, 100, "Rest", "z-rest")],
        )
    )

    ys = [float(y) for y in re.findall(r'cy="([\d.]+)"', svg)]
    assert ys == [10, 180]  # the top and the bottom of the plot
    assert ">Red</text>" in svg and "z-rest" in svg


def test_line_chart_escapes_text_and_says_when_there_is_nothing_to_draw():
    chart = line_chart(points(None), title="<b>t</b>", desc="d", chart_id="c", empty_message="None")

    assert "&lt;b&gt;t&lt;/b&gt;" in str(chart) and "<b>" not in str(chart)
    assert "chart-point" not in str(chart) and ">None</text>" in str(chart)


def test_share_bars_split_each_bar_by_share_of_its_total():
    series = [Series("a", "A", "s-a"), Series("b", "B", "s-b")]
    svg = str(
        share_bars(
            [ShareBar("One", {"a": 3, "b": 1}), ShareBar("Two", {"a": 0, "b": 5})],
            series,
            title="t",
            desc="d",
            chart_id="c",
        )
    )

    assert "One, A: 75%" in svg and "One, B: 25%" in svg and "Two, B: 100%" in svg
    assert "Two, A" not in svg
