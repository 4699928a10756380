"""Colour contrast computed from static/css/app.css itself (WCAG 2.1).

The test reads the stylesheet: the custom properties of ``:root`` and the
rules that colour the focus ring, the charts and the badges. No colour value
is repeated here, so a change to app.css is checked as it is.

- 1.4.11 Non-text contrast: the focus ring against every background the sheet
  paints, and every chart fill or line against the chart background: 3:1.
- 1.4.3 Contrast (minimum): text in charts, and every rule that sets both a
  text colour and a background (badges, messages, buttons): 4.5:1.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from django.conf import settings

from core.charts import Series
from health.charts import BAND_SERIES
from reports.charts import CATEGORY_CLASSES, OUTCOME_SERIES, TIER_SERIES, category_series

CSS_PATH = Path(settings.BASE_DIR) / "static" / "css" / "app.css"

Rgb = tuple[int, int, int]

# --- WCAG 2.1 relative luminance and contrast ratio ---------------------------


def relative_luminance(rgb: Rgb) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in rgb)
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(first: Rgb, second: Rgb) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def blend(colour: Rgb, opacity: float, background: Rgb) -> Rgb:
    """A colour drawn at ``opacity`` over ``background``, as the eye sees it."""
    return tuple(  # type: ignore[return-value]
        round(opacity * top + (1 - opacity) * bottom)
        for top, bottom in zip(colour, background, strict=True)
    )


# --- reading app.css -------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    selectors: tuple[str, ...]
    declarations: dict[str, str]
    media: str  # the @media prelude around the rule, "" at the top level


def parse_rules(text: str) -> list[Rule]:
    """Every style rule of the sheet, in source order, with its @media."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    rules: list[Rule] = []

    def walk(body: str, media: str) -> None:
        position = 0
        while (opening := body.find("{", position)) != -1:
            prelude = body[position:opening].strip()
            depth, index = 1, opening + 1
            while depth:
                depth += {"{": 1, "}": -1}.get(body[index], 0)
                index += 1
            inner = body[opening + 1 : index - 1]
            if prelude.startswith("@media"):
                walk(inner, prelude)
            else:
                declarations = {}
                for declaration in inner.split(";"):
                    name, colon, value = declaration.partition(":")
                    if colon:
                        declarations[name.strip()] = value.strip()
                selectors = tuple(" ".join(s.split()) for s in prelude.split(","))
                rules.append(Rule(selectors, declarations, media))
            position = index

    walk(text, "")
    return rules


class Stylesheet:
    def __init__(self, text: str):
        # Print styles are not what anyone sees on a screen.
        self.rules = [rule for rule in parse_rules(text) if "print" not in rule.media]
        self.tokens = {
            name: value
            for rule in self.rules
            if ":root" in rule.selectors
            for name, value in rule.declarations.items()
            if name.startswith("--")
        }

    def resolve(self, value: str) -> str:
        """Replaces each var(--name) by the token's value, recursively."""
        for _ in range(10):
            replaced = re.sub(
                r"var\(\s*(--[\w-]+)\s*\)", lambda match: self.tokens[match.group(1)], value
            )
            if replaced == value:
                return value
            value = replaced
        raise AssertionError(f"var() nesting too deep in {value!r}")

    def declared(self, selector: str, prop: str) -> str:
        """The value the last rule naming exactly ``selector`` gives ``prop``."""
        values = [
            rule.declarations[prop]
            for rule in self.rules
            if selector in rule.selectors and prop in rule.declarations
        ]
        assert values, f"app.css sets no {prop} for {selector}"
        return self.resolve(values[-1])

    def colour(self, selector: str, prop: str) -> Rgb:
        return parse_colour(self.declared(selector, prop))

    def token(self, name: str) -> Rgb:
        return parse_colour(self.resolve(f"var({name})"))


def parse_colour(value: str) -> Rgb:
    match = re.search(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", value)
    assert match, f"no #hex colour in {value!r} (the test reads #rgb and #rrggbb only)"
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return tuple(int(digits[index : index + 2], 16) for index in (0, 2, 4))  # type: ignore[return-value]


def hex_of(rgb: Rgb) -> str:
    return "#" + "".join(f"{value:02x}" for value in rgb)


@cache
def sheet() -> Stylesheet:
    return Stylesheet(CSS_PATH.read_text(encoding="utf-8"))


# --- the contrast function itself -----------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("#000", "#fff", 21.0),
        ("#777777", "#ffffff", 4.48),
        ("#ffffff", "#777777", 4.48),  # the order does not matter
        ("#767676", "#fff", 4.54),  # the lightest grey that passes 4.5:1 on white
        ("#f5b400", "#f5b400", 1.0),
    ],
)
def test_contrast_of_known_pairs(first, second, expected):
    assert contrast(parse_colour(first), parse_colour(second)) == pytest.approx(expected, abs=0.01)


def test_blend_of_a_colour_over_white():
    assert blend((0, 0, 0), 0.5, (255, 255, 255)) == (128, 128, 128)
    assert blend((31, 95, 191), 1, (255, 255, 255)) == (31, 95, 191)


def test_the_stylesheet_is_read():
    rules = sheet().rules
    assert len(rules) > 100
    # A rule inside @media is read with its media query.
    assert any(rule.media.startswith("@media") for rule in rules)
    # var() is resolved through the :root tokens.
    assert sheet().colour(".card", "background") == sheet().token("--card")


# --- the focus ring ------------------------------------------------------------

FOCUS_SELECTORS = ("a:focus-visible", "button:focus-visible", "input:focus-visible")


def focus_tones(selector: str) -> list[Rgb]:
    """The colours of the focus ring: its outline, and the ring a box-shadow
    draws inside it when there is one (a two-tone ring)."""
    outline = sheet().declared(selector, "outline")
    assert re.search(r"\b[2-9]px solid\b", outline), f"{selector}: outline {outline!r}"
    tones = [parse_colour(outline)]
    shadow = next(
        (
            rule.declarations["box-shadow"]
            for rule in reversed(sheet().rules)
            if selector in rule.selectors and "box-shadow" in rule.declarations
        ),
        None,
    )
    if shadow is not None:
        shadow = sheet().resolve(shadow)
        assert re.fullmatch(r"0 0 0 [2-9]px #\w+", shadow), f"{selector}: box-shadow {shadow!r}"
        tones.append(parse_colour(shadow))
    return tones


def backgrounds() -> list[tuple[str, Rgb]]:
    """Every solid background colour app.css paints, named by its selector."""
    found: dict[Rgb, str] = {}
    for rule in sheet().rules:
        for prop in ("background", "background-color"):
            value = rule.declarations.get(prop)
            if value is None:
                continue
            value = sheet().resolve(value)
            if "#" not in value:  # none, transparent, inherit
                continue
            found.setdefault(parse_colour(value), rule.selectors[0])
    return [(selector, rgb) for rgb, selector in found.items()]


@pytest.mark.parametrize("selector", [*FOCUS_SELECTORS, ".error-summary:focus"])
def test_every_focus_style_is_the_same_ring(selector):
    assert focus_tones(selector) == focus_tones("a:focus-visible")
    assert sheet().declared(selector, "outline-offset") == sheet().declared(
        "a:focus-visible", "outline-offset"
    )


def test_the_tones_of_the_focus_ring_are_3_to_1_apart():
    tones = focus_tones("a:focus-visible")
    for index, tone in enumerate(tones):
        for other in tones[index + 1 :]:
            assert contrast(tone, other) >= 3, f"{hex_of(tone)} and {hex_of(other)}"


def test_the_focus_ring_reaches_3_to_1_on_every_background():
    """Whatever the background (white cards, the page, the dark header, a red
    primary button, a tinted overdue row ...), a tone of the ring stands out
    from it by 3:1 or more."""
    tones = focus_tones("a:focus-visible")
    painted = {rgb for _, rgb in backgrounds()}
    for selector in (":root", ".card", ".site-header", ".button.primary", "tr.overdue-row"):
        assert sheet().colour(selector, "background") in painted, selector
    failing = [
        f"{selector} {hex_of(rgb)}: " + ", ".join(f"{contrast(tone, rgb):.2f}" for tone in tones)
        for selector, rgb in backgrounds()
        if max(contrast(tone, rgb) for tone in tones) < 3
    ]
    assert not failing, failing


def test_the_dark_header_and_the_light_pages_each_see_a_tone_of_the_ring():
    tones = focus_tones("a:focus-visible")
    for selector in (".site-header", ".card", ":root"):
        rgb = sheet().colour(selector, "background")
        assert max(contrast(tone, rgb) for tone in tones) >= 3, selector
    for token in ("--danger-bg", "--warn-bg", "--ok-bg", "--tier3-bg"):
        rgb = sheet().token(token)
        assert max(contrast(tone, rgb) for tone in tones) >= 3, token


# --- charts ---------------------------------------------------------------------


def chart_background() -> Rgb:
    return sheet().colour("svg.chart", "background")


def fill_of(css_class: str) -> Rgb:
    return sheet().colour(f".{css_class}", "fill")


ALL_SERIES: dict[str, tuple[Series, ...]] = {
    "outcomes": tuple(OUTCOME_SERIES),
    "open risk tiers": tuple(TIER_SERIES),
    "trend categories": tuple(
        category_series([(str(index), str(index)) for index in range(CATEGORY_CLASSES)])
    ),
    "health bands": tuple(BAND_SERIES),
}


def all_series() -> list[Series]:
    return [item for series in ALL_SERIES.values() for item in series]


@pytest.mark.parametrize("item", all_series(), ids=lambda item: item.css_class)
def test_every_chart_series_fill_reaches_3_to_1(item):
    ratio = contrast(fill_of(item.css_class), chart_background())
    assert ratio >= 3, f"{item.css_class} {hex_of(fill_of(item.css_class))}: {ratio:.2f}"


@pytest.mark.parametrize("item", ALL_SERIES["trend categories"], ids=lambda item: item.css_class)
def test_churn_drawn_a_shade_lighter_still_reaches_3_to_1(item):
    opacity = float(sheet().declared("svg.chart rect.chart-below", "fill-opacity"))
    seen = blend(fill_of(item.css_class), opacity, chart_background())
    assert contrast(seen, chart_background()) >= 3, f"{item.css_class} at {opacity}: {hex_of(seen)}"


@pytest.mark.parametrize("name", ALL_SERIES)
def test_stacked_neighbours_differ_and_a_white_line_parts_them(name):
    """Segments next to each other in a stack have different colours, and the
    separator every bar is drawn with stands out 3:1 from each fill."""
    series = ALL_SERIES[name]
    separator = sheet().colour("svg.chart rect", "stroke")
    assert float(sheet().declared("svg.chart rect", "stroke-width")) >= 1
    fills = [fill_of(item.css_class) for item in series]
    for left, right in itertools.pairwise(fills):
        assert left != right, f"{name}: two neighbours are both {hex_of(left)}"
    for item, fill in zip(series, fills, strict=True):
        assert contrast(separator, fill) >= 3, f"{item.css_class} against the separator"


@pytest.mark.parametrize("item", BAND_SERIES, ids=lambda item: item.css_class)
def test_the_percentage_on_each_band_share_reaches_4_5_to_1(item):
    label = f"svg.chart .{item.css_class}-label"
    selector = label if any(label in rule.selectors for rule in sheet().rules) else None
    text = sheet().colour(selector or "svg.chart .chart-share-label", "fill")
    ratio = contrast(text, fill_of(item.css_class))
    assert ratio >= 4.5, f"{item.css_class}: {hex_of(text)} on {hex_of(fill_of(item.css_class))}"


# Lines and points, drawn over the chart background and the health zones.
CHART_LINES = [
    ("svg.chart .chart-line-path", "stroke"),
    ("svg.chart .chart-point", "fill"),
    ("svg.chart .chart-baseline", "stroke"),
    ("svg.chart rect:hover", "stroke"),
    ("svg.chart .chart-point:hover", "fill"),
    ("svg.chart .chart-interval", "stroke"),
]
ZONES = ["chart-zone-red", "chart-zone-yellow", "chart-zone-green"]


@pytest.mark.parametrize(("selector", "prop"), CHART_LINES)
def test_chart_lines_reach_3_to_1_on_the_background_and_the_zones(selector, prop):
    colour = sheet().colour(selector, prop)
    for name, background in [("background", chart_background())] + [
        (zone, fill_of(zone)) for zone in ZONES
    ]:
        assert contrast(colour, background) >= 3, f"{selector} on the {name}"


# Text drawn in the charts: 4.5:1 against the chart background.
CHART_TEXT = [
    "svg.chart text",
    "svg.chart .chart-axis text",
    "svg.chart .chart-axis .chart-axis-title",
    "svg.chart .chart-value",
    "svg.chart .chart-note",
    "svg.chart .chart-zone-label",
]


@pytest.mark.parametrize("selector", CHART_TEXT)
def test_chart_text_reaches_4_5_to_1(selector):
    assert contrast(sheet().colour(selector, "fill"), chart_background()) >= 4.5


# Decorative: light guides behind the data; every value is also in the table.
DECORATIVE = {
    ("svg.chart .chart-grid", "stroke"),
    (".chart-zone-red", "fill"),
    (".chart-zone-yellow", "fill"),
    (".chart-zone-green", "fill"),
    # The white outline of a point sets it off the line; the point is the ink.
    ("svg.chart .chart-point", "stroke"),
}


def test_every_chart_colour_in_the_stylesheet_is_checked():
    """A new chart colour in app.css must be added to one of the checks above."""
    checked = (
        {(f".{item.css_class}", "fill") for item in all_series()}
        | set(CHART_LINES)
        | {(selector, "fill") for selector in CHART_TEXT}
        | {("svg.chart .chart-share-label", "fill"), ("svg.chart rect", "stroke")}
        | {(f"svg.chart .{item.css_class}-label", "fill") for item in BAND_SERIES}
        | DECORATIVE
    )
    unchecked = [
        (selector, prop)
        for rule in sheet().rules
        for selector in rule.selectors
        if "chart" in selector
        for prop in ("fill", "stroke")
        if "#" in sheet().resolve(rule.declarations.get(prop, "none"))
        and (selector, prop) not in checked
    ]
    assert not unchecked, unchecked


# --- text on its own background: badges, messages, buttons ------------------


def coloured_rules() -> list[tuple[str, Rgb, Rgb]]:
    """Every rule that sets both a text colour and a solid background."""
    found = []
    for rule in sheet().rules:
        background = rule.declarations.get("background") or rule.declarations.get(
            "background-color"
        )
        text = rule.declarations.get("color")
        if not background or not text:
            continue
        background, text = sheet().resolve(background), sheet().resolve(text)
        if "#" in background and "#" in text:
            found.append((rule.selectors[0], parse_colour(text), parse_colour(background)))
    return found


def test_badges_are_among_the_rules_checked():
    selectors = {selector for selector, _, _ in coloured_rules()}
    for badge in (".tier-1", ".tier-2", ".tier-3", ".status-open", ".health-yellow"):
        assert badge in selectors


@pytest.mark.parametrize(
    ("selector", "text", "background"), [pytest.param(*row, id=row[0]) for row in coloured_rules()]
)
def test_text_on_its_own_background_reaches_4_5_to_1(selector, text, background):
    ratio = contrast(text, background)
    assert ratio >= 4.5, f"{selector}: {hex_of(text)} on {hex_of(background)} is {ratio:.2f}"
