"""Every workflow rule (docs/domain.md), through the service layer."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.exceptions import Conflict, InvalidInput, NotAllowed
from core.money import MONEY_MESSAGE
from risks import services
from risks.models import (
    Escalation,
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    RootCause,
    TimelineEvent,
    TimelineKind,
)
from tests import factories

pytestmark = pytest.mark.django_db


def open_risk(user, account, cause, **kwargs) -> RiskRecord:
    kwargs.setdefault("summary", "Usage halved since March.")
    kwargs.setdefault("next_steps", "Executive sponsor call next week.")
    return services.risk_open(user=user, account=account, primary_cause=cause, **kwargs)


def kinds(risk: RiskRecord) -> list[str]:
    return list(risk.events.order_by("at", "id").values_list("kind", flat=True))


# --- filing ---------------------------------------------------------------------------


def test_csm_files_a_risk_record_at_tier_one_with_an_opened_event(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)

    risk.refresh_from_db()
    assert (risk.status, risk.tier, risk.max_tier, risk.version) == ("open", 1, 1, 1)
    assert risk.opened_by == csm
    assert risk.arr_at_risk == account.arr
    event = risk.events.get()
    assert event.kind == TimelineKind.OPENED
    assert event.actor == csm
    assert event.data["primary_cause"] == "low-usage"


def test_arr_at_risk_can_be_set_lower_than_the_account_arr(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage, arr_at_risk="30000.50")
    assert risk.arr_at_risk == Decimal("30000.50")


@pytest.mark.parametrize("value", ["-1", "abc", "10.123", "1e15", "NaN", "Infinity", True])
def test_bad_arr_at_risk_is_refused_with_the_one_money_message(csm, account, low_usage, value):
    with pytest.raises(InvalidInput) as refused:
        open_risk(csm, account, low_usage, arr_at_risk=value)
    assert refused.value.errors["arr_at_risk"] == [MONEY_MESSAGE]
    assert not RiskRecord.objects.exists()


def test_summary_and_next_steps_are_required_and_blank_is_not_enough(csm, account, low_usage):
    with pytest.raises(InvalidInput) as refused:
        open_risk(csm, account, low_usage, summary="   ", next_steps="")
    assert set(refused.value.errors) == {"summary", "next_steps"}
    assert not RiskRecord.objects.exists()
    assert not TimelineEvent.objects.exists()


def test_primary_cause_is_required(csm, account):
    with pytest.raises(InvalidInput) as refused:
        open_risk(csm, account, None)
    assert "primary_cause" in refused.value.errors


def test_secondary_cause_equal_to_primary_is_refused(csm, account, low_usage):
    with pytest.raises(InvalidInput) as refused:
        open_risk(csm, account, low_usage, secondary_cause=low_usage)
    assert "must differ" in refused.value.errors["secondary_cause"][0]
    assert not RiskRecord.objects.exists()


def test_inactive_causes_cannot_be_chosen_on_new_records(csm, account, low_usage, defects):
    RootCause.objects.filter(pk__in=[low_usage.pk, defects.pk]).update(active=False)
    low_usage.refresh_from_db()
    defects.refresh_from_db()
    with pytest.raises(InvalidInput) as refused:
        open_risk(csm, account, low_usage, secondary_cause=defects)
    assert set(refused.value.errors) == {"primary_cause", "secondary_cause"}


def test_second_open_record_on_an_account_is_a_conflict_naming_the_first(
    csm, account, low_usage, defects
):
    first = open_risk(csm, account, low_usage)
    with pytest.raises(Conflict) as refused:
        open_risk(csm, account, defects)
    assert refused.value.existing == first
    assert f"#{first.pk}" in refused.value.message
    assert RiskRecord.objects.count() == 1


def test_a_new_record_may_be_filed_once_the_previous_one_is_closed(csm, account, low_usage):
    first = open_risk(csm, account, low_usage)
    services.risk_close(user=csm, risk=first, outcome="saved", note="Renewed.")
    second = open_risk(csm, account, low_usage)
    assert second.pk != first.pk
    assert account.risks.count() == 2


def test_csm_cannot_file_on_an_account_they_do_not_own(other_csm, account, low_usage):
    with pytest.raises(NotAllowed):
        open_risk(other_csm, account, low_usage)
    assert not RiskRecord.objects.exists()


def test_manager_files_on_their_teams_accounts_but_not_another_teams(
    manager, other_manager, account, low_usage
):
    with pytest.raises(NotAllowed):
        open_risk(other_manager, account, low_usage)
    risk = open_risk(manager, account, low_usage)
    assert risk.opened_by == manager


def test_manager_files_on_accounts_they_own_themselves(manager, region, low_usage):
    own = factories.AccountFactory(csm=manager, region=region)
    assert open_risk(manager, own, low_usage).account == own


def test_admin_files_on_any_account_and_reviewer_on_none(admin_user, reviewer, account, low_usage):
    with pytest.raises(NotAllowed):
        open_risk(reviewer, account, low_usage)
    assert open_risk(admin_user, account, low_usage).opened_by == admin_user


# --- editing ----------------------------------------------------------------------------


def test_edit_changes_fields_bumps_version_and_records_what_changed(
    csm, account, low_usage, defects
):
    risk = open_risk(csm, account, low_usage)
    edited = services.risk_edit(
        user=csm, risk=risk, version=1, secondary_cause=defects, summary="Worse than thought."
    )
    assert edited.version == 2
    edited.refresh_from_db()
    assert edited.secondary_cause == defects
    event = edited.events.get(kind=TimelineKind.EDITED)
    assert event.data["changed"] == {
        "secondary_cause": {"from": None, "to": "defects"},
        "summary": {"from": "Usage halved since March.", "to": "Worse than thought."},
    }


def test_edit_with_a_stale_version_is_refused_and_overwrites_nothing(
    csm, manager, account, low_usage
):
    risk = open_risk(csm, account, low_usage)
    services.risk_edit(user=manager, risk=risk, version=1, next_steps="Manager's plan.")
    with pytest.raises(Conflict) as refused:
        services.risk_edit(user=csm, risk=risk, version=1, next_steps="CSM's plan.")
    assert refused.value.existing.next_steps == "Manager's plan."
    risk.refresh_from_db()
    assert (risk.next_steps, risk.version) == ("Manager's plan.", 2)


def test_edit_that_changes_nothing_writes_nothing(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.risk_edit(user=csm, risk=risk, version=1, summary=risk.summary)
    risk.refresh_from_db()
    assert risk.version == 1
    assert kinds(risk) == ["opened"]


def test_an_inactive_cause_already_on_a_record_may_stay_when_editing(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    RootCause.objects.filter(pk=low_usage.pk).update(active=False)
    edited = services.risk_edit(user=csm, risk=risk, version=1, summary="Still low usage.")
    assert edited.primary_cause_id == low_usage.pk
    assert edited.version == 2


def test_edit_refuses_secondary_equal_to_primary(csm, account, low_usage, defects):
    risk = open_risk(csm, account, low_usage, secondary_cause=defects)
    with pytest.raises(InvalidInput) as refused:
        services.risk_edit(user=csm, risk=risk, version=1, primary_cause=defects)
    assert "secondary_cause" in refused.value.errors


def test_other_csm_and_reviewer_cannot_edit(other_csm, reviewer, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    for user in (other_csm, reviewer):
        with pytest.raises(NotAllowed):
            services.risk_edit(user=user, risk=risk, version=1, summary="Hijack")


# --- notes ----------------------------------------------------------------------------------


def test_note_is_added_to_the_timeline(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    event = services.risk_add_note(user=csm, risk=risk, text="Called the VP; meeting set.")
    assert event.kind == TimelineKind.NOTE
    assert kinds(risk) == ["opened", "note"]


def test_blank_note_is_refused(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    with pytest.raises(InvalidInput):
        services.risk_add_note(user=csm, risk=risk, text="  ")


# --- escalation -------------------------------------------------------------------------


def test_csm_escalation_waits_for_the_manager(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    escalation = services.escalation_request(user=csm, risk=risk, reason="Champion left.")
    assert (escalation.status, escalation.from_tier, escalation.to_tier) == ("pending", 1, 2)
    risk.refresh_from_db()
    assert risk.tier == 1
    assert kinds(risk) == ["opened", "escalation_requested"]


def test_manager_approves_csm_escalation_and_the_tier_moves_up(csm, manager, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    escalation = services.escalation_request(user=csm, risk=risk, reason="Champion left.")
    approved = services.escalation_approve(user=manager, escalation=escalation, note="Agreed.")
    assert (approved.status, approved.decided_by) == ("approved", manager)
    risk.refresh_from_db()
    assert (risk.tier, risk.max_tier, risk.version) == (2, 2, 2)
    assert kinds(risk) == ["opened", "escalation_requested", "escalation_approved"]
    assert risk.events.last().data == {
        "escalation": escalation.pk,
        "from_tier": 1,
        "to_tier": 2,
        "self_approved": False,
    }


def test_manager_request_is_approved_at_once(csm, manager, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    escalation = services.escalation_request(user=manager, risk=risk, reason="Exec attention.")
    assert escalation.status == EscalationStatus.APPROVED
    assert escalation.decided_by == manager
    risk.refresh_from_db()
    assert risk.tier == 2
    assert risk.events.last().data["self_approved"] is True


def test_admin_request_is_approved_at_once(admin_user, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.escalation_request(user=admin_user, risk=risk, reason="Board-level customer.")
    risk.refresh_from_db()
    assert risk.tier == 2


def test_escalation_goes_one_step_at_a_time_up_to_tier_three(manager, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.escalation_request(user=manager, risk=risk, reason="Step one.")
    second = services.escalation_request(user=manager, risk=risk, reason="Step two.")
    assert (second.from_tier, second.to_tier) == (2, 3)
    with pytest.raises(Conflict, match="highest tier"):
        services.escalation_request(user=manager, risk=risk, reason="Step three.")
    risk.refresh_from_db()
    assert (risk.tier, risk.max_tier) == (3, 3)


def test_escalation_needs_a_reason(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    with pytest.raises(InvalidInput) as refused:
        services.escalation_request(user=csm, risk=risk, reason="")
    assert "reason" in refused.value.errors
    assert not Escalation.objects.exists()


def test_second_pending_escalation_is_a_conflict(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    first = services.escalation_request(user=csm, risk=risk, reason="Help.")
    with pytest.raises(Conflict) as refused:
        services.escalation_request(user=csm, risk=risk, reason="Help again.")
    assert refused.value.existing == first
    assert Escalation.objects.count() == 1


def test_csm_cannot_approve_own_escalation(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    escalation = services.escalation_request(user=csm, risk=risk, reason="Help.")
    with pytest.raises(NotAllowed):
        services.escalation_approve(user=csm, escalation=escalation)
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.PENDING


def test_manager_cannot_decide_another_teams_escalation(csm, other_manager, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    escalation = services.escalation_request(user=csm, risk=risk, reason="Help.")
    with pytest.raises(NotAllowed):
        services.escalation_approve(user=other_manager, escalation=escalation)
    with pytest.raises(NotAllowed):
        services.escalation_reject(user=other_manager, escalation=escalation, note="No.")


def test_admin_decides_any_escalation(csm, admin_user, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    escalation = services.escalation_request(user=csm, risk=risk, reason="Help.")
    assert services.escalation_approve(user=admin_user, escalation=escalation).status == "approved"


def test_rejection_needs_a_note_and_leaves_the_tier(csm, manager, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    escalation = services.escalation_request(user=csm, risk=risk, reason="Help.")
    with pytest.raises(InvalidInput) as refused:
        services.escalation_reject(user=manager, escalation=escalation, note=" ")
    assert "note" in refused.value.errors
    rejected = services.escalation_reject(
        user=manager, escalation=escalation, note="Try the training plan first."
    )
    assert rejected.status == EscalationStatus.REJECTED
    risk.refresh_from_db()
    assert risk.tier == 1
    assert kinds(risk)[-1] == "escalation_rejected"


def test_deciding_an_escalation_twice_is_a_conflict(csm, manager, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    escalation = services.escalation_request(user=csm, risk=risk, reason="Help.")
    services.escalation_approve(user=manager, escalation=escalation)
    with pytest.raises(Conflict, match="already approved"):
        services.escalation_reject(user=manager, escalation=escalation, note="Changed my mind.")


# --- de-escalation ---------------------------------------------------------------------


def test_manager_deescalates_any_number_of_steps_with_a_note(manager, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.escalation_request(user=manager, risk=risk, reason="Up.")
    services.escalation_request(user=manager, risk=risk, reason="Up again.")
    risk = services.risk_deescalate(user=manager, risk=risk, to_tier=1, note="Usage recovered.")
    assert (risk.tier, risk.max_tier) == (1, 3)
    assert risk.events.last().data["from_tier"] == 3


def test_deescalation_needs_a_note_and_a_lower_tier(manager, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.escalation_request(user=manager, risk=risk, reason="Up.")
    with pytest.raises(InvalidInput) as refused:
        services.risk_deescalate(user=manager, risk=risk, to_tier=2, note="")
    assert set(refused.value.errors) == {"to_tier", "note"}
    with pytest.raises(InvalidInput):
        services.risk_deescalate(user=manager, risk=risk, to_tier="x", note="Down.")


def test_csm_cannot_deescalate(manager, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.escalation_request(user=manager, risk=risk, reason="Up.")
    with pytest.raises(NotAllowed):
        services.risk_deescalate(user=csm, risk=risk, to_tier=1, note="Down.")


def test_deescalation_cancels_a_pending_escalation(manager, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.escalation_request(user=manager, risk=risk, reason="Up.")
    pending = services.escalation_request(user=csm, risk=risk, reason="Needs review.")
    services.risk_deescalate(user=manager, risk=risk, to_tier=1, note="Recovered.")
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.CANCELLED
    with pytest.raises(Conflict):
        services.escalation_approve(user=manager, escalation=pending)


# --- closing ---------------------------------------------------------------------------------


def test_saved_defaults_arr_retained_to_arr_at_risk(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    closed = services.risk_close(user=csm, risk=risk, outcome="saved", note="Renewed.")
    closed.refresh_from_db()
    assert closed.status == RiskStatus.SAVED
    assert closed.arr_retained == closed.arr_at_risk
    assert (closed.closed_by, closed.outcome_note) == (csm, "Renewed.")
    assert closed.closed_at is not None
    assert kinds(closed)[-1] == "closed"


def test_partial_save_is_a_downsell(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage, arr_at_risk="100000")
    closed = services.risk_close(
        user=csm, risk=risk, outcome="saved", note="Renewed smaller.", arr_retained="60000"
    )
    assert closed.arr_retained == Decimal("60000.00")


def test_arr_retained_cannot_exceed_arr_at_risk(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage, arr_at_risk="100000")
    with pytest.raises(InvalidInput) as refused:
        services.risk_close(
            user=csm, risk=risk, outcome="saved", note="Upsell!", arr_retained="100000.01"
        )
    assert "arr_retained" in refused.value.errors
    risk.refresh_from_db()
    assert risk.status == RiskStatus.OPEN


@pytest.mark.parametrize("outcome", ["churned", "withdrawn"])
def test_churned_and_withdrawn_retain_nothing(csm, account, low_usage, outcome):
    risk = open_risk(csm, account, low_usage)
    with pytest.raises(InvalidInput):
        services.risk_close(user=csm, risk=risk, outcome=outcome, note="x", arr_retained="5")
    closed = services.risk_close(user=csm, risk=risk, outcome=outcome, note="Gone.")
    assert closed.arr_retained == Decimal("0")


def test_close_needs_a_known_outcome_and_a_note(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    with pytest.raises(InvalidInput) as refused:
        services.risk_close(user=csm, risk=risk, outcome="open", note="")
    assert set(refused.value.errors) == {"outcome", "note"}


def test_closing_cancels_a_pending_escalation(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    pending = services.escalation_request(user=csm, risk=risk, reason="Help.")
    services.risk_close(user=csm, risk=risk, outcome="churned", note="Lost to competitor.")
    pending.refresh_from_db()
    assert pending.status == EscalationStatus.CANCELLED
    assert risk.events.last().data["cancelled_escalation"] == pending.pk


def test_closed_record_is_read_only(csm, manager, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.escalation_request(user=manager, risk=risk, reason="Up.")
    closed = services.risk_close(user=csm, risk=risk, outcome="withdrawn", note="Raised in error.")
    attempts = [
        lambda: services.risk_edit(user=csm, risk=risk, version=closed.version, summary="x"),
        lambda: services.risk_add_note(user=csm, risk=risk, text="x"),
        lambda: services.escalation_request(user=csm, risk=risk, reason="x"),
        lambda: services.risk_deescalate(user=manager, risk=risk, to_tier=1, note="x"),
        lambda: services.risk_close(user=csm, risk=risk, outcome="saved", note="x"),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict, match="read-only"):
            attempt()
    assert risk.events.count() == 4


def test_close_with_a_stale_version_is_refused(csm, manager, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    services.risk_edit(user=manager, risk=risk, version=1, summary="Changed by manager.")
    with pytest.raises(Conflict):
        services.risk_close(user=csm, risk=risk, outcome="saved", note="x", version=1)


def test_other_teams_csm_and_reviewer_cannot_close(other_csm, reviewer, csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    for user in (other_csm, reviewer):
        with pytest.raises(NotAllowed):
            services.risk_close(user=user, risk=risk, outcome="saved", note="x")


def test_a_version_that_is_not_a_number_is_invalid_input(csm, account, low_usage):
    risk = open_risk(csm, account, low_usage)
    with pytest.raises(InvalidInput) as refused:
        services.risk_edit(user=csm, risk=risk, version="abc", summary="x")
    assert "version" in refused.value.errors
