"""The Program effectiveness and Flag coverage pages and their CSV downloads:
every role reads them, the tabs keep the filters each understands, the tables
show the hand-computed figures below, bad input shows the error next to its
field, empty periods say so, the CSV holds what the table shows, and the
number of queries does not grow with the records.

Program dataset (records closed on 10 Feb 2026 at noon UTC, every task due on
20 Jan 2026), playbook "Adoption rescue", step 1 "Exec sponsor call":
on time 6 records, 5 saved → 5/6 = 83.3%; Wilson 95% (z = 1.96, n = 6):
centre = (0.833333 + 0.320133) / 1.640267 = 0.703219, half = 0.266728 →
43.6% to 97.0%; not on time 2 records (1 saved): "Fewer than 5 records".
Days open 10 12 14 20 30 40 → median 17.0; late 16 18 → 17.0. One review
action item, done on time, on the first record (saved, 10 days).

Coverage dataset, churn date 31 Mar 2026: Alder (EMEA, enterprise, 100000)
with a record opened 30 days before, flagged; Birch (EMEA, smb, 50000) with a
record opened 29 days before, not flagged; Elm (NA, enterprise, 80000)
without a record, not flagged. EMEA 2 churns, 1 flagged, 50.0%, 150,000 and
100,000; NA 1, 0, 0.0%, 80,000 and 0; enterprise 2, 1, 50.0%, 180,000 and
100,000; smb 1, 0, 0.0%, 50,000 and 0; total 3, 1, 33.3%, 230,000, 100,000.
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

from risks.models import RiskStatus, RootCause, TaskSource
from tests import factories
from tests.csv_text import csv_text

pytestmark = pytest.mark.django_db

PROGRAM_URL = reverse("reports:program_effectiveness")
COVERAGE_URL = reverse("reports:flag_coverage")
PROGRAM_CSV_URL = reverse("reports:program_effectiveness_csv")
COVERAGE_CSV_URL = reverse("reports:flag_coverage_csv")
PAGES = [PROGRAM_URL, COVERAGE_URL]
UTC = dt.UTC
DUE = dt.date(2026, 1, 20)
ON = dt.datetime(2026, 1, 20, 23, 30, tzinfo=UTC)
LATE = dt.datetime(2026, 1, 21, 0, 10, tzinfo=UTC)
CHURN_DAY = dt.date(2026, 3, 31)


def closed_record(account, status: str, days_open: int):
    closed_at = dt.datetime(2026, 2, 10, 12, tzinfo=UTC)
    return factories.RiskRecordFactory(
        account=account,
        primary_cause=RootCause.objects.get(code="low-usage"),
        status=status,
        arr_retained=account.arr if status == RiskStatus.SAVED else Decimal("0"),
        opened_at=closed_at - dt.timedelta(days=days_open),
        closed_at=closed_at,
        closed_by=account.csm,
    )


def with_task(record, done_at, *, step=None, source=TaskSource.PLAYBOOK) -> None:
    factories.TaskFactory(risk=record, step=step, source=source, due_date=DUE, done_at=done_at)


@pytest.fixture
def step(region):
    playbook = factories.PlaybookFactory(name="Adoption rescue")
    return factories.PlaybookStepFactory(playbook=playbook, position=1, title="Exec sponsor call")


@pytest.fixture
def programs_data(csm, region, step):
    S, C = RiskStatus.SAVED, RiskStatus.CHURNED
    table = [
        (S, 10, ON),
        (S, 12, ON),
        (S, 14, ON),
        (S, 20, ON),
        (S, 30, ON),
        (C, 40, ON),
        (S, 16, LATE),
        (C, 18, None),
    ]
    records = []
    for status, days_open, done_at in table:
        record = closed_record(factories.AccountFactory(csm=csm, region=region), status, days_open)
        with_task(record, done_at, step=step)
        records.append(record)
    with_task(records[0], ON, source=TaskSource.REVIEW)
    return records


def churn(name, region, segment, arr, opened_days_before: int | None):
    account = factories.AccountFactory(
        name=name, region=region, segment=factories.SegmentFactory(code=segment)
    )
    record = None
    if opened_days_before is not None:
        opened_at = dt.datetime.combine(
            CHURN_DAY - dt.timedelta(days=opened_days_before), dt.time(12), tzinfo=UTC
        )
        record = factories.RiskRecordFactory(
            account=account,
            status=RiskStatus.CHURNED,
            arr_retained=Decimal("0"),
            opened_at=opened_at,
            closed_at=opened_at + dt.timedelta(days=5),
            closed_by=account.csm,
        )
    factories.RenewalFactory(
        account=account, renewal_date=CHURN_DAY, outcome="churned", arr_before=Decimal(arr)
    )
    return account, record


@pytest.fixture
def coverage_data(region, other_region):
    return {
        "Alder": churn("Alder", region, "enterprise", "100000", 30),
        "Birch": churn("Birch", region, "smb", "50000", 29),
        "Elm": churn("Elm", other_region, "enterprise", "80000", None),
    }


@pytest.fixture
def signed_in(client, csm):
    client.force_login(csm)
    return client


class Tables(HTMLParser):
    """The text of every cell of every report table, by the table's caption id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[list[str]]]] = {}
        self.table: dict[str, list[list[str]]] | None = None
        self.section = ""
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table" and "report-table" in (attributes.get("class") or ""):
            self.table = {"thead": [], "tbody": [], "tfoot": []}
        elif self.table is None:
            return
        elif tag == "caption":
            self.tables[attributes["id"]] = self.table
        elif tag in ("thead", "tbody", "tfoot"):
            self.section = tag
        elif tag == "tr":
            self.row = []
        elif tag in ("th", "td"):
            self.cell = []

    def handle_endtag(self, tag):
        if self.table is None:
            return
        if tag == "table":
            self.table = None
        elif tag in ("th", "td") and self.cell is not None and self.row is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.table[self.section].append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def tables_of(response) -> dict[str, dict[str, list[list[str]]]]:
    parser = Tables()
    parser.feed(response.content.decode())
    return parser.tables


def csv_of(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(csv_text(response.content))))


def svgs_of(response) -> list[str]:
    return re.findall(r"<svg.*?</svg>", response.content.decode(), re.S)


# --- access and navigation ------------------------------------------------------------


@pytest.mark.parametrize("role", ["csm", "manager", "reviewer", "admin_user"])
@pytest.mark.parametrize("url", [*PAGES, PROGRAM_CSV_URL, COVERAGE_CSV_URL])
def test_every_role_can_read_both_reports(client, request, programs_data, coverage_data, role, url):
    client.force_login(request.getfixturevalue(role))

    response = client.get(url)

    assert response.status_code == 200
    if url in PAGES:
        assert "<svg" in response.content.decode()


@pytest.mark.parametrize("url", [*PAGES, PROGRAM_CSV_URL, COVERAGE_CSV_URL])
def test_both_reports_need_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_tabs_link_both_reports_keeping_the_filters_each_understands(signed_in, region):
    response = signed_in.get(COVERAGE_URL, {"renewed_after": "2026-01-01", "region": "EMEA"})

    html = response.content.decode()
    tabs = html[html.index('class="report-tabs"') :]
    tabs = tabs[: tabs.index("</nav>")]
    assert f'href="{PROGRAM_URL}?region=EMEA"' in tabs
    assert re.search(
        rf'href="{COVERAGE_URL}\?renewed_after=2026-01-01&amp;region=EMEA" aria-current="page"',
        tabs,
    )

    response = signed_in.get(reverse("reports:outcomes"), {"closed_after": "2026-01-01"})

    html = response.content.decode()
    assert f'href="{PROGRAM_URL}?closed_after=2026-01-01"' in html
    assert f'href="{COVERAGE_URL}"' in html


# --- Program effectiveness --------------------------------------------------------------


def test_program_page_shows_the_chart_the_table_and_the_caveat(signed_in, programs_data):
    response = signed_in.get(PROGRAM_URL)

    assert response.status_code == 200
    table = tables_of(response)["program-table-caption"]
    assert table["tbody"] == [
        [
            "Adoption rescue — 1. Exec sponsor call",
            *["6", "5", "83.3% 43.6 to 97.0%", "17.0"],
            *["2", "1", "Fewer than 5 records", "17.0"],
        ],
        [
            "Review action items",
            *["1", "1", "Fewer than 5 records", "10.0"],
            *["0", "0", "Fewer than 5 records", "—"],
        ],
    ]
    html = response.content.decode()
    assert "Correlation, not proof:" in html
    (svg,) = svgs_of(response)
    assert svg.count('class="chart-interval"') == 1
    assert "83.3% saved (95% interval 43.6% to 97.0%), 6 records" in svg
    assert "Not on time: Fewer than 5 records (2 records)" in svg
    assert "Done on time: Fewer than 5 records (1 record)" in svg


def test_program_chart_is_accessible_and_needs_no_inline_style(signed_in, programs_data):
    response = signed_in.get(PROGRAM_URL)

    (svg,) = svgs_of(response)
    assert 'role="img"' in svg
    assert re.search(r'<title id="program-chart-title">[^<]+</title>', svg)
    assert re.search(r'<desc id="program-chart-desc">[^<]+</desc>', svg)
    assert 'class="chart-legend"' in svg
    assert svg.count('class="chart-axis-title"') == 2
    assert "style=" not in response.content.decode()


def test_program_filters_flow_through(signed_in, programs_data, other_region):
    response = signed_in.get(PROGRAM_URL, {"region": "NA"})

    assert response.status_code == 200
    assert "program-table-caption" not in tables_of(response)
    assert "No saved or churned records with playbook or review tasks closed in this period " in (
        response.content.decode()
    )


def test_program_page_with_nothing_closed_says_so(signed_in, programs_data):
    response = signed_in.get(PROGRAM_URL, {"closed_before": "2026-02-09"})

    html = response.content.decode()
    assert "No saved or churned records with playbook or review tasks closed in this period" in (
        html
    )
    assert "<svg" not in html


def test_program_bad_input_is_shown_next_to_its_field(signed_in, programs_data):
    response = signed_in.get(PROGRAM_URL, {"closed_after": "10/02/2026"})

    assert response.status_code == 400
    html = response.content.decode()
    field = html[html.index('name="closed_after"') - 600 : html.index('name="closed_after"') + 400]
    assert "Enter a date as YYYY-MM-DD." in field
    assert "<svg" not in html


def test_program_csv_holds_what_the_table_shows(signed_in, programs_data, step):
    response = signed_in.get(PROGRAM_CSV_URL)

    lines = csv_of(response)
    assert response["Content-Disposition"].startswith(
        'attachment; filename="program-effectiveness-'
    )
    assert lines[1] == [
        "playbook_step",
        str(step.pk),
        "Adoption rescue — 1. Exec sponsor call",
        *["6", "5", "0.8333", "0.4365", "0.9699", "17.0"],
        *["2", "1", "", "", "", "17.0"],
    ]
    assert lines[2] == [
        "review",
        "",
        "Review action items",
        *["1", "1", "", "", "", "10.0"],
        *["0", "0", "", "", "", ""],
    ]


# --- Flag coverage ------------------------------------------------------------------------


def test_coverage_page_shows_both_tables_with_totals_and_two_charts(signed_in, coverage_data):
    response = signed_in.get(COVERAGE_URL)

    assert response.status_code == 200
    tables = tables_of(response)
    by_region, by_segment = tables["coverage-region-caption"], tables["coverage-segment-caption"]
    assert by_region["tbody"] == [
        ["Europe (EMEA)", "2", "1", "50.0%", "150,000", "100,000"],
        ["North America (NA)", "1", "0", "0.0%", "80,000", "0"],
    ]
    assert by_segment["tbody"] == [
        ["Enterprise (enterprise)", "2", "1", "50.0%", "180,000", "100,000"],
        ["SMB (smb)", "1", "0", "0.0%", "50,000", "0"],
    ]
    total = ["Total", "3", "1", "33.3%", "230,000", "100,000"]
    assert by_region["tfoot"] == by_segment["tfoot"] == [total]
    svgs = svgs_of(response)
    assert len(svgs) == 2
    assert "Flag coverage by region" in svgs[0] and "Flag coverage by segment" in svgs[1]
    assert "In total 1 of 3 churns were flagged." in svgs[0]


def test_unflagged_churns_link_the_account_and_the_record_opened_too_late(signed_in, coverage_data):
    response = signed_in.get(COVERAGE_URL)

    unflagged = tables_of(response)["unflagged-caption"]["tbody"]
    birch, birch_record = coverage_data["Birch"]
    elm, _ = coverage_data["Elm"]
    assert unflagged == [
        [
            "Birch",
            "EMEA",
            "smb",
            "31 Mar 2026",
            "50,000",
            f"Record #{birch_record.pk}, opened 2 Mar 2026 (29 days before)",
        ],
        ["Elm", "NA", "enterprise", "31 Mar 2026", "80,000", "None"],
    ]
    html = response.content.decode()
    assert f'href="{reverse("customer_accounts:detail", args=[birch.pk])}"' in html
    assert f'href="{reverse("customer_accounts:detail", args=[elm.pk])}"' in html
    assert f'href="{reverse("risks:detail", args=[birch_record.pk])}"' in html


def test_coverage_filters_flow_through_and_all_flagged_says_so(signed_in, coverage_data):
    response = signed_in.get(COVERAGE_URL, {"segment": "enterprise", "region": "EMEA"})

    tables = tables_of(response)
    assert tables["coverage-region-caption"]["tfoot"] == [
        ["Total", "1", "1", "100.0%", "100,000", "100,000"]
    ]
    assert "Every churn in this period was flagged in time." in response.content.decode()


def test_coverage_without_churns_says_so(signed_in, coverage_data):
    response = signed_in.get(COVERAGE_URL, {"renewed_after": "2026-04-01"})

    html = response.content.decode()
    assert "No churns in this period (renewal dates on or after 2026-04-01)." in html
    assert "<svg" not in html


def test_coverage_bad_input_is_shown_next_to_each_field(signed_in, region):
    response = signed_in.get(
        COVERAGE_URL,
        {"renewed_after": "2026-05-01", "renewed_before": "2026-04-01", "region": "MARS"},
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert "renewed_before must be on or after renewed_after." in html
    assert "Unknown region &#x27;MARS&#x27;; use one of: EMEA." in html
    field = html[html.index('name="renewed_before"') - 600 : html.index('name="renewed_before"')]
    assert "renewed_before must be on or after renewed_after." in field


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        (PROGRAM_CSV_URL, {"closed_before": "soon"}, "closed_before: Enter a date as YYYY-MM-DD."),
        (COVERAGE_CSV_URL, {"renewed_after": "soon"}, "renewed_after: Enter a date as YYYY-MM-DD."),
    ],
)
def test_csv_with_bad_input_is_a_400_naming_the_field(signed_in, url, query, message):
    response = signed_in.get(url, query)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_coverage_csv_holds_what_the_tables_show(signed_in, coverage_data):
    lines = csv_of(signed_in.get(COVERAGE_CSV_URL, {"region": "EMEA"}))

    assert lines == [
        [
            "dimension",
            "key",
            "label",
            "churns",
            "flagged",
            "coverage",
            "arr_churned",
            "arr_flagged",
        ],
        ["region", "EMEA", "Europe", "2", "1", "0.5000", "150000.00", "100000.00"],
        ["segment", "enterprise", "Enterprise", "1", "1", "1.0000", "100000.00", "100000.00"],
        ["segment", "smb", "SMB", "1", "0", "0.0000", "50000.00", "0.00"],
        ["total", "", "Total", "2", "1", "0.5000", "150000.00", "100000.00"],
    ]


# --- query counts -----------------------------------------------------------------------


def _more(count: int, csm, region, step) -> None:
    for index in range(count):
        account = factories.AccountFactory(csm=csm, region=region)
        record = closed_record(account, [RiskStatus.SAVED, RiskStatus.CHURNED][index % 2], 5)
        with_task(record, [ON, LATE][index % 2], step=step)
        with_task(record, ON, source=TaskSource.REVIEW)
        factories.RenewalFactory(
            account=account,
            renewal_date=CHURN_DAY - dt.timedelta(days=index),
            outcome="churned",
        )


# session and user, the region and segment choices of the form, the region
# check of the query, then the report: Program effectiveness two queries
# (steps, review), Flag coverage three (regions, segments, unflagged).
@pytest.mark.parametrize(
    ("url", "queries"),
    [(PROGRAM_URL, 7), (COVERAGE_URL, 8), (PROGRAM_CSV_URL, 5), (COVERAGE_CSV_URL, 6)],
)
def test_query_count_does_not_grow_with_records(
    signed_in, django_assert_num_queries, csm, region, step, url, queries
):
    _more(3, csm, region, step)
    with django_assert_num_queries(queries):
        assert signed_in.get(url, {"region": "EMEA"}).status_code == 200
    _more(30, csm, region, step)
    with django_assert_num_queries(queries):
        assert signed_in.get(url, {"region": "EMEA"}).status_code == 200
