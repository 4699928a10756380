"""The Reports pages (Outcomes, Open risk, Trend): filters, chart, table, CSV.

The figures themselves are tested against hand-computed values with the
selectors (tests/reports/test_selectors.py); these tests check what the pages do
with them: every role reads them, filters flow through, bad input shows errors
next to the fields, the table and the CSV agree, the SVG is accessible and
CSP-safe, and the number of queries does not grow with the records.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from reports import charts
from reports.views import save_percent
from risks.models import RiskRecord, RiskStatus, RootCause
from tests import factories
from tests.csv_text import csv_text

pytestmark = pytest.mark.django_db

OUTCOMES_URL = reverse("reports:outcomes")
OPEN_RISK_URL = reverse("reports:open_risk")
TREND_URL = reverse("reports:trend")
OUTCOMES_CSV_URL = reverse("reports:outcomes_csv")
OPEN_RISK_CSV_URL = reverse("reports:open_risk_csv")
TREND_CSV_URL = reverse("reports:trend_csv")
PAGES = [OUTCOMES_URL, OPEN_RISK_URL, TREND_URL]


def at_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC)


def closed_risk(
    account,
    status: str,
    *,
    cause: str = "low-usage",
    closed: dt.date = dt.date(2026, 2, 10),
    days_open: int = 10,
    arr_at_risk: str = "100000.00",
    arr_retained: str | None = None,
    max_tier: int = 1,
) -> RiskRecord:
    """A closed record written straight to the database (reports only read)."""
    if arr_retained is None:
        arr_retained = arr_at_risk if status == RiskStatus.SAVED else "0.00"
    return factories.RiskRecordFactory(
        account=account,
        status=status,
        primary_cause=RootCause.objects.get(code=cause),
        arr_at_risk=Decimal(arr_at_risk),
        arr_retained=Decimal(arr_retained),
        opened_at=at_noon(closed - dt.timedelta(days=days_open)),
        closed_at=at_noon(closed),
        closed_by=account.csm,
        tier=max_tier,
        max_tier=max_tier,
    )


def open_risk(account, *, tier: int = 1, arr_at_risk: str = "50000.00") -> RiskRecord:
    return factories.RiskRecordFactory(
        account=account, tier=tier, max_tier=tier, arr_at_risk=Decimal(arr_at_risk)
    )


@pytest.fixture
def signed_in(client, csm):
    client.force_login(csm)
    return client


@pytest.fixture
def dataset(csm, region, other_region):
    """EMEA: low usage saved (downsell 100k → 80k), churned 50k, withdrawn;
    defects saved 30k. NA: missing capability churned 70k. Open: EMEA tier 2
    and NA tier 1."""
    emea = [factories.AccountFactory(csm=csm, region=region) for _ in range(5)]
    na = [factories.AccountFactory(csm=csm, region=other_region) for _ in range(2)]
    closed_risk(
        emea[0], RiskStatus.SAVED, arr_at_risk="100000.00", arr_retained="80000.00", days_open=10
    )
    closed_risk(emea[1], RiskStatus.CHURNED, arr_at_risk="50000.00", days_open=20)
    closed_risk(emea[2], RiskStatus.WITHDRAWN, arr_at_risk="40000.00", days_open=30)
    closed_risk(
        emea[3],
        RiskStatus.SAVED,
        cause="defects",
        arr_at_risk="30000.00",
        closed=dt.date(2026, 3, 5),
        days_open=4,
    )
    closed_risk(
        na[0],
        RiskStatus.CHURNED,
        cause="missing-capability",
        arr_at_risk="70000.00",
        closed=dt.date(2026, 3, 20),
    )
    open_risk(emea[4], tier=2, arr_at_risk="25000.00")
    open_risk(na[1], tier=1, arr_at_risk="12500.50")


class TableParser(HTMLParser):
    """The text of every cell of the report table, row by row, split into
    body rows and footer rows."""

    def __init__(self) -> None:
        super().__init__()
        self.in_table = False
        self.section = ""
        self.body: list[list[str]] = []
        self.foot: list[list[str]] = []
        self.header: list[str] = []
        self.caption = ""
        self.in_caption = False
        self.cell: list[str] | None = None
        self.row: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        if tag == "table" and "report-table" in classes:
            self.in_table = True
        if not self.in_table:
            return
        if tag in ("thead", "tbody", "tfoot"):
            self.section = tag
        elif tag == "caption":
            self.in_caption = True
        elif tag == "tr":
            self.row = []
        elif tag in ("th", "td"):
            self.cell = []

    def handle_endtag(self, tag):
        if not self.in_table:
            return
        if tag == "table":
            self.in_table = False
        elif tag == "caption":
            self.in_caption = False
        elif tag in ("th", "td") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.section == "tbody":
                self.body.append(self.row)
            elif self.section == "tfoot":
                self.foot.append(self.row)
            else:
                self.header.extend(self.row)
            self.row = None

    def handle_data(self, data):
        if self.in_caption:
            self.caption += data
        if self.cell is not None:
            self.cell.append(data)


def table_of(response) -> TableParser:
    parser = TableParser()
    parser.feed(response.content.decode())
    return parser


def csv_of(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(csv_text(response.content))))


def svg_of(response) -> str:
    match = re.search(r"<svg.*?</svg>", response.content.decode(), re.S)
    assert match, "the page has no chart"
    return match.group(0)


def money_text(value: str) -> str:
    """A CSV amount as the |money filter shows it."""
    amount = Decimal(value)
    if amount == amount.to_integral_value():
        return f"{amount:,.0f}"
    return f"{amount:,.2f}"


# --- access and navigation ----------------------------------------------------------


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer", "admin_user"])
@pytest.mark.parametrize("url", [*PAGES, OUTCOMES_CSV_URL, OPEN_RISK_CSV_URL, TREND_CSV_URL])
def test_every_role_can_read_every_report(client, request, dataset, role, url):
    client.force_login(request.getfixturevalue(role))

    response = client.get(url)

    assert response.status_code == 200
    if url in PAGES:
        assert "<svg" in response.content.decode()


def test_reports_need_sign_in(client):
    response = client.get(OUTCOMES_URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_nav_links_to_reports_and_tabs_link_the_three_reports(signed_in):
    response = signed_in.get(OPEN_RISK_URL, {"region": "EMEA"})

    html = response.content.decode()
    assert re.search(rf'href="{OUTCOMES_URL}"\s+aria-current="page">Reports</a>', html)
    tabs = html[html.index('class="report-tabs"') :]
    tabs = tabs[: tabs.index("</nav>")]
    assert f'href="{OUTCOMES_URL}?region=EMEA"' in tabs
    assert f'href="{TREND_URL}?region=EMEA"' in tabs
    assert re.search(rf'href="{OPEN_RISK_URL}\?region=EMEA" aria-current="page"', tabs)


# --- Outcomes ------------------------------------------------------------------------


def test_outcomes_page_shows_chart_and_table_with_totals(signed_in, dataset):
    response = signed_in.get(OUTCOMES_URL)

    assert response.status_code == 200
    table = table_of(response)
    assert "Outcomes by primary cause" in table.caption
    assert table.header[:8] == [
        "Primary cause",
        "Saved",
        "Churned",
        "Withdrawn",
        "Save rate",
        "ARR saved (USD)",
        "ARR lost (USD)",
        "Median days to close",
    ]
    rows = {row[0]: row[1:] for row in table.body}
    # Low usage: saved 1 (downsell loses 20k), churned 1 (50k), withdrawn 1;
    # save rate 1/2; days 10, 20, 30 → median 20.
    assert rows["Low usage"] == ["1", "1", "1", "50.0%", "80,000", "70,000", "20.0"]
    assert rows["Defects"] == ["1", "0", "0", "100.0%", "30,000", "0", "4.0"]
    assert rows["Missing capability"] == ["0", "1", "0", "0.0%", "0", "70,000", "10.0"]
    # Totals: 2 saved, 2 churned, 1 withdrawn; days 4, 10, 10, 20, 30 → 10.
    assert table.foot == [["Total", "2", "2", "1", "50.0%", "110,000", "140,000", "10.0"]]
    svg = svg_of(response)
    assert "Outcomes by primary cause" in svg


def test_save_rate_is_a_dash_when_nothing_was_saved_or_churned(signed_in, csm, region):
    account = factories.AccountFactory(csm=csm, region=region)
    closed_risk(account, RiskStatus.WITHDRAWN)

    table = table_of(signed_in.get(OUTCOMES_URL))

    assert table.body == [["Low usage", "0", "0", "1", "—", "0", "0", "10.0"]]
    assert table.foot[0][4] == "—"


def test_region_filter_changes_the_table(signed_in, dataset):
    everything = table_of(signed_in.get(OUTCOMES_URL))
    na_only = table_of(signed_in.get(OUTCOMES_URL, {"region": "NA"}))

    assert {row[0] for row in everything.body} == {"Defects", "Low usage", "Missing capability"}
    assert [row[0] for row in na_only.body] == ["Missing capability"]
    assert na_only.foot == [["Total", "0", "1", "0", "0.0%", "0", "70,000", "10.0"]]
    assert "region NA" in na_only.caption


def test_group_by_and_dates_flow_through_to_the_table(signed_in, dataset):
    response = signed_in.get(
        OUTCOMES_URL,
        {"group_by": "region", "closed_after": "2026-03-01", "closed_before": "2026-03-31"},
    )

    table = table_of(response)
    assert table.header[0] == "Region"
    assert [row[:4] for row in table.body] == [
        ["Europe", "1", "0", "0"],
        ["North America", "0", "1", "0"],
    ]
    assert "closed 2026-03-01 to 2026-03-31" in table.caption
    # The form shows the choices in use.
    html = response.content.decode()
    assert '<option value="region" selected>' in html
    assert 'value="2026-03-01"' in html


def test_outcomes_default_to_primary_cause_in_the_form(signed_in, dataset):
    html = signed_in.get(OUTCOMES_URL).content.decode()

    assert '<option value="primary_cause" selected>' in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"group_by": "colour"}, "group_by", "Unknown group_by &#x27;colour&#x27;; use one of:"),
        ({"closed_after": "2026-13-01"}, "closed_after", "Enter a date as YYYY-MM-DD."),
        ({"closed_before": "soon"}, "closed_before", "Enter a date as YYYY-MM-DD."),
        ({"region": "MARS"}, "region", "Unknown region &#x27;MARS&#x27;; use one of: EMEA"),
        ({"segment": "giant"}, "segment", "Unknown segment &#x27;giant&#x27;"),
        (
            {"closed_after": "2026-03-01", "closed_before": "2026-02-01"},
            "closed_before",
            "closed_before must be on or after closed_after.",
        ),
    ],
)
def test_bad_input_shows_the_error_next_to_its_field_and_no_chart(
    signed_in, dataset, query, field, message
):
    response = signed_in.get(OUTCOMES_URL, query)

    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(rf'class="field field-invalid[^"]*" id="field-id_{field}"', html)
    # The message sits inside the field's own block, before the next field.
    field_html = html[html.index(f'id="field-id_{field}"') :]
    field_html = re.split(r'id="field-id_|class="filter-actions"', field_html[10:])[0]
    assert 'class="field-error"' in field_html
    assert message in field_html
    assert "<svg" not in html
    assert "report-table" not in html
    assert "Download CSV" not in html


def test_several_bad_inputs_are_all_shown(signed_in, dataset):
    response = signed_in.get(OUTCOMES_URL, {"group_by": "x", "closed_after": "x", "region": "x"})

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"group_by", "closed_after", "region"}


def test_empty_period_says_no_records_closed_instead_of_an_empty_chart(signed_in, dataset):
    response = signed_in.get(OUTCOMES_URL, {"closed_after": "2030-01-01"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "No records closed in this period" in html
    assert "<svg" not in html
    assert "report-table" not in html


# --- CSV ---------------------------------------------------------------------------------


def test_download_link_carries_exactly_the_current_query_string(signed_in, dataset):
    query = "group_by=region&closed_after=2026-01-01&region=EMEA&segment="
    html = signed_in.get(f"{OUTCOMES_URL}?{query}").content.decode()

    assert f'href="{OUTCOMES_CSV_URL}?{query.replace("&", "&amp;")}"' in html


def test_outcomes_csv_matches_the_table(signed_in, dataset):
    query = {"group_by": "primary_cause", "closed_after": "2026-01-01"}
    table = table_of(signed_in.get(OUTCOMES_URL, query))

    response = signed_in.get(OUTCOMES_CSV_URL, query)

    assert response.status_code == 200
    assert "attachment;" in response["Content-Disposition"]
    header, *lines = csv_of(response)
    assert header == [
        "key",
        "label",
        "saved",
        "churned",
        "withdrawn",
        "save_rate",
        "arr_saved",
        "arr_lost",
        "median_days_to_close",
    ]

    def as_shown(line: list[str]) -> list[str]:
        _, label, saved, churned, withdrawn, rate, arr_saved, arr_lost, median = line
        rate_text = f"{Decimal(rate) * 100:.1f}%" if rate else "—"
        return [
            label,
            saved,
            churned,
            withdrawn,
            rate_text,
            money_text(arr_saved),
            money_text(arr_lost),
            median or "—",
        ]

    assert [as_shown(line) for line in lines[:-1]] == table.body
    assert [as_shown(lines[-1])] == table.foot
    assert lines[-1][0] == ""


def test_csv_follows_the_region_filter(signed_in, dataset):
    lines = csv_of(signed_in.get(OUTCOMES_CSV_URL, {"region": "NA"}))

    assert [line[1] for line in lines[1:]] == ["Missing capability", "Total"]


@pytest.mark.parametrize("url", [OUTCOMES_CSV_URL, OPEN_RISK_CSV_URL, TREND_CSV_URL])
def test_csv_with_bad_input_is_a_400_that_says_what_is_wrong(signed_in, url):
    response = signed_in.get(url, {"region": "MARS"})

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "region: Unknown region 'MARS'" in response.content.decode()


def test_open_risk_csv_matches_the_table(signed_in, dataset):
    table = table_of(signed_in.get(OPEN_RISK_URL))

    header, *lines = csv_of(signed_in.get(OPEN_RISK_CSV_URL))

    assert header == ["period", "tier", "count", "arr_at_risk"]
    *rows, totals = lines
    # The table has one row per period and two cells (records, ARR) per tier.
    shown = {}
    for row in table.body:
        for tier in (1, 2, 3):
            count, arr = row[2 * tier - 1], row[2 * tier]
            if count != "0":
                shown[(row[0], str(tier))] = [count, arr]
    assert {(period, tier): [count, money_text(arr)] for period, tier, count, arr in rows} == shown
    assert totals == ["Total", "", "2", "37500.50"]
    assert table.foot[0][-2:] == ["2", "37,500.50"]


def test_trend_csv_matches_the_table(signed_in, dataset):
    table = table_of(signed_in.get(TREND_URL))

    header, *lines = csv_of(signed_in.get(TREND_CSV_URL))

    assert header[:5] == ["month", "category", "category_label", "saved", "churned"]
    assert [
        [month, label, saved, churned, money_text(arr_saved), money_text(arr_lost)]
        for month, _, label, saved, churned, arr_saved, arr_lost in lines
    ] == table.body


# --- Open risk and Trend ---------------------------------------------------------------------


def test_open_risk_page_shows_tiers_by_renewal_period_with_totals(signed_in, dataset):
    response = signed_in.get(OPEN_RISK_URL)

    assert response.status_code == 200
    table = table_of(response)
    renewal = factories.AccountFactory.renewal_date.function()
    period = f"{renewal.year:04d}-{renewal.month:02d}"
    assert table.body == [[period, "1", "12,500.50", "1", "25,000", "0", "0", "2", "37,500.50"]]
    assert table.foot == [["Total", "1", "12,500.50", "1", "25,000", "0", "0", "2", "37,500.50"]]
    svg = svg_of(response)
    assert "Open ARR at risk (USD) by renewal month" in svg
    assert "Tier 3 · Review" in svg


def test_open_risk_by_quarter_and_region(signed_in, dataset):
    response = signed_in.get(OPEN_RISK_URL, {"period": "quarter", "region": "EMEA"})

    table = table_of(response)
    assert table.header[0] == "Renewal quarter"
    assert len(table.body) == 1
    assert re.fullmatch(r"\d{4}-Q[1-4]", table.body[0][0])
    assert table.foot[0][-2:] == ["1", "25,000"]


def test_open_risk_with_an_unknown_period_shows_the_error_next_to_it(signed_in, dataset):
    response = signed_in.get(OPEN_RISK_URL, {"period": "decade"})

    assert response.status_code == 400
    assert response.context["form"].errors["period"] == [
        "Unknown period 'decade'; use one of: month, quarter."
    ]
    assert "<svg" not in response.content.decode()


def test_open_risk_without_open_records_says_so(signed_in, csm, region):
    response = signed_in.get(OPEN_RISK_URL)

    assert response.status_code == 200
    assert "No open risk records" in response.content.decode()
    assert "<svg" not in response.content.decode()


def test_trend_page_shows_saves_and_churn_per_month_by_category(signed_in, dataset):
    response = signed_in.get(TREND_URL)

    table = table_of(response)
    assert table.body == [
        ["2026-02", "Adoption", "1", "1", "80,000", "70,000"],
        ["2026-03", "Product", "1", "1", "30,000", "70,000"],
    ]
    assert table.foot == [["Total", "2", "2", "110,000", "140,000"]]
    svg = svg_of(response)
    assert "Saves and churn per month by category" in svg
    assert "Adoption" in svg and "Product" in svg


def test_trend_with_nothing_closed_says_so(signed_in, dataset):
    response = signed_in.get(TREND_URL, {"closed_before": "2020-01-01"})

    assert response.status_code == 200
    assert "No records closed in this period" in response.content.decode()


# --- the charts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_chart_has_title_description_axes_and_legend_and_no_style_attribute(
    signed_in, dataset, url
):
    response = signed_in.get(url)

    html = response.content.decode()
    svg = svg_of(response)
    assert 'role="img"' in svg
    assert re.search(r'<title id="[\w-]+-title">[^<]+</title>', svg)
    assert re.search(r'<desc id="[\w-]+-desc">[^<]+</desc>', svg)
    assert 'class="chart-legend"' in svg
    assert svg.count('class="chart-axis-title"') >= 2
    # CSP forbids inline styles: colours come from classes in app.css.
    assert "style=" not in html
    assert "<style" not in html


def test_chart_escapes_labels():
    chart = charts.outcomes_chart(
        [charts.OutcomeBar('<script>alert("x")</script>', 1, 2, 3)], group_label="Primary cause"
    )

    assert "<script>" not in chart.svg
    assert "&lt;script&gt;" in chart.svg


def test_chart_with_no_data_says_so():
    chart = charts.trend_chart([], [], {}, {})

    assert "No records closed in this period." in chart.svg


def test_nice_ticks_cover_the_maximum_with_round_steps():
    assert charts.nice_ticks(21, integer=True) == [0, 5, 10, 15, 20, 25]
    assert charts.nice_ticks(3, integer=True) == [0, 1, 2, 3]
    assert charts.nice_ticks(1_294_500)[-1] >= 1_294_500
    assert charts.nice_ticks(0) == [0, 1]


def test_short_numbers_for_axis_labels():
    assert [charts.short_number(n) for n in (0, 12, 1_500, 125_000, 2_000_000)] == [
        "0",
        "12",
        "1.5k",
        "125k",
        "2M",
    ]


# --- query counts -------------------------------------------------------------------------------


def _many_records(count: int, csm, region) -> None:
    causes = list(RootCause.objects.all())
    segments = [
        factories.SegmentFactory(code="enterprise", name="Enterprise"),
        factories.SegmentFactory(code="smb", name="SMB"),
    ]
    for index in range(count):
        account = factories.AccountFactory(
            csm=csm,
            region=region,
            segment=segments[index % 2],
            renewal_date=timezone.localdate() + dt.timedelta(days=30 * (index % 12)),
        )
        status = [RiskStatus.SAVED, RiskStatus.CHURNED, RiskStatus.WITHDRAWN][index % 3]
        closed_risk(
            account,
            status,
            cause=causes[index % len(causes)].code,
            closed=dt.date(2026, 1, 1) + dt.timedelta(days=7 * index),
            max_tier=1 + index % 3,
        )
        open_risk(factories.AccountFactory(csm=csm, region=region), tier=1 + index % 3)


# session, user, regions and segments for the form, region and segment checks,
# then the report: Outcomes two queries (groups, totals), the others one.
@pytest.mark.parametrize("rows", [5, 50])
@pytest.mark.parametrize(
    ("url", "query", "queries"),
    [
        (OUTCOMES_URL, {"group_by": "csm", "region": "EMEA", "segment": "smb"}, 8),
        (OUTCOMES_URL, {"group_by": "month"}, 6),
        (OPEN_RISK_URL, {"period": "quarter", "region": "EMEA"}, 6),
        (TREND_URL, {"region": "EMEA"}, 6),
        (OUTCOMES_CSV_URL, {"group_by": "max_tier", "region": "EMEA"}, 5),
        (OPEN_RISK_CSV_URL, {"region": "EMEA"}, 4),
        (TREND_CSV_URL, {}, 3),
    ],
)
def test_query_count_does_not_grow_with_records(
    signed_in, django_assert_max_num_queries, csm, region, rows, url, query, queries
):
    _many_records(rows, csm, region)

    with django_assert_max_num_queries(queries):
        response = signed_in.get(url, query)

    assert response.status_code == 200


def test_acronym_group_labels_keep_their_capitals(signed_in, dataset):
    response = signed_in.get(OUTCOMES_URL, {"group_by": "csm"})

    assert "Outcomes by CSM" in table_of(response).caption
    assert "Outcomes by CSM: records saved" in svg_of(response)


@pytest.mark.parametrize(
    ("saved", "churned", "shown"),
    [(6, 5, "54.5%"), (2, 1, "66.7%"), (1, 0, "100.0%"), (0, 3, "0.0%"), (0, 0, "—")],
)
def test_save_rate_is_rounded_once_from_the_counts(saved, churned, shown):
    assert save_percent(saved, churned) == shown
