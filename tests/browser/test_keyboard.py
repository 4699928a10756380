"""The core journey with the keyboard only, checking where focus is after each
step: a CSM files a risk (after a first submit with nothing filled in) and asks
for tier 2; the manager approves it in the queue and takes it to tier 3, which
puts it on the region's review agenda; a reviewer adds a review note there.
Also: Enter in the filing form's account search filters the accounts in place,
and focus survives the htmx swaps after a note on a record's timeline and after
an agenda's action item is marked done.

Only ``page.keyboard`` acts on the pages (Tab, Shift+Tab, Enter, Space, the
arrow keys and typing); ``page.goto`` stands for typing an address. Focus is
read from ``document.activeElement``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from reviews import scheduling
from reviews import services as review_services
from reviews.models import Agenda, ReviewNote
from risks import services
from risks.models import EscalationStatus, RiskRecord, RootCause
from tests import factories

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]

PASSWORD = "secret-pass-123"
# How many Tab presses a page may need to reach what the step wants.
MOST_TABS = 80

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {tag: "body", id: "", cls: "", name: "", text: ""};
  const label = el.getAttribute("aria-label")
    || (el.labels && el.labels.length ? el.labels[0].innerText : "")
    || el.innerText || "";
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    cls: typeof el.className === "string" ? el.className : "",
    name: el.getAttribute("name") || "",
    text: label.trim().replace(/\\s+/g, " "),
  };
}"""


def focused(page: Page) -> dict[str, str]:
    return page.evaluate(FOCUSED)


def describe(info: dict[str, str]) -> str:
    return f"<{info['tag']} id={info['id']!r} class={info['cls']!r}> {info['text'][:60]!r}"


def tab_to(page: Page, wanted: Callable[[dict[str, str]], bool], what: str, *, back=False):
    """Press Tab (Shift+Tab with ``back``) until the focused element is ``wanted``."""
    key = "Shift+Tab" if back else "Tab"
    seen = []
    for _ in range(MOST_TABS):
        page.keyboard.press(key)
        info = focused(page)
        if wanted(info):
            return info
        seen.append(describe(info))
    raise AssertionError(f"{what} not reached with {key}; focus went through:\n" + "\n".join(seen))


def text_starts(prefix: str) -> Callable[[dict[str, str]], bool]:
    return lambda info: info["text"].startswith(prefix)


def has_id(element_id: str) -> Callable[[dict[str, str]], bool]:
    return lambda info: info["id"] == element_id


def wait_for_focus(page: Page, predicate: str, what: str) -> None:
    """Wait (htmx settles a swap a moment after it shows) until the JavaScript
    ``predicate`` of the focused element holds; fail saying where focus is."""
    try:
        page.wait_for_function(f"() => ({predicate})(document.activeElement)", timeout=3_000)
    except PlaywrightTimeout:
        raise AssertionError(f"focus is not {what}: {describe(focused(page))}") from None


def press(page: Page, key: str) -> None:
    page.keyboard.press(key)


def arrived(page: Page, heading: str | re.Pattern) -> None:
    """A new page has loaded: its h1 says ``heading``, focus is on the document
    (nothing moved it somewhere unexpected), and the first Tab reaches the skip
    link, whose Enter moves the keyboard's starting point to the main content."""
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert focused(page)["tag"] == "body", describe(focused(page))
    press(page, "Tab")
    assert focused(page)["text"] == "Skip to content", describe(focused(page))


def skip_to_main(page: Page) -> None:
    """From the skip link: Enter, then the next Tab lands inside <main>."""
    press(page, "Enter")
    press(page, "Tab")
    assert page.evaluate("() => document.querySelector('main').contains(document.activeElement)")


def sign_in(page: Page, username: str) -> None:
    page.goto("/login/")
    # Django's sign-in form puts focus on the username.
    assert focused(page)["id"] == "id_username", describe(focused(page))
    page.keyboard.type(username)
    press(page, "Tab")
    assert focused(page)["id"] == "id_password", describe(focused(page))
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        press(page, "Enter")


def sign_out(page: Page) -> None:
    tab_to(page, text_starts("Sign out"), "the Sign out button", back=True)
    with page.expect_navigation():
        press(page, "Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert focused(page)["id"] == "id_username", describe(focused(page))


def follow(page: Page, link: str, *, back: bool = False) -> None:
    """Tab to the link or button named ``link`` and press Enter; a page loads."""
    tab_to(page, lambda info: info["text"] == link, f"the {link!r} link", back=back)
    with page.expect_navigation():
        press(page, "Enter")


def open_details(page: Page, summary: str) -> None:
    """Tab to a folded form's summary and open it with Enter; focus stays on it."""
    tab_to(page, lambda info: info["tag"] == "summary" and info["text"] == summary, summary)
    press(page, "Enter")
    info = focused(page)
    assert info["tag"] == "summary" and info["text"] == summary, describe(info)
    assert page.evaluate("() => document.activeElement.parentElement.open")


@pytest.fixture
def team():
    region = factories.RegionFactory(code="EMEA", name="Europe", timezone="Europe/Berlin")
    manager = factories.ManagerFactory(
        username="maria", first_name="Maria", last_name="Schneider", region=region
    )
    csm = factories.CsmFactory(
        username="carl", first_name="Carl", last_name="Jensen", manager=manager, region=region
    )
    factories.ReviewerFactory(username="rita", first_name="Rita", last_name="Moreau", region=region)
    account = factories.AccountFactory(name="Northwind Logistics", csm=csm, region=region)
    factories.AccountFactory(name="Acme Analytics", csm=csm, region=region)
    factories.AccountFactory(name="Bluebird Media", csm=csm, region=region)
    return region, account


def escalate_by_keyboard(page: Page, summary: str, reason: str, *, button: str) -> None:
    """From the record's page: open the escalation block, type the reason,
    send it, and land on the record again."""
    skip_to_main(page)
    open_details(page, summary)
    press(page, "Tab")
    assert focused(page)["tag"] == "textarea", describe(focused(page))
    page.keyboard.type(reason)
    press(page, "Tab")
    assert focused(page)["text"] == button, describe(focused(page))
    with page.expect_navigation():
        press(page, "Enter")
    arrived(page, "Northwind Logistics")


def test_the_risk_journey_with_the_keyboard_only(page, team):
    region, account = team

    # --- the CSM files a risk record ---------------------------------------------
    sign_in(page, "carl")
    arrived(page, "Your accounts at risk")
    follow(page, "File a risk")
    arrived(page, "File a risk record")

    # Sent empty: the page comes back with the error summary, and focus on it.
    follow(page, "File risk record")
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    assert "error-summary" in focused(page)["cls"], describe(focused(page))
    # Its first link leads to the account list.
    press(page, "Tab")
    assert focused(page)["text"].startswith("Account:"), describe(focused(page))
    press(page, "Enter")
    assert focused(page)["id"] == "id_account", describe(focused(page))

    # Typing picks the account; htmx refills the ARR fields and the causes
    # (disabled meanwhile), and focus stays on the list.
    with page.expect_response(lambda response: "partial=arr" in response.url):
        page.keyboard.type("North")
    page.wait_for_function(
        "() => !document.querySelector('#primary-cause input:disabled, #arr-fields input:disabled')"
    )
    assert focused(page)["id"] == "id_account", describe(focused(page))
    assert page.evaluate("() => document.activeElement.value") == str(account.pk)

    # The primary cause: Tab into the radio group, arrows to "Low usage".
    info = tab_to(page, lambda i: i["name"] == "primary_cause", "the primary cause")
    for _ in range(20):
        if info["text"].startswith("Low usage"):
            break
        press(page, "ArrowDown")
        info = focused(page)
    press(page, "Space")
    assert info["text"].startswith("Low usage"), describe(info)
    assert page.evaluate("() => document.activeElement.checked")

    tab_to(page, has_id("id_summary"), "Summary")
    page.keyboard.type("Weekly active users halved since the champion left.")
    tab_to(page, has_id("id_next_steps"), "Next steps")
    page.keyboard.type("Sponsor call on Monday; relaunch training.")
    follow(page, "File risk record")
    arrived(page, "Northwind Logistics")
    expect(page.get_by_role("status").first).to_contain_text("Risk record filed")
    risk = RiskRecord.objects.get(account=account)

    # --- ... and asks for tier 2 --------------------------------------------------
    escalate_by_keyboard(
        page,
        "Request escalation to tier 2",
        "No response from their VP; I need Maria's help.",
        button="Request escalation",
    )
    expect(page.get_by_text("Escalation waiting for a decision")).to_be_visible()
    escalation = risk.escalations.get()
    assert escalation.status == EscalationStatus.PENDING
    sign_out(page)

    # --- the manager approves it in the queue -------------------------------------
    sign_in(page, "maria")
    arrived(page, "Your team's accounts at risk")
    follow(page, "Approvals")
    arrived(page, "Approval queue")
    row = page.locator(f"#escalation-{escalation.pk}")
    tab_to(page, text_starts("Approve tier 2 for Northwind Logistics"), "the Approve button")
    press(page, "Enter")
    expect(row).to_contain_text("Approved")
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.APPROVED
    # Where focus goes after the row is swapped: see
    # test_focus_stays_on_the_row_after_a_decision_in_the_queue.

    # --- ... and takes it to tier 3 ---------------------------------------------
    follow(page, "Northwind Logistics", back=True)  # the row's link to the record
    arrived(page, "Northwind Logistics")
    escalate_by_keyboard(
        page,
        "Escalate to tier 3",
        "Renewal in six weeks; the review should see it.",
        button="Escalate",
    )
    risk.refresh_from_db()
    assert risk.tier == 3

    # The region's agenda for the next review: generated now, it lists the record.
    follow(page, "Reviews")
    arrived(page, re.compile("review · week of"))
    follow(page, "Generate now")
    arrived(page, re.compile("review · week of"))
    week_start, _ = scheduling.next_meeting(region, timezone.now())
    agenda = Agenda.objects.get(region=region, week_start=week_start)
    item = agenda.items.get(risk=risk)
    sign_out(page)

    # --- a reviewer adds a review note ------------------------------------------
    sign_in(page, "rita")
    arrived(page, "Tier 3: the cross-functional review of Europe")
    follow(page, "Reviews")
    arrived(page, re.compile("review · week of"))
    skip_to_main(page)
    open_details(page, "Add a note")
    press(page, "Tab")
    assert focused(page)["tag"] == "textarea", describe(focused(page))
    page.keyboard.type("Legal reviews the renewal terms; sponsor meeting booked.")
    press(page, "Tab")
    assert focused(page)["text"] == "Add note", describe(focused(page))
    with page.expect_response(lambda response: "/notes/" in response.url):
        press(page, "Enter")
    work = page.locator(f"#item-{item.pk}-work")
    expect(work).to_contain_text("Legal reviews the renewal terms")
    # The button is gone with the swap: focus is back on the form's summary.
    wait_for_focus(
        page,
        f"(el) => el.tagName === 'SUMMARY' && document.getElementById('item-{item.pk}-work')"
        ".contains(el)",
        "on the item's summary",
    )
    assert focused(page)["text"] == "Add a note", describe(focused(page))
    assert ReviewNote.objects.get(item=item).text.startswith("Legal reviews")
    # The one error the browser logged: the filing form's answer to the empty submit.
    assert page.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]


def test_focus_stays_on_the_row_after_a_decision_in_the_queue(page, team):
    _, account = team
    risk = services.risk_open(
        user=account.csm,
        account=account,
        primary_cause=RootCause.objects.get(code="low-usage"),
        summary="Usage halved.",
        next_steps="Sponsor call.",
    )
    escalation = services.escalation_request(user=account.csm, risk=risk, reason="Need help.")

    sign_in(page, "maria")
    page.goto("/risks/approvals/")
    tab_to(page, text_starts("Approve tier 2 for Northwind Logistics"), "the Approve button")
    press(page, "Enter")
    row = page.locator(f"#escalation-{escalation.pk}")
    expect(row).to_contain_text("Approved")
    wait_for_focus(
        page,
        f"(el) => document.getElementById('escalation-{escalation.pk}').contains(el)",
        "in the row",
    )
    assert focused(page)["text"].startswith("Approved"), describe(focused(page))


def test_enter_in_the_account_search_filters_in_place(page, team):
    sign_in(page, "carl")
    page.goto("/risks/new/")
    arrived(page, "File a risk record")
    # Something typed further down first: the search must not lose it.
    skip_to_main(page)
    tab_to(page, has_id("id_summary"), "Summary")
    page.keyboard.type("Champion left in May.")
    page.evaluate("() => { window.__stillTheSamePage = true; }")

    tab_to(page, has_id("account-q"), "the account search", back=True)
    with page.expect_response(lambda response: "partial=accounts" in response.url):
        page.keyboard.type("Bluebird")
        press(page, "Enter")
    expect(page.locator("#id_account option")).to_have_count(2)  # the prompt and Bluebird
    expect(page.locator("#id_account option").nth(1)).to_have_text(re.compile("^Bluebird Media"))

    assert page.evaluate("() => window.__stillTheSamePage === true"), "the page was reloaded"
    info = focused(page)
    assert info["id"] == "account-q", describe(info)
    assert page.evaluate("() => document.activeElement.value") == "Bluebird"
    assert page.locator("#id_summary").input_value() == "Champion left in May."
    assert page.console_errors == []


def test_focus_stays_on_the_button_after_a_note_on_the_timeline(page, team):
    _, account = team
    risk = services.risk_open(
        user=account.csm,
        account=account,
        primary_cause=RootCause.objects.get(code="low-usage"),
        summary="Usage halved.",
        next_steps="Sponsor call.",
    )
    sign_in(page, "carl")
    page.goto(f"/risks/{risk.pk}/")
    open_details(page, "Add a note")
    press(page, "Tab")
    page.keyboard.type("Their VP answered.")
    press(page, "Tab")
    assert focused(page)["text"] == "Add note", describe(focused(page))
    with page.expect_response(lambda response: f"/risks/{risk.pk}/note/" in response.url):
        press(page, "Enter")
    expect(page.locator("#timeline-panel")).to_contain_text("Their VP answered.")
    # The panel is swapped; its form stays open for the next note, focus on its button.
    wait_for_focus(page, "(el) => el.id === 'timeline-note-submit'", "on Add note")


def test_focus_stays_on_the_button_after_marking_an_action_item_done(page, team):
    region, account = team
    risk = factories.RiskRecordFactory(account=account, tier=3, max_tier=3)
    manager = account.csm.manager
    week_start, _ = scheduling.next_meeting(region, timezone.now())
    agenda = review_services.agenda_generate(region=region, week_start=week_start, user=manager)
    item = agenda.items.get(risk=risk)
    task = review_services.action_item_add(
        user=manager, item=item, description="Send the recovery plan", owner=account.csm
    )
    sign_in(page, "rita")
    page.goto(f"/reviews/{region.code}/{week_start.isoformat()}/")
    tab_to(page, text_starts("Mark done: Send the recovery plan"), "Mark done")
    with page.expect_response(lambda response: f"/actions/{task.pk}/done/" in response.url):
        press(page, "Enter")
    button = f"item-{item.pk}-task-{task.pk}-done"
    wait_for_focus(page, f"(el) => el.id === '{button}'", "on the task's button")
    assert focused(page)["text"] == "Reopen: Send the recovery plan", describe(focused(page))
