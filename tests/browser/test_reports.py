"""Reports in a real browser: a manager opens Reports, sees the chart and the
table with its totals, filters by region, and downloads the CSV of exactly
what the page shows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from risks.models import RiskStatus, RootCause
from tests import factories
from tests.csv_text import csv_text

from .conftest import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]


def closed(account, status: str, cause: str, arr: str, retained: str, day: dt.date) -> None:
    factories.RiskRecordFactory(
        account=account,
        status=status,
        primary_cause=RootCause.objects.get(code=cause),
        arr_at_risk=Decimal(arr),
        arr_retained=Decimal(retained),
        opened_at=dt.datetime.combine(day - dt.timedelta(days=12), dt.time(12), tzinfo=dt.UTC),
        closed_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
        closed_by=account.csm,
    )


@pytest.fixture
def outcomes():
    emea = factories.RegionFactory(code="EMEA", name="Europe")
    na = factories.RegionFactory(code="NA", name="North America")
    manager = factories.ManagerFactory(username="maria", region=emea)
    csm = factories.CsmFactory(username="carl", manager=manager, region=emea)
    day = dt.date(2026, 2, 10)
    closed(
        factories.AccountFactory(csm=csm, region=emea),
        RiskStatus.SAVED,
        "low-usage",
        "100000",
        "80000",
        day,
    )
    closed(
        factories.AccountFactory(csm=csm, region=emea),
        RiskStatus.CHURNED,
        "low-usage",
        "50000",
        "0",
        day,
    )
    closed(
        factories.AccountFactory(csm=csm, region=na),
        RiskStatus.CHURNED,
        "defects",
        "70000",
        "0",
        day,
    )


def test_manager_reads_the_outcomes_report_and_downloads_its_csv(page, outcomes):
    sign_in(page, "maria")
    page.get_by_role("link", name="Reports", exact=True).click()

    expect(page.get_by_role("heading", name="Reports")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("Outcomes by primary cause"))
    expect(chart).to_be_visible()
    expect(page.locator("svg.chart title").first).to_have_text(
        "Outcomes by primary cause: records saved, churned and withdrawn"
    )
    table = page.get_by_role("table", name=re.compile("Outcomes by primary cause"))
    expect(table.get_by_role("row", name=re.compile("^Low usage"))).to_contain_text("50.0%")
    totals = table.get_by_role("row", name=re.compile("^Total"))
    expect(totals).to_contain_text("140,000")  # ARR lost: 20k downsell + 50k + 70k

    page.get_by_label("Region").select_option("NA")
    page.get_by_role("button", name="Show report").click()
    expect(page).to_have_url(re.compile(r"region=NA"))
    expect(table.get_by_role("row", name=re.compile("^Low usage"))).to_have_count(0)
    expect(table.get_by_role("row", name=re.compile("^Defects"))).to_be_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download CSV")).click()
    download = download_info.value
    with open(download.path(), "rb") as handle:
        rows = list(csv.reader(io.StringIO(csv_text(handle.read()))))
    assert rows[0][:3] == ["key", "label", "saved"]
    assert [row[1] for row in rows[1:]] == ["Defects", "Total"]
    assert rows[-1][3] == "1"  # one churned in NA
    assert rows[-1][7] == "70000.00"
    assert page.console_errors == []
