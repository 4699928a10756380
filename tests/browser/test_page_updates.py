"""Pages that htmx updates in place, in a real browser: the risk list's filters
keep working after each update, the approval queue's counter follows the
decisions made in its rows, and a long form reports every error at once."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from risks import services
from risks.models import RiskRecord, RiskStatus, RootCause
from tests import factories

from .conftest import sign_in

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
    return region, manager, csm


def record(name: str, csm, region, *, tier: int, status: str = RiskStatus.OPEN) -> RiskRecord:
    account = factories.AccountFactory(name=name, csm=csm, region=region)
    closed = {}
    if status != RiskStatus.OPEN:
        closed = {
            "closed_at": timezone.now() - dt.timedelta(days=1),
            "closed_by": csm,
            "arr_retained": Decimal("0"),
        }
    return factories.RiskRecordFactory(
        account=account,
        tier=tier,
        max_tier=tier,
        status=status,
        primary_cause=RootCause.objects.get(code="low-usage"),
        opened_at=timezone.now() - dt.timedelta(days=20),
        **closed,
    )


def listed_accounts(page) -> list[str]:
    return sorted(page.locator(".risk-table tbody tr td:first-child a").all_inner_texts())


def test_risk_list_filters_keep_submitting_after_an_htmx_update(page, team):
    region, _, csm = team
    record("Open tier one", csm, region, tier=1)
    record("Open tier three", csm, region, tier=3)
    record("Churned tier three", csm, region, tier=3, status=RiskStatus.CHURNED)
    record("Churned tier two", csm, region, tier=2, status=RiskStatus.CHURNED)

    sign_in(page, "carl")
    page.goto("/risks/")
    expect(page.locator("#risk-count")).to_have_text("2 risk records")

    # First change: the list is swapped by htmx and the URL follows.
    page.get_by_label("Status").select_option(label="Any status")
    page.wait_for_url(re.compile(r"status=(&|$)"))
    expect(page.locator("#risk-count")).to_have_text("4 risk records")

    # Second change, on the swapped-in form: it must submit too.
    page.get_by_label("Tier", exact=True).select_option(value="3")
    page.wait_for_url(re.compile(r"tier=3"))
    expect(page.locator("#risk-count")).to_have_text("2 risk records")
    assert listed_accounts(page) == ["Churned tier three", "Open tier three"]
    query = parse_qs(urlparse(page.url).query, keep_blank_values=True)
    assert query["status"] == [""] and query["tier"] == ["3"]

    # And a third, after a sort (another kind of swap).
    page.locator(".risk-table thead").get_by_role("link", name=re.compile("^Account")).click()
    page.wait_for_url(re.compile(r"ordering=account"))
    page.get_by_label("Status").select_option(label="Open")
    page.wait_for_url(re.compile(r"status=open"))
    expect(page.locator("#risk-count")).to_have_text("1 risk record")
    assert listed_accounts(page) == ["Open tier three"]
    assert page.get_by_label("Tier", exact=True).input_value() == "3"
    assert page.console_errors == []


def test_approval_queue_counter_follows_in_place_decisions(page, team):
    region, _, csm = team
    for name in ("Alpha", "Bravo", "Charlie"):
        risk = services.risk_open(
            user=csm,
            account=factories.AccountFactory(name=name, csm=csm, region=region),
            primary_cause=RootCause.objects.get(code="low-usage"),
            summary="Usage fell by half.",
            next_steps="Call the sponsor.",
        )
        services.escalation_request(user=csm, risk=risk, reason="Needs the manager.")

    sign_in(page, "maria")
    page.goto("/risks/approvals/")
    counter = page.locator("#approval-waiting")
    expect(counter).to_have_text("3 escalations waiting for a decision")
    for name, left in (("Alpha", "2 escalations"), ("Bravo", "1 escalation")):
        row = page.locator("tr.approval-row", has_text=name)
        row.get_by_role("button", name=re.compile("^Approve")).click()
        expect(row).to_contain_text("Approved")
        expect(counter).to_have_text(f"{left} waiting for a decision")

    # The manager's home page shows the same queue and counter.
    page.goto("/")
    counter = page.locator("#approval-waiting")
    expect(counter).to_have_text("1 escalation waiting for a decision")
    row = page.locator("tr.approval-row", has_text="Charlie")
    row.get_by_role("button", name=re.compile("^Approve")).click()
    expect(row).to_contain_text("Approved")
    expect(counter).to_have_text("0 escalations waiting for a decision")
    assert page.console_errors == []


def test_filing_form_reports_every_error_at_once_with_a_summary(page, team):
    region, _, csm = team
    account = factories.AccountFactory(name="Northwind Logistics", csm=csm, region=region)

    sign_in(page, "carl")
    page.goto("/risks/new/")
    page.get_by_role("combobox", name="Account").select_option(value=str(account.pk))
    primary = page.get_by_role("group", name=re.compile("Primary root cause"))
    primary.get_by_label("Low usage").check()
    page.get_by_label("Next steps").fill("Sponsor call on Monday.")
    page.get_by_label("ARR at risk").fill("-5")
    page.get_by_role("button", name="File risk record").click()

    # Both problems come back in one round trip, not one browser bubble at a time.
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(2)
    expect(page.locator("#field-id_summary .field-error")).to_contain_text("required")
    expect(page.locator("#field-id_arr_at_risk .field-error")).to_contain_text("Enter an amount")
    summary.get_by_role("link", name=re.compile("ARR at risk")).click()
    expect(page.get_by_label("ARR at risk")).to_be_focused()
    assert not RiskRecord.objects.exists()


def test_stale_edit_proposes_and_saves_only_the_users_change(page, team):
    region, manager, csm = team
    risk = services.risk_open(
        user=csm,
        account=factories.AccountFactory(name="Northwind Logistics", csm=csm, region=region),
        primary_cause=RootCause.objects.get(code="low-usage"),
        summary="Usage halved.\nThe champion left in May.",
        next_steps="Sponsor call on Monday.",
    )

    sign_in(page, "carl")
    page.goto(f"/risks/{risk.pk}/edit/")
    services.risk_edit(  # the manager saves while the CSM is typing
        user=manager, risk=risk.pk, version=risk.version, summary="Manager's summary."
    )
    page.get_by_label("Next steps").fill("Sponsor call on Monday.\nTraining on Friday.")
    page.get_by_role("button", name="Save changes").click()

    diff = page.locator(".diff-table tbody")
    expect(diff.locator("tr")).to_have_count(1)
    expect(diff).to_contain_text("Next steps")
    expect(page.get_by_label("Summary")).to_have_value("Manager's summary.")
    page.get_by_role("button", name="Save my version").click()

    expect(page.get_by_role("heading", name="Northwind Logistics")).to_be_visible()
    risk.refresh_from_db()
    assert risk.summary == "Manager's summary."
    assert risk.next_steps.replace("\r\n", "\n") == "Sponsor call on Monday.\nTraining on Friday."
    # The conflict page itself is a 409, which the browser logs; nothing else.
    assert [error for error in page.console_errors if "409 (Conflict)" not in error] == []
