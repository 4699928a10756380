"""Risk rules in a real browser: an admin builds a rule from the editor's
menus (the band is red, in one segment, renewing within six months), sees
its preview in place, saves it, switches it on and runs "Evaluate now";
then the account's CSM finds the tier-1 record the rule opened on the
account, with its evidence, the rule named on the timeline, and the
playbook's tasks.

The match's actions run in a task handed over after the evaluation commits;
the test settings run tasks in-process (CELERY_TASK_ALWAYS_EAGER), in the
live server's thread, so the record exists when "Evaluate now" answers."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Segment
from risks.models import RiskRecord, RootCause, StepOwner
from rules.evaluation import SYSTEM_USERNAME
from rules.models import Rule, RuleMatch
from tests import factories
from tests.rules.conftest import scored

from .conftest import sign_in, sign_out

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]

RULE_NAME = "Red enterprise renewing soon"


@pytest.fixture
def scene():
    today = timezone.localdate()
    region = factories.RegionFactory(code="EMEA", name="Europe")
    manager = factories.ManagerFactory(
        username="maria", first_name="Maria", last_name="Schneider", region=region
    )
    csm = factories.CsmFactory(
        username="carl", first_name="Carl", last_name="Jensen", manager=manager, region=region
    )
    factories.AdminFactory(username="ada", first_name="Ada", last_name="Ops")
    enterprise = Segment.objects.get(code="enterprise")
    smb = Segment.objects.get(code="smb")
    accounts = {}
    for name, segment, band, score in [
        ("Northwind Logistics", enterprise, "red", 31),  # the one the rule matches
        ("Contoso Retail", smb, "red", 28),  # red, in another segment
        ("Fabrikam Foods", enterprise, "green", 82),  # in the segment, healthy
    ]:
        account = factories.AccountFactory(
            name=name,
            segment=segment,
            csm=csm,
            region=region,
            arr=Decimal("240000"),
            renewal_date=today + dt.timedelta(days=120),
        )
        scored(account, today, score, band)
        accounts[name] = account
    playbook = factories.PlaybookFactory(
        name="Low usage play", root_cause=RootCause.objects.get(code="low-usage")
    )
    for position, (title, owner, days) in enumerate(
        [
            ("Usage review with the champion", StepOwner.CSM, 5),
            ("Manager call with the sponsor", StepOwner.MANAGER, 10),
            ("Training plan for the new team", StepOwner.CSM, 20),
        ],
        start=1,
    ):
        factories.PlaybookStepFactory(
            playbook=playbook, position=position, title=title, owner=owner, due_days=days
        )
    return accounts


def test_an_admin_builds_previews_activates_and_evaluates_a_rule_and_the_csm_finds_the_record(
    page, scene
):
    northwind = scene["Northwind Logistics"]
    renews = f"{northwind.renewal_date:%-d %b %Y}"

    # --- the admin builds the rule from the menus -------------------------------------------
    sign_in(page, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rules").click()
    expect(page.get_by_role("heading", name="Risk rules", exact=True)).to_be_visible()
    page.get_by_role("link", name="New rule").click()
    expect(page.get_by_role("heading", name="New risk rule")).to_be_visible()

    page.get_by_label("Name").fill(RULE_NAME)
    page.get_by_label("Segment").select_option(label="Enterprise")

    first = page.get_by_role("group", name="Condition 1")
    first.get_by_label("Type").select_option(label="Health band is")
    # Only the parameters the type takes are shown (static/js/rules.js).
    expect(first.get_by_label("Band")).to_be_visible()
    expect(first.get_by_label("Measure")).to_be_hidden()
    expect(first.get_by_label("Days")).to_be_hidden()
    first.get_by_label("Band").select_option(label="Red")

    second = page.get_by_role("group", name=re.compile("^Condition 2"))
    expect(second.get_by_label("Days")).to_be_hidden()
    second.get_by_label("Type").select_option(label="Renewal within")
    expect(second.get_by_label("Days")).to_be_visible()
    expect(second.get_by_label("Band")).to_be_hidden()
    second.get_by_label("Days").fill("180")

    page.get_by_label("Open a tier-1 risk record").check()
    page.get_by_label("Primary cause").select_option(label="Low usage")

    # --- the preview comes back in place, without saving ----------------------------------
    page.evaluate("window.__noReload = true")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#rule-preview")
    expect(preview).to_contain_text("1 account matches")
    expect(preview).to_contain_text("Northwind Logistics")
    expect(preview).to_contain_text("Health is red (score 31).")
    expect(preview).to_contain_text(f"Renews on {renews}, within 180 days.")
    expect(preview).not_to_contain_text("Contoso Retail")
    expect(preview).not_to_contain_text("Fabrikam Foods")
    assert page.evaluate("window.__noReload") is True
    assert not Rule.objects.exists()
    # The swapped editor keeps what was chosen, and hides what the types do not take.
    expect(second.get_by_label("Days")).to_have_value("180")
    expect(first.get_by_label("Measure")).to_be_hidden()

    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("heading", name=RULE_NAME)).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("It is off")
    rule = Rule.objects.get()
    assert rule.conditions == [
        {"type": "band_is", "band": "red"},
        {"type": "renewal_within", "days": 180},
    ]
    assert rule.active is False
    expect(page.locator("#preview")).to_contain_text("Northwind Logistics")

    # --- switched on, then evaluated now -----------------------------------------------------
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("status").first).to_contain_text("is on")
    expect(page.get_by_role("button", name="Deactivate")).to_be_visible()

    page.get_by_role("link", name="Risk rules").click()
    page.evaluate("window.__noReload = true")
    page.get_by_role("button", name="Evaluate now").click()
    expect(page.get_by_role("status").first).to_contain_text(
        "Evaluated 1 active rule", timeout=20_000
    )
    expect(page.get_by_role("status").first).to_contain_text("1 new match")
    row = page.locator(f'tr[data-rule="{rule.pk}"]')
    expect(row.locator("td.num").last).to_have_text("1")
    assert page.evaluate("window.__noReload") is True
    match = RuleMatch.objects.get()
    assert match.account == northwind
    risk = RiskRecord.objects.get(account=northwind)
    assert risk.opened_by.username == SYSTEM_USERNAME
    assert not RiskRecord.objects.exclude(account=northwind).exists()
    sign_out(page)

    # --- the CSM finds the record on the account ---------------------------------------------
    sign_in(page, "carl")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    page.get_by_role("link", name="Northwind Logistics", exact=True).click()
    holding = page.locator("#rules-holding")
    expect(holding).to_contain_text("Risk rules holding now")
    expect(holding.get_by_role("link", name=RULE_NAME)).to_be_visible()
    expect(holding).to_contain_text("Health is red (score 31).")
    expect(holding).to_contain_text(f"Renews on {renews}, within 180 days.")
    expect(page.locator("main")).to_contain_text("Tier 1")

    holding.get_by_role("link", name=f"risk record #{risk.pk}").click()
    expect(page.get_by_role("heading", name="Northwind Logistics")).to_be_visible()
    story = page.locator(".story-card")
    expect(story).to_contain_text(f"The rule \u201c{RULE_NAME}\u201d matched Northwind Logistics")
    expect(story).to_contain_text("Health is red (score 31).")
    expect(story).to_contain_text("Low usage")
    timeline = page.locator("#timeline-panel")
    expect(timeline).to_contain_text("Filed at tier 1 by the risk rule")
    expect(timeline.get_by_role("link", name=RULE_NAME)).to_be_visible()
    tasks = page.locator("#risk-tasks")
    expect(tasks).to_contain_text("3 open")
    expect(tasks).to_contain_text("Usage review with the champion")
    expect(tasks).to_contain_text("Manager call with the sponsor")
    expect(tasks).to_contain_text("Maria Schneider")

    # The CSM reads the rule, and may not change it.
    timeline.get_by_role("link", name=RULE_NAME).click()
    expect(page.get_by_role("heading", name=RULE_NAME)).to_be_visible()
    expect(page.locator("#matches")).to_contain_text("Holding")
    expect(page.get_by_role("button", name="Deactivate")).to_have_count(0)
    assert page.console_errors == []
