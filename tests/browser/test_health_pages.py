"""The health pages in a real browser: a manager opens the Health page, sees a
red account of their team without a risk record and its badge, follows it to
the account page with its history chart, and starts filing from the list with
the health-suggested cause on top."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from health.models import HealthScore
from risks.models import RootCause
from tests import factories

from .conftest import ARTIFACTS, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]

HISTORY = [(70, 81), (56, 74), (42, 66), (30, 58), (14, 47), (0, 31)]  # (days ago, score)


def band_of(score: int) -> str:
    return "green" if score >= 70 else "red" if score < 40 else "yellow"


@pytest.fixture
def red_account():
    emea = factories.RegionFactory(code="EMEA", name="Europe")
    manager = factories.ManagerFactory(username="maria", region=emea)
    csm = factories.CsmFactory(username="carl", manager=manager, region=emea)
    account = factories.AccountFactory(
        name="Northwind Trading", csm=csm, region=emea, arr=Decimal("240000")
    )
    logins = factories.MeasureFactory(
        code="logins-30d",
        name="Logins in the last 30 days",
        unit="logins",
        suggested_cause=RootCause.objects.get(code="low-usage"),
    )
    factories.ObservationFactory(account=account, measure=logins, value=Decimal("8"))
    today = timezone.localdate()
    for days_ago, score in HISTORY:
        parts = {}
        if days_ago == 0:
            parts = {
                "logins-30d": {
                    "value": 8,
                    "observed_on": today.isoformat(),
                    "change": None,
                    "score": 0,
                    "weight": 10,
                    "dimension": "current_state",
                    "fresh": True,
                }
            }
        HealthScore.objects.create(
            account=account,
            as_of=today - dt.timedelta(days=days_ago),
            score=score,
            band=band_of(score),
            coverage=Decimal("1"),
            current_state=score,
            parts=parts,
            computed_at=timezone.now(),
        )
    account.health_score, account.health_band, account.health_as_of = 31, "red", today
    account.save()
    ARTIFACTS.mkdir(exist_ok=True)
    return account


def test_manager_finds_a_red_account_without_a_record_and_reads_its_health(page, red_account):
    sign_in(page, "maria")
    page.get_by_role("link", name="Health", exact=True).click()

    expect(page.get_by_role("heading", name="Health", exact=True)).to_be_visible()
    unfiled = page.locator("#unfiled")
    expect(unfiled.get_by_role("heading")).to_have_text("Red accounts with no open risk record")
    row = unfiled.get_by_role("row", name=re.compile("Northwind Trading"))
    badge = row.locator(".health-badge")
    expect(badge).to_have_class(re.compile("health-red"))
    expect(badge).to_contain_text("Red 31")
    expect(badge).to_contain_text("down 27 from 30 days ago")  # 58 → 31
    expect(row.get_by_role("link", name=re.compile("File a risk record"))).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "health-page.png"), full_page=True)

    row.get_by_role("link", name="Northwind Trading", exact=True).click()
    expect(page.get_by_role("heading", name="Northwind Trading")).to_be_visible()
    chart = page.get_by_role("img", name=re.compile("Health score history"))
    expect(chart).to_be_visible()
    expect(chart.locator("circle.chart-point")).to_have_count(len(HISTORY))
    breakdown = page.get_by_role("table", name="Breakdown by dimension and measure")
    expect(
        breakdown.get_by_role("row", name=re.compile("Logins in the last 30 days"))
    ).to_contain_text("8 logins")
    page.screenshot(path=str(ARTIFACTS / "health-account.png"), full_page=True)

    page.go_back()
    page.locator("#unfiled").get_by_role("link", name=re.compile("File a risk record")).click()
    expect(page.get_by_role("heading", name="File a risk record")).to_be_visible()
    expect(page.locator("#account-health .health-badge")).to_contain_text("Red 31")
    first_group = page.locator("#primary-cause .cause-group").first
    expect(first_group.get_by_role("heading")).to_have_text("Suggested by health signals")
    expect(first_group.get_by_role("radio", name=re.compile("Low usage"))).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "health-filing.png"), full_page=True)
    assert page.console_errors == []


def test_choosing_another_account_refreshes_the_badge_and_the_suggestions(page, red_account):
    other = factories.AccountFactory(
        name="Acme Green", csm=red_account.csm, region=red_account.region
    )
    sign_in(page, "carl")
    page.goto(f"/risks/new/?account={other.pk}")
    expect(page.locator("#account-health .health-badge")).to_have_text("No score")
    expect(page.locator("#primary-cause")).not_to_contain_text("Suggested by health signals")
    usability = page.locator("#primary-cause").get_by_role("radio", name=re.compile("Usability"))
    usability.check()

    page.locator("#id_account").select_option(str(red_account.pk))

    expect(page.locator("#account-health .health-badge")).to_contain_text("Red 31")
    first_group = page.locator("#primary-cause .cause-group").first
    expect(first_group.get_by_role("heading")).to_have_text("Suggested by health signals")
    # The cause picked before the change is still picked, and nothing is doubled.
    expect(
        page.locator("#primary-cause").get_by_role("radio", name=re.compile("Usability"))
    ).to_be_checked()
    expect(page.locator("#field-id_arr_at_risk")).to_have_count(1)
    expect(page.locator("#field-id_arr_above_account_reason")).to_have_count(1)
    expect(page.get_by_label("ARR at risk")).to_have_value("240000.00")
    assert page.console_errors == []
