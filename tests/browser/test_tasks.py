"""Playbook tasks in a real browser: a CSM files a record whose cause has a
playbook, sees its tasks, ticks one done in place (htmx, no page load), and
finds the rest on My tasks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from risks.models import RiskRecord, RootCause, StepOwner, Task
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
    account = factories.AccountFactory(name="Northwind Logistics", csm=csm, region=region)
    playbook = factories.PlaybookFactory(
        name="Lost sponsor play", root_cause=RootCause.objects.get(code="lost-champion")
    )
    for position, (title, owner, days) in enumerate(
        [
            ("Map the new stakeholders", StepOwner.CSM, 5),
            ("Executive sponsor call", StepOwner.MANAGER, 10),
            ("Value review with the new sponsor", StepOwner.CSM, 20),
        ],
        start=1,
    ):
        factories.PlaybookStepFactory(
            playbook=playbook, position=position, title=title, owner=owner, due_days=days
        )
    return csm, manager, account


def test_csm_files_sees_playbook_tasks_ticks_one_in_place_and_finds_the_rest(page, team):
    _, _, account = team

    sign_in(page, "carl")
    page.get_by_role("link", name="File a risk", exact=True).click()
    page.get_by_role("combobox", name="Account").select_option(value=str(account.pk))
    primary = page.get_by_role("group", name=re.compile("Primary root cause"))
    primary.get_by_label("Lost champion or sponsor").check()
    page.get_by_label("Summary").fill("Our sponsor, the VP Operations, left in May.")
    page.get_by_label("Next steps").fill("Find out who owns the budget now.")
    page.get_by_role("button", name="File risk record").click()
    expect(page.get_by_role("heading", name="Northwind Logistics")).to_be_visible()
    risk = RiskRecord.objects.get(account=account)

    tasks = page.locator("#risk-tasks")
    expect(tasks).to_contain_text("3 open")
    expect(tasks).to_contain_text("Map the new stakeholders")
    expect(tasks).to_contain_text("Executive sponsor call")
    expect(tasks).to_contain_text("Maria Schneider")

    # A marker on the window survives an htmx swap but not a page load.
    page.evaluate("window.__noReload = true")
    button = tasks.get_by_role("button", name="Mark done: Map the new stakeholders")
    button.focus()
    page.keyboard.press("Enter")
    expect(tasks).to_contain_text("2 open · 1 done")
    # The focus stays on the task's button, now "Reopen", in the open done list.
    done_button = tasks.get_by_role("button", name="Reopen: Map the new stakeholders")
    expect(done_button).to_be_visible()
    expect(done_button).to_be_focused()
    expect(page.get_by_role("status").first).to_contain_text("marked done")
    assert page.evaluate("window.__noReload") is True
    done = Task.objects.get(risk=risk, title="Map the new stakeholders")
    assert done.done_at is not None

    page.get_by_role("link", name="My tasks").click()
    expect(page.get_by_role("heading", name="My tasks")).to_be_visible()
    rows = page.locator("table.tasks-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Value review with the new sponsor")
    expect(rows.first).to_contain_text("Northwind Logistics")
    assert page.console_errors == []
