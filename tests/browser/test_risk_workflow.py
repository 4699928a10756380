"""The core journey in a real browser: a CSM files a risk and asks for help, the
manager approves it from the queue, and the record shows tier 2 with both events."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from risks.models import EscalationStatus, RiskRecord
from tests import factories

from .conftest import sign_in, sign_out

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]


@pytest.fixture
def team():
    region = factories.RegionFactory(code="EMEA", name="Europe")
    manager = factories.ManagerFactory(
        username="maria", first_name="Maria", last_name="Schneider", region=region
    )
    csm = factories.CsmFactory(
        username="carl", first_name="Carl", last_name="Jensen", manager=manager, region=region
    )
    account = factories.AccountFactory(name="Northwind Logistics", csm=csm, region=region)
    return csm, manager, account


def test_csm_files_and_escalates_then_manager_approves(page, team):
    _, _, account = team

    sign_in(page, "carl")
    page.get_by_role("link", name="File a risk", exact=True).click()
    page.get_by_role("combobox", name="Account").select_option(value=str(account.pk))
    primary = page.get_by_role("group", name=re.compile("Primary root cause"))
    primary.get_by_label("Low usage").check()
    page.get_by_label("Summary").fill("Weekly active users halved since the champion left.")
    page.get_by_label("Next steps").fill("Sponsor call on Monday; relaunch training.")
    page.get_by_role("button", name="File risk record").click()

    expect(page.get_by_role("heading", name="Northwind Logistics")).to_be_visible()
    expect(page.get_by_text("Tier 1 · CSM").first).to_be_visible()
    risk = RiskRecord.objects.get(account=account)

    page.get_by_text("Request escalation to tier 2").click()
    page.get_by_label("Reason").fill("No response from their VP; I need Maria's help.")
    page.get_by_role("button", name="Request escalation").click()
    expect(page.get_by_text("Escalation waiting for a decision")).to_be_visible()
    assert risk.escalations.get().status == EscalationStatus.PENDING
    sign_out(page)

    sign_in(page, "maria")
    page.get_by_role("link", name="Approvals").click()
    row = page.locator("tr", has_text="Northwind Logistics")
    expect(row).to_be_visible()
    row.get_by_role("button", name=re.compile("^Approve")).click()
    expect(row).to_contain_text("Approved")

    page.goto(f"/risks/{risk.pk}/")
    expect(page.get_by_text("Tier 2 · Manager").first).to_be_visible()
    timeline = page.locator("#timeline-panel")
    expect(timeline).to_contain_text("Escalation requested")
    expect(timeline).to_contain_text("Escalation approved")
    risk.refresh_from_db()
    assert risk.tier == 2
    assert page.console_errors == []


def test_secondary_cause_equal_to_primary_is_shown_next_to_the_field(page, team):
    _, _, account = team

    sign_in(page, "carl")
    page.goto("/risks/new/")
    page.get_by_role("combobox", name="Account").select_option(value=str(account.pk))
    primary = page.get_by_role("group", name=re.compile("Primary root cause"))
    primary.get_by_label("Defects").check()
    secondary = page.get_by_role("group", name=re.compile("Secondary root cause"))
    secondary.get_by_label("Defects").check()
    page.get_by_label("Summary").fill("Errors in daily exports.")
    page.get_by_label("Next steps").fill("Escalate the bugs to Support.")
    page.get_by_role("button", name="File risk record").click()

    error = page.locator(".field-invalid", has_text="Secondary root cause")
    expect(error).to_contain_text("must differ from the primary cause")
    assert not RiskRecord.objects.exists()
