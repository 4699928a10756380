"""Who may do what (docs/domain.md), as a table: role by action → allowed or refused.

Each cell runs the real service on a fresh record; "allowed" means the service
succeeded, "refused" means it raised NotAllowed and wrote nothing."""

from __future__ import annotations

import pytest

from core.exceptions import NotAllowed
from risks import services
from risks.models import RiskRecord, RootCause, TimelineEvent
from tests import factories

pytestmark = pytest.mark.django_db

ROLES = ["owning_csm", "other_csm", "team_manager", "other_manager", "reviewer", "admin"]

# action → the roles allowed to do it; every other role is refused.
ALLOWED = {
    "file": {"owning_csm", "team_manager", "admin"},
    "edit": {"owning_csm", "team_manager", "admin"},
    "note": {"owning_csm", "team_manager", "admin"},
    "request_escalation": {"owning_csm", "team_manager", "admin"},
    "approve": {"team_manager", "admin"},
    "reject": {"team_manager", "admin"},
    "deescalate": {"team_manager", "admin"},
    "close": {"owning_csm", "team_manager", "admin"},
}


@pytest.fixture
def people(csm, manager, other_csm, other_manager, reviewer, admin_user):
    return {
        "owning_csm": csm,
        "other_csm": other_csm,
        "team_manager": manager,
        "other_manager": other_manager,
        "reviewer": reviewer,
        "admin": admin_user,
    }


def _open(csm, account) -> RiskRecord:
    return services.risk_open(
        user=csm,
        account=account,
        primary_cause=RootCause.objects.get(code="low-usage"),
        summary="Usage down.",
        next_steps="Call.",
    )


def _prepare(action: str, people, account):
    """Set the stage as the owning CSM and the manager would, and return the
    action for the user under test."""
    csm, manager = people["owning_csm"], people["team_manager"]
    cause = RootCause.objects.get(code="low-usage")
    if action == "file":
        return lambda user: services.risk_open(
            user=user, account=account, primary_cause=cause, summary="s", next_steps="n"
        )
    risk = _open(csm, account)
    if action == "edit":
        return lambda user: services.risk_edit(user=user, risk=risk, version=1, summary="New.")
    if action == "note":
        return lambda user: services.risk_add_note(user=user, risk=risk, text="A note.")
    if action == "request_escalation":
        return lambda user: services.escalation_request(user=user, risk=risk, reason="Why.")
    if action in ("approve", "reject"):
        escalation = services.escalation_request(user=csm, risk=risk, reason="Why.")
        if action == "approve":
            return lambda user: services.escalation_approve(user=user, escalation=escalation)
        return lambda user: services.escalation_reject(user=user, escalation=escalation, note="No.")
    if action == "deescalate":
        services.escalation_request(user=manager, risk=risk, reason="Up.")
        return lambda user: services.risk_deescalate(user=user, risk=risk, to_tier=1, note="Down.")
    if action == "close":
        return lambda user: services.risk_close(
            user=user, risk=risk, outcome="saved", note="Renewed."
        )
    raise AssertionError(action)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ALLOWED))
def test_permission_table(action, role, people, account):
    act = _prepare(action, people, account)
    records, events = RiskRecord.objects.count(), TimelineEvent.objects.count()
    if role in ALLOWED[action]:
        act(people[role])
        assert TimelineEvent.objects.count() > events
    else:
        with pytest.raises(NotAllowed):
            act(people[role])
        assert (RiskRecord.objects.count(), TimelineEvent.objects.count()) == (records, events)


def test_a_superuser_acts_as_an_admin(account):
    root = factories.UserFactory(username="root", role="reviewer", is_superuser=True)
    risk = _open(account.csm, account)
    escalation = services.escalation_request(user=account.csm, risk=risk, reason="Why.")
    assert services.escalation_approve(user=root, escalation=escalation).status == "approved"
