"""Accessibility: axe-core's WCAG 2.1 A and AA rules on every page of the app,
as each role, on the demo data (records at every tier, closed records, health
history, playbook tasks, each region's agenda) plus review notes and action
items on the agenda.

Every page of the URL patterns (``config/urls.py`` and the apps' url modules)
is visited: the home page, the risk list (plain, filtered, with a filter
error), the filing form (empty, after a submit with errors, after an account
search), a risk record (open with a pending escalation, closed, on the agenda,
after an escalation, a note or a task was refused), its edit page, the approval
queue (as it is, after a refused rejection, after an approval) and the reject
page, the customer accounts list and an account, the Health page (plain,
filtered, with a filter error), My tasks (as it is, after a task is marked
done), the reviews (the choice of regions, an agenda week with notes and action
items, after a refused note), the three reports (and one with a filter error),
the three learning reports on the demo's renewals (health calibration plain,
filtered and with a filter error; program effectiveness; flag coverage),
the import pages (admin: the list, the upload form with and without errors, a
job with errors and a job ready to import, the renewals' and the accounts'
upload forms), the risk rules (the list, a rule, its backtest and a refused
backtest, an account with a rule holding; admin: the editor empty, with
errors, with a preview, with a refused preview and with a backtest, a saved
rule's editor, and the list after "evaluate now"), the password change (with
errors)
and its done page, the profile, the sign-in page (with errors), the 403 page,
the 404 page and the 500 page. Each page is checked with its ``<details>`` opened, so the
folded forms are checked too; a few pages again at a 390 px wide viewport.

Left out: the Django admin (``/admin/``) and Swagger UI (``/api/docs/``) are
third-party pages; the CSV downloads, the calendar invite, the API and the
POST-only endpoints (note, task, escalate, approve, mark done, generate, start
an import …) are not pages (their answers are the pages above, re-rendered).

The demo (about fifteen seconds to write) is seeded once, so the whole sweep is
one test: each role gets one browser page, and every problem found on every
page is listed before the test fails. (A module-scoped seed shared by several
tests does not fit the fixtures: the live server's transactional database is
flushed after each test.) axe.min.js (``make test`` installs it with npm,
pinned in ``tests/browser/axe/``) is injected by Playwright; the app never
serves it.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from .conftest import sign_in

pytestmark = [pytest.mark.browser]

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PASSWORD = "demo"
ESCALATE = re.compile("^(Request escalation|Escalate)")
ROLES = ["anonymous", "csm", "manager", "reviewer", "admin"]
MOBILE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@dataclass
class Visit:
    """One page to check: where to go, the status it must answer with, and
    what to do there before the check (submit a form empty …)."""

    name: str
    path: str
    status: int = 200
    then: Callable[[Page], None] | None = None
    mobile: bool = False


# --- the seeded site -------------------------------------------------------------


def _seed() -> dict[str, Any]:
    """The demo, review notes and action items on the EMEA agenda, and two
    import jobs (one with errors, one ready); the ids the pages need."""
    from django.apps import apps
    from django.utils import timezone

    from accounts.models import User
    from core.import_jobs import import_job_create
    from core.models import ImportJob, ImportStatus
    from demo.data import seed_demo
    from reviews.models import Agenda
    from reviews.services import action_item_add, review_note_add
    from risks.models import EscalationStatus, RiskRecord, RiskStatus, RootCause, Tier
    from rules.models import Rule, RuleMatch
    from rules.services import rule_create

    importlib.import_module("accounts.migrations.0002_seed_segments").seed(apps, None)
    importlib.import_module("risks.migrations.0002_seed_root_causes").seed(apps, None)
    importlib.import_module("health.migrations.0002_seed_scorecard").seed(apps, None)
    seed_demo()

    users = {user.username: user for user in User.objects.filter(username__in=ROLES)}
    csm, reviewer, admin = users["csm"], users["reviewer"], users["admin"]
    mine = RiskRecord.objects.filter(account__csm=csm)
    pending = mine.filter(
        status=RiskStatus.OPEN,
        escalations__status=EscalationStatus.PENDING,
        escalations__to_tier=Tier.MANAGER,
    ).first()
    assert pending is not None, "the demo gives the CSM a record waiting for tier 2"
    quiet = mine.filter(status=RiskStatus.OPEN, tier=Tier.CSM).exclude(pk=pending.pk).first()
    assert quiet is not None, "the demo gives the CSM a tier 1 record with no escalation"
    closed = mine.exclude(status=RiskStatus.OPEN).first()
    assert closed is not None, "the demo gives the CSM a closed record"

    agenda = Agenda.objects.get(region=csm.region)
    items = list(agenda.items.select_related("risk").order_by("pk"))
    today = timezone.localdate()
    due, yesterday = today + dt.timedelta(days=7), today - dt.timedelta(days=1)
    for n, item in enumerate(items[:2]):
        review_note_add(
            user=reviewer,
            item=item,
            text=f"Sponsor meeting booked; legal reviews the renewal terms ({n + 1}).",
        )
        action_item_add(
            user=reviewer,
            item=item,
            description="Send the recovery plan to the sponsor\nWith the usage figures.",
            owner=item.risk.account.csm,
            department="support",
            due_date=due,
        )

    for name, text in [
        ("broken.csv", "account_external_id,measure,observed_on,value\nNOPE,nope,2025-13-01,x\n"),
        (
            "good.csv",
            f"account_external_id,measure,observed_on,value\nDEMO-0001,csat,{yesterday},80\n",
        ),
    ]:
        import_job_create(user=admin, kind="observations", filename=name, chunks=[text.encode()])
    jobs = {job.filename: job for job in ImportJob.objects.all()}
    assert jobs["broken.csv"].status == ImportStatus.INVALID, jobs["broken.csv"].errors
    assert jobs["good.csv"].status == ImportStatus.READY, jobs["good.csv"].errors

    # A rule with matches (the demo's, else one made here) and an account it holds for.
    rule = Rule.objects.filter(matches__isnull=False).first() or Rule.objects.first()
    if rule is None:
        rule = rule_create(
            user=admin,
            values={
                "name": "Red health anywhere",
                "conditions": [{"type": "band_is", "band": "red"}],
                "actions": ["open_risk", "notify"],
                "primary_cause": RootCause.objects.filter(active=True).first(),
            },
        )
    holding = RuleMatch.objects.filter(cleared_at__isnull=True).first()
    return {
        "rule": rule.pk,
        "rule_account": holding.account_id if holding else pending.account_id,
        "pending": pending.pk,
        "escalation": pending.escalations.get(status=EscalationStatus.PENDING).pk,
        "quiet": quiet.pk,
        "closed": closed.pk,
        "account": pending.account_id,
        "agenda": f"/reviews/{agenda.region.code}/{agenda.week_start.isoformat()}/",
        "agenda_risk": items[0].risk_id,
        "job_invalid": jobs["broken.csv"].pk,
        "job_ready": jobs["good.csv"].pk,
    }


# --- axe ------------------------------------------------------------------------

OPEN_DETAILS = "() => document.querySelectorAll('details').forEach((d) => { d.open = true; })"

RUN_AXE = """(tags) => axe.run(document, {
  runOnly: {type: 'tag', values: tags},
  resultTypes: ['violations'],
})"""


def audit(page: Page, where: str) -> list[str]:
    """axe's violations on the page as it is now, one line per violation."""
    page.evaluate(OPEN_DETAILS)
    result = page.evaluate(RUN_AXE, AXE_TAGS)
    problems = []
    for violation in result["violations"]:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        shown = "; ".join(targets[:3]) + (
            f" (+{len(targets) - 3} more)" if len(targets) > 3 else ""
        )
        problems.append(
            f"{where}: {violation['id']} ({violation['impact']}) {violation['help']} -> {shown}"
        )
    return problems


# --- the pages ------------------------------------------------------------------


def submit_first_form(page: Page) -> None:
    """Submit the page's main form as it is (empty): the page comes back with errors."""
    form = page.locator("main form[method=post]").first
    form.evaluate("(form) => { form.noValidate = true; }")
    with page.expect_navigation():
        form.locator("[type=submit]").first.click()


def refuse(summary: str | re.Pattern, button: str | re.Pattern) -> Callable[[Page], None]:
    """Open the folded form under `summary` and send it empty: it comes back
    (reloaded or swapped in by htmx) with its errors."""

    def then(page: Page) -> None:
        details = page.locator("details", has=page.locator("summary", has_text=summary)).first
        details.locator("summary").click()
        form = details.locator("form")
        form.evaluate("(form) => { form.noValidate = true; }")
        form.get_by_role("button", name=button).click()
        details.locator(".field-invalid, .form-errors, .field-error").first.wait_for()

    return then


def decide(button: str) -> Callable[[Page], None]:
    """Decide the first escalation of the queue (htmx swaps its row)."""

    def then(page: Page) -> None:
        row = page.locator("tr.approval-row").first
        row.get_by_role("button", name=re.compile(f"^{button}")).click()
        row.locator(".approval-outcome").wait_for()

    return then


def mark_first_task_done(page: Page) -> None:
    page.get_by_role("button", name=re.compile("^Mark done")).first.click()
    page.get_by_role("button", name=re.compile("^Reopen")).first.wait_for()


def preview_rule(band: str) -> Callable[[Page], None]:
    """Choose the first condition's band (empty: none) and ask for the
    editor's preview: htmx swaps the editor with the preview, or the errors."""

    def then(page: Page) -> None:
        row = page.get_by_role("group", name="Condition 1")
        row.get_by_label("Band").select_option(value=band)
        page.get_by_role("button", name="Preview").click()
        page.locator("#preview-count, #rule-editor .error-summary").first.wait_for()

    return then


def backtest_rule(page: Page) -> None:
    """Choose red for the first condition and ask for the editor's backtest."""
    row = page.get_by_role("group", name="Condition 1")
    row.get_by_label("Band").select_option(value="red")
    page.get_by_role("button", name="Backtest").click()
    page.locator("#backtest-summary, #rule-editor .error-summary").first.wait_for()


def evaluate_now(page: Page) -> None:
    page.get_by_role("button", name="Evaluate now").click()
    page.get_by_role("status").filter(has_text="evaluated").first.wait_for()


def sign_in_wrongly(page: Page) -> None:
    page.get_by_label("Username").fill("csm")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.locator(".form-errors, .error-summary").first.wait_for()


def visits(role: str, p: dict[str, Any]) -> list[Visit]:
    if role == "anonymous":
        return [
            Visit("sign-in", "/login/", mobile=True),
            Visit("sign-in with errors", "/login/", then=sign_in_wrongly),
            Visit("404", "/no-such-page/", status=404),
        ]
    pages = [
        Visit("home", "/", mobile=True),
        Visit("risk list", "/risks/", mobile=True),
        Visit("risk list filtered", "/risks/?status=open&tier=2&opened_after=2020-01-01"),
        Visit("risk list filter error", "/risks/?opened_after=someday"),
        Visit("risk open, escalation pending", f"/risks/{p['pending']}/", mobile=True),
        Visit("risk closed", f"/risks/{p['closed']}/"),
        Visit("risk on the agenda", f"/risks/{p['agenda_risk']}/"),
        Visit("accounts", "/accounts/", mobile=True),
        Visit("account", f"/accounts/{p['account']}/", mobile=True),
        Visit("health", "/health/", mobile=True),
        Visit("health filtered", "/health/?region=EMEA&segment=enterprise"),
        Visit("health filter error", "/health/?region=nowhere", status=400),
        Visit("my tasks", "/tasks/", mobile=True),
        Visit("review tasks", "/tasks/?source=review&scope=all"),
        Visit("reviews", "/reviews/"),
        Visit("agenda", p["agenda"], mobile=True),
        Visit("outcomes report", "/risks/reports/"),
        Visit("open risk report", "/risks/reports/open-risk/", mobile=True),
        Visit("trend report", "/risks/reports/trend/"),
        Visit("report filter error", "/risks/reports/?closed_after=someday", status=400),
        Visit("health calibration", "/risks/reports/health-calibration/", mobile=True),
        Visit(
            "health calibration filtered",
            "/risks/reports/health-calibration/?days_before=30&region=EMEA",
        ),
        Visit(
            "health calibration filter error",
            "/risks/reports/health-calibration/?days_before=999",
            status=400,
        ),
        Visit("program effectiveness", "/risks/reports/program-effectiveness/", mobile=True),
        Visit("flag coverage", "/risks/reports/flag-coverage/", mobile=True),
        Visit("rules", "/rules/", mobile=True),
        Visit("rule", f"/rules/{p['rule']}/", mobile=True),
        Visit("rule backtest", f"/rules/{p['rule']}/backtest/?months=12", mobile=True),
        Visit("rule backtest refused", f"/rules/{p['rule']}/backtest/?months=99", status=400),
        Visit("account with a rule holding", f"/accounts/{p['rule_account']}/"),
        Visit("password change", "/password/"),
        Visit("password change with errors", "/password/", status=200, then=submit_first_form),
        Visit("password changed", "/password/done/"),
        Visit("profile", "/profile/", mobile=True),
        Visit("404", "/no-such-page/", status=404),
    ]
    if role in ("csm", "manager", "admin"):
        pages += [
            Visit("file a risk", "/risks/new/", mobile=True),
            Visit("file a risk with errors", "/risks/new/", then=submit_first_form),
            Visit("file a risk, account search", "/risks/new/?q=a"),
            Visit("edit", f"/risks/{p['pending']}/edit/"),
            Visit("escalation refused", f"/risks/{p['quiet']}/", then=refuse(ESCALATE, ESCALATE)),
            Visit("note refused", f"/risks/{p['quiet']}/", then=refuse("Add a note", "Add note")),
            Visit("task refused", f"/risks/{p['quiet']}/", then=refuse("Add a task", "Add task")),
        ]
    if role in ("manager", "admin"):
        pages += [
            Visit("approvals", "/risks/approvals/", mobile=True),
            Visit("reject", f"/risks/escalations/{p['escalation']}/reject/"),
            Visit("rejection refused", "/risks/approvals/", then=refuse("Reject", "Reject")),
        ]
    else:
        pages.append(Visit("403", "/risks/approvals/", status=403))
    if role != "admin":
        pages.append(Visit("rule editor refused", "/rules/new/", status=403))
    if role == "reviewer":
        pages.append(
            Visit("agenda note refused", p["agenda"], then=refuse("Add a note", "Add note"))
        )
    if role == "admin":
        pages += [
            Visit("imports", "/imports/"),
            Visit("import upload", "/imports/observations/"),
            Visit("import upload with errors", "/imports/observations/", then=submit_first_form),
            Visit("import job with errors", f"/imports/observations/{p['job_invalid']}/"),
            Visit("import job, ready", f"/imports/observations/{p['job_ready']}/"),
            Visit("renewals upload", "/imports/renewals/"),
            Visit("accounts upload", "/imports/accounts/"),
            Visit("new rule", "/rules/new/", mobile=True),
            Visit("new rule with errors", "/rules/new/", then=submit_first_form),
            Visit("new rule, preview", "/rules/new/", then=preview_rule("red")),
            Visit("new rule, refused preview", "/rules/new/", then=preview_rule("")),
            Visit("new rule, backtest", "/rules/new/", then=backtest_rule),
            Visit("edit rule", f"/rules/{p['rule']}/edit/"),
            # Last: they change what the pages above show.
            Visit("approvals after a decision", "/risks/approvals/", then=decide("Approve")),
            Visit("rules after evaluate now", "/rules/", then=evaluate_now),
        ]
    if role == "csm":
        pages.append(Visit("my tasks after one is done", "/tasks/", then=mark_first_task_done))
    return pages


def new_page(browser, base_url: str, axe_script: Path, viewport: dict[str, int]) -> Page:
    """A page of its own browser context, with axe in every document it loads:
    an init script goes in through the DevTools protocol, so the page keeps its
    strict Content-Security-Policy (a <script> tag added to it would be refused)."""
    context = browser.new_context(base_url=base_url, viewport=viewport)
    context.add_init_script(path=axe_script)
    context.set_default_timeout(15_000)
    return context.new_page()


def check(page: Page, role: str, visit: Visit) -> list[str]:
    response = page.goto(visit.path)
    assert response is not None
    where = f"{visit.name} ({visit.path}) as {role}"
    if response.status != visit.status:
        return [f"{where}: answered {response.status}, expected {visit.status}"]
    if visit.then is not None:
        visit.then(page)
    return audit(page, where)


def sweep(browser, base_url, axe_script, role, paths, *, mobile: bool = False) -> list[str]:
    """Every page of the role (at 390 px: the few marked for it) on one browser page."""
    page = new_page(browser, base_url, axe_script, MOBILE if mobile else DESKTOP)
    try:
        if role != "anonymous":
            sign_in(page, role, PASSWORD)
        return [
            problem
            for visit in visits(role, paths)
            if visit.mobile or not mobile
            for problem in check(page, f"{role} at 390 px" if mobile else role, visit)
        ]
    finally:
        page.context.close()


def server_error_page(browser, base_url, axe_script) -> list[str]:
    """The 500 page as the handler renders it (no URL of the app fails on purpose)."""
    from django.test import RequestFactory

    from config.views import server_error

    html = server_error(RequestFactory().get("/")).content.decode()
    page = new_page(browser, base_url, axe_script, DESKTOP)
    try:
        page.route(
            "**/server-error/",
            lambda route: route.fulfill(status=500, body=html, content_type="text/html"),
        )
        return check(page, "anonymous", Visit("500", "/server-error/", status=500))
    finally:
        page.context.close()


def test_axe_finds_what_it_should(browser, axe_script):
    """The harness itself: on a page with known faults axe runs and reports them,
    so a clean sweep below means clean pages, not a check that never ran."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(
            '<!doctype html><html lang="en"><title>Faults</title><main><h1>Faults</h1>'
            '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input type="text">'
            "</main></html>"
        )
        page.add_script_tag(path=str(axe_script))
        found = {line.split(": ", 1)[1].split(" ", 1)[0] for line in audit(page, "faults")}
    finally:
        context.close()
    assert {"image-alt", "label"} <= found, found


@pytest.mark.django_db(transaction=True)
def test_every_page_as_every_role_passes_axe(browser, live_server, axe_script):
    paths = _seed()
    problems = []
    for role in ROLES:
        problems += sweep(browser, live_server.url, axe_script, role, paths)
    for role in ("anonymous", "csm", "manager"):
        problems += sweep(browser, live_server.url, axe_script, role, paths, mobile=True)
    problems += server_error_page(browser, live_server.url, axe_script)
    assert not problems, f"{len(problems)} accessibility problems:\n" + "\n".join(problems)
