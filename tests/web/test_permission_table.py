"""Every page and action of the web UI, for every role: allowed, refused (403),
or sent to sign in. Each cell runs on fresh data."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from risks import services
from risks.models import RiskRecord, RootCause, TimelineEvent
from rules import services as rule_services
from rules.models import Rule, RuleMatch
from tests import factories
from tests.rules.conftest import scored

pytestmark = pytest.mark.django_db

ROLES = [
    "anonymous",
    "owning_csm",
    "other_csm",
    "team_manager",
    "other_manager",
    "reviewer",
    "admin",
]
EVERYONE = set(ROLES) - {"anonymous"}
WORKERS = {"owning_csm", "team_manager", "admin"}
DECIDERS = {"team_manager", "admin"}
FILERS = {"owning_csm", "other_csm", "team_manager", "other_manager", "admin"}
ADMINS = {"admin"}

# (name, method, allowed roles, status when allowed)
CELLS = [
    ("home", "get", EVERYONE, 200),
    ("risk_list", "get", EVERYONE, 200),
    ("risk_export", "get", EVERYONE, 200),
    ("risk_detail", "get", EVERYONE, 200),
    ("account_list", "get", EVERYONE, 200),
    ("account_detail", "get", EVERYONE, 200),
    ("password_change", "get", EVERYONE, 200),
    ("profile", "get", EVERYONE, 200),
    ("file_form", "get", FILERS, 200),
    ("file_submit", "post", WORKERS, 302),
    # Every manager has a queue (their own team's); CSMs and reviewers have none.
    ("approval_queue", "get", {"team_manager", "other_manager", "admin"}, 200),
    ("edit_form", "get", WORKERS, 200),
    ("edit_submit", "post", WORKERS, 302),
    ("note", "post", WORKERS, 302),
    ("escalate", "post", WORKERS, 302),
    ("deescalate", "post", DECIDERS, 302),
    ("close", "post", WORKERS, 302),
    ("approve", "post", DECIDERS, 302),
    ("reject", "post", DECIDERS, 302),
    ("my_tasks", "get", EVERYONE, 200),
    ("task_add", "post", WORKERS, 302),
    # The owner of the task is the owning CSM; the reviewer's department has no task here.
    ("task_done", "post", WORKERS, 302),
    # Everyone reads the risk rules; only admins write or evaluate them.
    ("rule_list", "get", EVERYONE, 200),
    ("rule_detail", "get", EVERYONE, 200),
    ("rule_new_form", "get", ADMINS, 200),
    ("rule_new_submit", "post", ADMINS, 302),
    ("rule_preview", "post", ADMINS, 200),
    ("rule_edit_form", "get", ADMINS, 200),
    ("rule_edit_submit", "post", ADMINS, 302),
    ("rule_activate", "post", ADMINS, 302),
    ("rule_delete", "post", ADMINS, 302),
    ("rule_evaluate", "post", ADMINS, 302),
]
RULE_CELLS = {cell[0] for cell in CELLS if cell[0].startswith("rule_")}


@pytest.fixture
def people(csm, other_csm, manager, other_manager, reviewer, admin_user):
    return {
        "owning_csm": csm,
        "other_csm": other_csm,
        "team_manager": manager,
        "other_manager": other_manager,
        "reviewer": reviewer,
        "admin": admin_user,
    }


@pytest.fixture
def scene(people, account):
    """An account with an open tier-2 record and a pending escalation to tier 3."""
    csm, manager = people["owning_csm"], people["team_manager"]
    risk = services.risk_open(
        user=csm,
        account=account,
        primary_cause=RootCause.objects.get(code="low-usage"),
        summary="Usage fell.",
        next_steps="Call the sponsor.",
    )
    services.escalation_request(user=manager, risk=risk, reason="Manager help.")
    escalation = services.escalation_request(user=csm, risk=risk, reason="Needs review.")
    risk.refresh_from_db()
    spare = factories.AccountFactory(csm=csm, region=account.region)
    task = factories.TaskFactory(risk=risk, title="Usage review", owner=csm)
    # An inactive rule that never matched, and an active one the spare
    # account (red today) is about to match.
    admin = people["admin"]
    low_usage = RootCause.objects.get(code="low-usage")
    scored(spare, timezone.localdate(), 30, "red")
    rule = rule_services.rule_create(user=admin, values=_rule_values(low_usage, "Quiet rule"))
    active = rule_services.rule_create(
        user=admin, values={**_rule_values(low_usage, "Red accounts"), "active": True}
    )
    return {
        "risk": risk,
        "escalation": escalation,
        "spare_account": spare,
        "task": task,
        "rule": rule,
        "active_rule": active,
    }


def _rule_values(cause: RootCause, name: str) -> dict:
    return {
        "name": name,
        "conditions": [{"type": "band_is", "band": "red"}],
        "actions": ["open_risk"],
        "primary_cause": cause,
    }


def _rule_form(cause: RootCause, **fields) -> dict:
    return {
        "name": "Red and renewing",
        "primary_cause": cause.pk,
        "actions": ["open_risk"],
        "c1_type": "band_is",
        "c1_band": "red",
        "c2_type": "renewal_within",
        "c2_days": "90",
        **fields,
    }


def _rules_state() -> tuple:
    return (
        tuple(Rule.objects.order_by("pk").values_list("pk", "name", "active", "version")),
        RuleMatch.objects.count(),
    )


def _request(client, name: str, method: str, scene) -> object:
    risk, escalation, rule = scene["risk"], scene["escalation"], scene["rule"]
    low_usage = RootCause.objects.get(code="low-usage")
    targets = {
        "home": (reverse("home"), {}),
        "risk_list": (reverse("risks:list"), {}),
        "risk_export": (reverse("risks:export"), {}),
        "risk_detail": (reverse("risks:detail", args=[risk.pk]), {}),
        "account_list": (reverse("customer_accounts:list"), {}),
        "account_detail": (reverse("customer_accounts:detail", args=[risk.account_id]), {}),
        "password_change": (reverse("password_change"), {}),
        "profile": (reverse("profile"), {}),
        "file_form": (reverse("risks:file"), {}),
        "file_submit": (
            reverse("risks:file"),
            {
                "account": scene["spare_account"].pk,
                "primary_cause": low_usage.pk,
                "summary": "Another risk.",
                "next_steps": "A plan.",
            },
        ),
        "approval_queue": (reverse("risks:approvals"), {}),
        "edit_form": (reverse("risks:edit", args=[risk.pk]), {}),
        "edit_submit": (
            reverse("risks:edit", args=[risk.pk]),
            {
                "primary_cause": low_usage.pk,
                "summary": "Edited summary.",
                "next_steps": risk.next_steps,
                "arr_at_risk": str(risk.arr_at_risk),
                "version": risk.version,
            },
        ),
        "note": (reverse("risks:note", args=[risk.pk]), {"text": "A note."}),
        "escalate": (reverse("risks:escalate", args=[risk.pk]), {"reason": "x"}),
        "deescalate": (
            reverse("risks:deescalate", args=[risk.pk]),
            {"to_tier": 1, "note": "Recovered.", "version": risk.version},
        ),
        "close": (
            reverse("risks:close", args=[risk.pk]),
            {"outcome": "saved", "note": "Renewed.", "version": risk.version},
        ),
        "approve": (reverse("risks:approve", args=[escalation.pk]), {"note": ""}),
        "reject": (reverse("risks:reject", args=[escalation.pk]), {"note": "Not yet."}),
        "my_tasks": (reverse("tasks:index"), {}),
        "task_add": (
            reverse("risks:task_add", args=[risk.pk]),
            {"title": "Send the quote", "owner": risk.account.csm_id, "due_date": "2030-01-31"},
        ),
        "task_done": (reverse("tasks:done", args=[scene["task"].pk]), {"done": "1"}),
        "rule_list": (reverse("rules:index"), {}),
        "rule_detail": (reverse("rules:detail", args=[rule.pk]), {}),
        "rule_new_form": (reverse("rules:new"), {}),
        "rule_new_submit": (reverse("rules:new"), _rule_form(low_usage)),
        "rule_preview": (reverse("rules:new"), _rule_form(low_usage, intent="preview")),
        "rule_edit_form": (reverse("rules:edit", args=[rule.pk]), {}),
        "rule_edit_submit": (
            reverse("rules:edit", args=[rule.pk]),
            _rule_form(low_usage, name="Quiet rule, renamed", version=rule.version),
        ),
        "rule_activate": (
            reverse("rules:active", args=[rule.pk]),
            {"active": "1", "version": rule.version},
        ),
        "rule_delete": (reverse("rules:delete", args=[rule.pk]), {}),
        "rule_evaluate": (reverse("rules:evaluate"), {}),
    }
    url, data = targets[name]
    return getattr(client, method)(url, data)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "method", "allowed", "status"), CELLS, ids=[c[0] for c in CELLS])
def test_role_can_or_cannot(client, people, scene, role, name, method, allowed, status):
    if role != "anonymous":
        client.force_login(people[role])
    if name == "escalate":
        # Escalating needs no pending escalation; clear it as the owner's manager would.
        services.escalation_reject(
            user=people["team_manager"], escalation=scene["escalation"], note="Later."
        )
    records, events = RiskRecord.objects.count(), TimelineEvent.objects.count()
    rules = _rules_state()

    response = _request(client, name, method, scene)

    if role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    elif role in allowed:
        assert response.status_code == status, response.content.decode()[:500]
        if name == "rule_preview":
            assert _rules_state() == rules  # a preview saves nothing
        elif method == "post" and name in RULE_CELLS:
            assert _rules_state() != rules
        elif method == "post":
            assert TimelineEvent.objects.count() > events
    else:
        assert response.status_code == 403
        assert (RiskRecord.objects.count(), TimelineEvent.objects.count()) == (records, events)
        assert _rules_state() == rules
