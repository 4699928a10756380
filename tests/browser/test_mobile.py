"""A phone's screen (390 x 844): the header folds its links behind a Menu
button, and the lists become cards, so nothing scrolls sideways."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from risks.models import Tier
from tests import factories

from .conftest import ARTIFACTS, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]

PHONE = {"width": 390, "height": 844}
MAX_HEADER_HEIGHT = 72


def open_context(browser, live_server, request, **options):
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, **options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda msg: msg.type == "error" and console_errors.append(msg.text))
    page.console_errors = console_errors
    request.addfinalizer(lambda: finish(context, page, request))
    return page


def finish(context, page, request) -> None:
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def phone(browser, live_server, request):
    return open_context(browser, live_server, request)


@pytest.fixture
def phone_without_js(browser, live_server, request):
    return open_context(browser, live_server, request, java_script_enabled=False)


@pytest.fixture
def team():
    """A manager and a CSM with a record at each tier (long names, a secondary
    cause), a pending escalation and tasks, one of them overdue."""
    region = factories.RegionFactory(code="EMEA", name="Europe")
    manager = factories.ManagerFactory(
        username="maria", first_name="Maria", last_name="Schneider", region=region
    )
    csm = factories.CsmFactory(
        username="carl", first_name="Carl", last_name="Jensen", manager=manager, region=region
    )
    today = timezone.localdate()
    risks = []
    for tier, name in [
        (Tier.REVIEW, "Northwind Logistics International Holdings"),
        (Tier.MANAGER, "Contoso Pharmaceuticals Research"),
        (Tier.CSM, "Fabrikam Manufacturing Europe"),
    ]:
        account = factories.AccountFactory(
            name=name,
            csm=csm,
            region=region,
            arr=Decimal("1250000.00"),
            renewal_date=today + dt.timedelta(days=30 * tier),
        )
        risks.append(
            factories.RiskRecordFactory(
                account=account,
                tier=tier,
                max_tier=tier,
                secondary_cause=factories.RootCauseFactory(),
            )
        )
    factories.EscalationFactory(risk=risks[2], reason="The sponsor left; I need help. " * 5)
    factories.TaskFactory(
        risk=risks[0],
        title="Executive sponsor call with the new VP of Operations",
        description="Agree the recovery plan and the dates of the next reviews. " * 3,
        due_date=today - dt.timedelta(days=3),
    )
    factories.TaskFactory(risk=risks[1], title="Relaunch the training programme")
    return csm, manager


def header_height(page) -> float:
    return page.locator(".site-header").bounding_box()["height"]


def assert_no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"


def assert_within_the_width(locator) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_the_header_is_one_line_and_the_menu_button_opens_the_links(phone, team):
    sign_in(phone, "carl")
    menu = phone.get_by_role("button", name="Menu")
    links = phone.locator("#nav-menu")
    my_tasks = phone.get_by_role("link", name="My tasks", exact=True)

    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_have_attribute("aria-controls", "nav-menu")
    expect(links).to_be_hidden()
    assert header_height(phone) <= MAX_HEADER_HEIGHT

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(my_tasks).to_be_visible()
    expect(phone.get_by_role("button", name="Sign out")).to_be_visible()
    assert_no_sideways_scroll(phone)

    my_tasks.click()
    expect(phone.get_by_role("heading", name="My tasks", level=1)).to_be_visible()
    # A new page starts with the menu folded again.
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(my_tasks).to_be_hidden()

    menu.click()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(links).to_be_hidden()
    assert phone.console_errors == []


def test_the_menu_works_from_the_keyboard(phone, team):
    sign_in(phone, "carl")
    menu = phone.get_by_role("button", name="Menu")

    # Skip link, brand, then the Menu button: the folded links take no stops.
    for _ in range(3):
        phone.keyboard.press("Tab")
    expect(menu).to_be_focused()

    phone.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    phone.keyboard.press("Tab")
    expect(phone.get_by_role("link", name="Home", exact=True)).to_be_focused()

    phone.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    expect(phone.locator("#nav-menu")).to_be_hidden()

    phone.keyboard.press("Space")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(phone.get_by_role("link", name="Accounts", exact=True)).to_be_visible()


def test_without_javascript_every_link_shows_and_no_menu_button(phone_without_js, team):
    page = phone_without_js
    sign_in(page, "carl")

    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    for name in ("Home", "Risks", "Accounts", "My tasks", "Reports"):
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert_no_sideways_scroll(page)


def test_a_wide_screen_shows_the_links_and_no_menu_button(page, team):
    sign_in(page, "carl")

    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("link", name="My tasks", exact=True)).to_be_visible()
    # The lists stay tables there.
    page.goto("/risks/")
    expect(page.locator(".risk-table thead")).to_be_visible()
    assert (
        page.locator(".risk-table tbody tr").first.evaluate("row => getComputedStyle(row).display")
        == "table-row"
    )


def test_the_risk_list_is_cards_with_the_tier_in_view(phone, team):
    sign_in(phone, "maria")
    phone.goto("/risks/")

    rows = phone.locator(".risk-table tbody tr")
    expect(rows).to_have_count(3)
    first = rows.first
    assert_within_the_width(first.locator(".badge[class*='tier-']"))
    # Each cell names its column.
    tier_cell = first.locator("td", has=phone.locator(".badge[class*='tier-']"))
    assert tier_cell.evaluate("cell => getComputedStyle(cell, '::before').content") == '"Tier"'
    # The sort links stay reachable.
    expect(phone.get_by_role("link", name="ARR at risk")).to_be_visible()
    assert_no_sideways_scroll(phone)


def test_the_accounts_list_is_cards(phone, team):
    sign_in(phone, "maria")
    phone.goto("/accounts/")

    rows = phone.locator(".account-table tbody tr")
    expect(rows).to_have_count(3)
    assert_within_the_width(rows.first.locator(".badge[class*='tier-']"))
    assert_within_the_width(rows.first.locator("td").last)
    assert_no_sideways_scroll(phone)


def test_my_tasks_is_cards_with_the_button_in_view(phone, team):
    sign_in(phone, "carl")
    phone.goto("/tasks/")

    rows = phone.locator(".tasks-table tbody tr")
    expect(rows).to_have_count(2)
    overdue = rows.filter(has_text="Executive sponsor call")
    assert_within_the_width(overdue.get_by_text("Overdue"))
    assert_within_the_width(overdue.get_by_role("button", name="Mark done"))
    assert_no_sideways_scroll(phone)


@pytest.mark.parametrize(("user", "path"), [("maria", "/risks/approvals/"), ("maria", "/")])
def test_the_approvals_and_home_fit_a_phone(phone, team, user, path):
    sign_in(phone, user)
    phone.goto(path)

    row = phone.locator(".approval-table tbody tr").first
    assert_within_the_width(row.get_by_role("button", name="Approve"))
    assert_no_sideways_scroll(phone)
