"""Every write to a risk record and every rule of the workflow: filing,
editing, notes, escalation, de-escalation and closing.

Each service runs in one transaction, locks the rows two users can race for
(``select_for_update``), writes its timeline event in the same transaction, and
reports a refusal with one of the exceptions of ``core.exceptions``. Services
return the updated objects; callers should use those rather than the instances
they passed in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Account, User
from accounts.services import account_mark_churned
from core.exceptions import Conflict, InvalidInput, NotAllowed
from core.money import InvalidMoney, format_money, parse_money
from core.text import too_long

from .. import integrations, notifications, rules, signals
from ..models import (
    CLOSED_STATUSES,
    TEXT_LIMITS,
    Escalation,
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    RootCause,
    Tier,
    TimelineEvent,
    TimelineKind,
)
from .events import timeline_add
from .tasks import apply_playbook

_UNSET: Any = object()


# --- helpers -----------------------------------------------------------------------


def _money(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    try:
        return parse_money(value)
    except InvalidMoney as error:
        errors.setdefault(field, []).append(str(error))
        return None


def _required_text(value: str | None, field: str, errors: dict[str, list[str]]) -> str:
    text = (value or "").strip()
    if not text:
        errors.setdefault(field, []).append("This field is required.")
    elif len(text) > TEXT_LIMITS[field]:
        errors.setdefault(field, []).append(too_long(TEXT_LIMITS[field], len(text)))
    return text


def _check_arr_at_risk(
    user: User,
    account: Account,
    amount: Decimal | None,
    reason: str,
    errors: dict[str, list[str]],
) -> str:
    """ARR at risk is at most the account's ARR, unless someone with authority
    over the account (its CSM's manager, an admin) confirms a higher figure with
    a reason. Returns the reason to record ("" when none is needed)."""
    reason = (reason or "").strip()
    if amount is None or amount <= account.arr:
        return ""
    if not rules.has_authority(user, account):
        errors.setdefault("arr_at_risk", []).append(
            f"At most the account's ARR ({format_money(account.arr)}); a higher figure "
            "needs the CSM's manager to confirm it with a reason."
        )
    elif not reason:
        errors.setdefault("arr_above_account_reason", []).append(
            f"Say why more than the account's ARR ({format_money(account.arr)}) is at risk."
        )
    elif len(reason) > TEXT_LIMITS["arr_above_account_reason"]:
        errors.setdefault("arr_above_account_reason", []).append(
            too_long(TEXT_LIMITS["arr_above_account_reason"], len(reason))
        )
    return reason


def _check_causes(
    primary: RootCause | None,
    secondary: RootCause | None,
    errors: dict[str, list[str]],
    *,
    allow_inactive: tuple[int | None, ...] = (),
) -> None:
    """Causes must be active unless the record already carries them."""
    if primary is None:
        errors.setdefault("primary_cause", []).append("Choose the primary root cause.")
    elif not primary.active and primary.pk not in allow_inactive:
        errors.setdefault("primary_cause", []).append(
            f"“{primary.name}” is no longer in use; choose an active cause."
        )
    if secondary is None:
        return
    if primary is not None and secondary.pk == primary.pk:
        errors.setdefault("secondary_cause", []).append(
            "The secondary cause must differ from the primary cause."
        )
    elif not secondary.active and secondary.pk not in allow_inactive:
        errors.setdefault("secondary_cause", []).append(
            f"“{secondary.name}” is no longer in use; choose an active cause."
        )


def _lock_risk(risk: RiskRecord | int) -> RiskRecord:
    pk = risk.pk if isinstance(risk, RiskRecord) else risk
    return (
        RiskRecord.objects.select_for_update(of=("self",))
        .select_related("account__csm", "primary_cause", "secondary_cause")
        .get(pk=pk)
    )


def _ensure_open(risk: RiskRecord) -> None:
    if not risk.is_open:
        raise Conflict(
            f"This risk record was closed as {risk.get_status_display().lower()} and is read-only."
        )


def _ensure_version(risk: RiskRecord, version: int | str | None) -> None:
    if version is None:
        return
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise InvalidInput({"version": ["Send the record's version as a whole number."]}) from None
    if version != risk.version:
        raise Conflict(
            "This risk record was changed by someone else since you loaded it "
            f"(your version {version}, current version {risk.version}). "
            "Reload it and apply your change again.",
            existing=risk,
        )


def _pending_escalation(risk: RiskRecord) -> Escalation | None:
    return (
        Escalation.objects.select_for_update()
        .filter(risk=risk, status=EscalationStatus.PENDING)
        .first()
    )


def _cancel_pending(risk: RiskRecord, *, user: User, now: Any, why: str) -> Escalation | None:
    pending = _pending_escalation(risk)
    if pending is not None:
        pending.status = EscalationStatus.CANCELLED
        pending.decided_by = user
        pending.decided_at = now
        pending.decision_note = why
        pending.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
        if pending.to_tier == Tier.REVIEW:  # no longer "waiting for approval to tier 3"
            signals.review_relevant_change.send(sender=RiskRecord, risk=risk)
    return pending


def _set_tier(risk: RiskRecord, to_tier: int, now: Any) -> None:
    risk.tier = to_tier
    risk.max_tier = max(risk.max_tier, to_tier)
    risk.tier_changed_at = now
    risk.version += 1
    risk.save(update_fields=["tier", "max_tier", "tier_changed_at", "version"])


# --- who may: the services' own checks, also asked by pages before they parse a form ---


def ensure_may_file_on(user: User, account: Account) -> None:
    if not rules.can_file_on(user, account):
        raise NotAllowed(
            "You can file risk records only on accounts you own"
            + (" or your team owns." if user.is_manager else ".")
        )


def ensure_may_work_on(user: User, risk: RiskRecord, action: str = "change") -> None:
    """``action`` completes "… can <action> this record" (edit, close, …)."""
    if not rules.can_work_on(user, risk):
        raise NotAllowed(
            f"Only the account's CSM, their manager or an admin can {action} this record."
        )


def ensure_may_decide(user: User, risk: RiskRecord) -> None:
    if not rules.can_decide_escalations(user, risk):
        raise NotAllowed(
            "Only the manager of the account's CSM or an admin can decide this escalation."
        )


def ensure_may_deescalate(user: User, risk: RiskRecord) -> None:
    if not rules.can_deescalate(user, risk):
        raise NotAllowed("Only the manager of the account's CSM or an admin can de-escalate.")


# --- filing and editing ----------------------------------------------------------


def _check_filing(
    user: User,
    account: Account,
    errors: dict[str, list[str]],
    *,
    primary_cause: RootCause | None,
    secondary_cause: RootCause | None,
    summary: str,
    next_steps: str,
    arr_at_risk: Decimal | str | int | None,
    arr_above_account_reason: str,
) -> tuple[str, str, Decimal | None, str]:
    """The field rules of filing, every error collected in ``errors``."""
    summary = _required_text(summary, "summary", errors)
    next_steps = _required_text(next_steps, "next_steps", errors)
    _check_causes(primary_cause, secondary_cause, errors)
    amount = (
        account.arr if arr_at_risk in (None, "") else _money(arr_at_risk, "arr_at_risk", errors)
    )
    above_reason = _check_arr_at_risk(user, account, amount, arr_above_account_reason, errors)
    return summary, next_steps, amount, above_reason


def _churned(account: Account) -> str:
    return (
        f"{account.name} churned on {account.churned_on:%-d %b %Y}; an admin must "
        "reactivate the account before a new risk record can be filed."
    )


def _already_open(account: Account, existing: RiskRecord) -> str:
    return (
        f"{account.name} already has an open risk record (#{existing.pk}); "
        "work on that one instead."
    )


def risk_open_field_errors(
    *,
    user: User,
    account: Account,
    primary_cause: RootCause | None,
    summary: str,
    next_steps: str,
    secondary_cause: RootCause | None = None,
    arr_at_risk: Decimal | str | int | None = None,
    arr_above_account_reason: str = "",
) -> dict[str, list[str]]:
    """What ``risk_open`` would say about these fields and the account (churned,
    already has an open record), without writing anything: a form that already
    found errors of its own asks this so that the person sees every error in one
    round trip."""
    errors: dict[str, list[str]] = {}
    if account.is_churned:
        errors["account"] = [_churned(account)]
    else:
        existing = RiskRecord.objects.filter(account=account, status=RiskStatus.OPEN).first()
        if existing is not None:
            errors["account"] = [_already_open(account, existing)]
    _check_filing(
        user,
        account,
        errors,
        primary_cause=primary_cause,
        secondary_cause=secondary_cause,
        summary=summary,
        next_steps=next_steps,
        arr_at_risk=arr_at_risk,
        arr_above_account_reason=arr_above_account_reason,
    )
    return errors


@transaction.atomic
def risk_open(
    *,
    user: User,
    account: Account,
    primary_cause: RootCause | None,
    summary: str,
    next_steps: str,
    secondary_cause: RootCause | None = None,
    arr_at_risk: Decimal | str | int | None = None,
    arr_above_account_reason: str = "",
    origin: dict[str, Any] | None = None,
) -> RiskRecord:
    """File a risk record at tier 1 on an account with no open record.
    ``origin`` is added to the filing event's data: what opened the record
    when no person did (a risk rule names itself and its match)."""
    account = (
        Account.objects.select_for_update(of=("self",)).select_related("csm").get(pk=account.pk)
    )
    ensure_may_file_on(user, account)
    if account.is_churned:
        raise Conflict(_churned(account))
    errors: dict[str, list[str]] = {}
    summary, next_steps, amount, above_reason = _check_filing(
        user,
        account,
        errors,
        primary_cause=primary_cause,
        secondary_cause=secondary_cause,
        summary=summary,
        next_steps=next_steps,
        arr_at_risk=arr_at_risk,
        arr_above_account_reason=arr_above_account_reason,
    )
    if errors:
        raise InvalidInput(errors)

    existing = RiskRecord.objects.filter(account=account, status=RiskStatus.OPEN).first()
    if existing is not None:
        raise Conflict(_already_open(account, existing), existing=existing)
    now = timezone.now()
    try:
        with transaction.atomic():
            risk = RiskRecord.objects.create(
                account=account,
                primary_cause=primary_cause,
                secondary_cause=secondary_cause,
                tier=Tier.CSM,
                max_tier=Tier.CSM,
                status=RiskStatus.OPEN,
                summary=summary,
                next_steps=next_steps,
                arr_at_risk=amount,
                opened_by=user,
                opened_at=now,
                tier_changed_at=now,
            )
    except IntegrityError:
        # Only reachable if a writer bypassed the account lock; the database
        # constraint still guarantees one open record per account.
        existing = RiskRecord.objects.filter(account=account, status=RiskStatus.OPEN).first()
        raise Conflict(
            f"{account.name} already has an open risk record.", existing=existing
        ) from None
    timeline_add(
        risk=risk,
        kind=TimelineKind.OPENED,
        actor=user,
        at=now,
        text=summary,
        data={
            "tier": Tier.CSM,
            "primary_cause": primary_cause.code,
            "secondary_cause": secondary_cause.code if secondary_cause else None,
            "arr_at_risk": str(amount),
            **({"arr_above_account_reason": above_reason} if above_reason else {}),
            **(origin or {}),
        },
    )
    # The play for its cause starts with the record, in the same transaction.
    apply_playbook(risk=risk, user=user, now=now)
    integrations.risk_opened(risk, origin=origin)
    return risk


EDITABLE_FIELDS = ("primary_cause", "secondary_cause", "summary", "next_steps", "arr_at_risk")


def _display(field: str, value: Any) -> Any:
    if isinstance(value, RootCause):
        return value.code
    if isinstance(value, Decimal):
        return str(value)
    return value


@transaction.atomic
def risk_edit(
    *,
    user: User,
    risk: RiskRecord | int,
    version: int | str,
    primary_cause: RootCause | None = _UNSET,
    secondary_cause: RootCause | None = _UNSET,
    summary: str = _UNSET,
    next_steps: str = _UNSET,
    arr_at_risk: Decimal | str | int = _UNSET,
    arr_above_account_reason: str = "",
) -> RiskRecord:
    """Change the description of an open record. ``version`` must be the one the
    user loaded; a stale one is a Conflict carrying the current record."""
    risk = _lock_risk(risk)
    ensure_may_work_on(user, risk, "edit")
    _ensure_open(risk)
    _ensure_version(risk, version)

    errors: dict[str, list[str]] = {}
    new = {
        "primary_cause": risk.primary_cause if primary_cause is _UNSET else primary_cause,
        "secondary_cause": risk.secondary_cause if secondary_cause is _UNSET else secondary_cause,
        "summary": risk.summary
        if summary is _UNSET
        else _required_text(summary, "summary", errors),
        "next_steps": risk.next_steps
        if next_steps is _UNSET
        else _required_text(next_steps, "next_steps", errors),
        "arr_at_risk": risk.arr_at_risk
        if arr_at_risk is _UNSET
        else _money(arr_at_risk, "arr_at_risk", errors),
    }
    _check_causes(
        new["primary_cause"],
        new["secondary_cause"],
        errors,
        allow_inactive=(risk.primary_cause_id, risk.secondary_cause_id),
    )
    above_reason = ""
    if arr_at_risk is not _UNSET and new["arr_at_risk"] != risk.arr_at_risk:
        above_reason = _check_arr_at_risk(
            user, risk.account, new["arr_at_risk"], arr_above_account_reason, errors
        )
    if errors:
        raise InvalidInput(errors)

    changed: dict[str, dict[str, Any]] = {}
    for field in EDITABLE_FIELDS:
        old_value = getattr(risk, field)
        if _display(field, old_value) != _display(field, new[field]):
            changed[field] = {"from": _display(field, old_value), "to": _display(field, new[field])}
            setattr(risk, field, new[field])
    if not changed:
        return risk
    risk.version += 1
    risk.save(update_fields=[*changed, "version"])
    timeline_add(
        risk=risk,
        kind=TimelineKind.EDITED,
        actor=user,
        at=timezone.now(),
        text="Changed " + ", ".join(field.replace("_", " ") for field in changed) + ".",
        data={
            "changed": changed,
            **({"arr_above_account_reason": above_reason} if above_reason else {}),
        },
    )
    return risk


@transaction.atomic
def risk_add_note(*, user: User, risk: RiskRecord | int, text: str) -> TimelineEvent:
    risk = _lock_risk(risk)
    ensure_may_work_on(user, risk, "add notes to")
    _ensure_open(risk)
    errors: dict[str, list[str]] = {}
    text = _required_text(text, "text", errors)
    if errors:
        raise InvalidInput(errors)
    return timeline_add(risk=risk, kind=TimelineKind.NOTE, actor=user, at=timezone.now(), text=text)


# --- escalation --------------------------------------------------------------------


def _escalation_event(
    escalation: Escalation,
    risk: RiskRecord,
    kind: str,
    *,
    user: User,
    now: Any,
    text: str,
    **data: Any,
) -> None:
    """The timeline event of a request or decision, naming the escalation and
    its tiers (plus ``data``)."""
    timeline_add(
        risk=risk,
        kind=kind,
        actor=user,
        at=now,
        text=text,
        data={
            "escalation": escalation.pk,
            "from_tier": escalation.from_tier,
            "to_tier": escalation.to_tier,
            **data,
        },
    )


def _decide(escalation: Escalation, status: str, *, user: User, note: str, now: Any) -> None:
    escalation.status = status
    escalation.decided_by = user
    escalation.decided_at = now
    escalation.decision_note = note
    escalation.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])


def _approve(escalation: Escalation, risk: RiskRecord, *, user: User, note: str, now: Any) -> None:
    _decide(escalation, EscalationStatus.APPROVED, user=user, note=note, now=now)
    _set_tier(risk, escalation.to_tier, now)
    if escalation.to_tier == Tier.REVIEW:
        signals.review_relevant_change.send(sender=RiskRecord, risk=risk)
    _escalation_event(
        escalation,
        risk,
        TimelineKind.ESCALATION_APPROVED,
        user=user,
        now=now,
        text=note,
        self_approved=escalation.requested_by_id == user.pk,
    )
    integrations.risk_escalated(escalation, risk)


@transaction.atomic
def escalation_request(*, user: User, risk: RiskRecord | int, reason: str) -> Escalation:
    """Ask to move the record one tier up. The owning CSM's request waits for
    their manager; a manager's or an admin's is approved at once."""
    risk = _lock_risk(risk)
    ensure_may_work_on(user, risk, "escalate")
    _ensure_open(risk)
    errors: dict[str, list[str]] = {}
    reason = _required_text(reason, "reason", errors)
    if errors:
        raise InvalidInput(errors)
    if risk.tier >= Tier.REVIEW:
        raise Conflict("This record is already at tier 3, the highest tier.")
    pending = _pending_escalation(risk)
    if pending is not None:
        raise Conflict(
            f"An escalation to tier {pending.to_tier} is already waiting for a decision.",
            existing=pending,
        )
    now = timezone.now()
    escalation = Escalation.objects.create(
        risk=risk,
        from_tier=risk.tier,
        to_tier=risk.tier + 1,
        status=EscalationStatus.PENDING,
        reason=reason,
        requested_by=user,
        requested_at=now,
    )
    _escalation_event(
        escalation, risk, TimelineKind.ESCALATION_REQUESTED, user=user, now=now, text=reason
    )
    if rules.can_decide_escalations(user, risk):
        _approve(escalation, risk, user=user, note="", now=now)
    else:
        notifications.escalation_requested(escalation)
        integrations.escalation_requested(escalation, risk)
        if escalation.to_tier == Tier.REVIEW:  # "waiting for approval to tier 3"
            signals.review_relevant_change.send(sender=RiskRecord, risk=risk)
    return escalation


def _lock_for_decision(escalation: Escalation | int) -> tuple[Escalation, RiskRecord]:
    pk = escalation.pk if isinstance(escalation, Escalation) else escalation
    risk_id = Escalation.objects.values_list("risk_id", flat=True).get(pk=pk)
    # Lock the risk before the escalation, in the same order as every other
    # service, so two decisions cannot deadlock.
    risk = _lock_risk(risk_id)
    locked = Escalation.objects.select_for_update().get(pk=pk)
    return locked, risk


def _ensure_decidable(user: User, escalation: Escalation, risk: RiskRecord) -> None:
    ensure_may_decide(user, risk)
    if escalation.status != EscalationStatus.PENDING:
        who = f" by {escalation.decided_by}" if escalation.decided_by_id else ""
        raise Conflict(
            f"This escalation was already {escalation.get_status_display().lower()}{who}."
        )
    _ensure_open(risk)
    if risk.tier != escalation.from_tier:
        raise Conflict(
            f"The record is at tier {risk.tier} now, not tier {escalation.from_tier}; "
            "this escalation no longer applies."
        )


@transaction.atomic
def escalation_approve(*, user: User, escalation: Escalation | int, note: str = "") -> Escalation:
    escalation, risk = _lock_for_decision(escalation)
    _ensure_decidable(user, escalation, risk)
    note = (note or "").strip()
    if len(note) > TEXT_LIMITS["note"]:
        raise InvalidInput({"note": [too_long(TEXT_LIMITS["note"], len(note))]})
    _approve(escalation, risk, user=user, note=note, now=timezone.now())
    notifications.escalation_decided(escalation)
    integrations.escalation_decided(escalation, risk)
    return escalation


@transaction.atomic
def escalation_reject(*, user: User, escalation: Escalation | int, note: str) -> Escalation:
    escalation, risk = _lock_for_decision(escalation)
    _ensure_decidable(user, escalation, risk)
    errors: dict[str, list[str]] = {}
    note = _required_text(note, "note", errors)
    if errors:
        errors["note"] = ["Say why the escalation is rejected."]
        raise InvalidInput(errors)
    now = timezone.now()
    _decide(escalation, EscalationStatus.REJECTED, user=user, note=note, now=now)
    _escalation_event(
        escalation, risk, TimelineKind.ESCALATION_REJECTED, user=user, now=now, text=note
    )
    notifications.escalation_decided(escalation)
    integrations.escalation_decided(escalation, risk)
    if escalation.to_tier == Tier.REVIEW:  # no longer waiting for tier 3
        signals.review_relevant_change.send(sender=RiskRecord, risk=risk)
    return escalation


@transaction.atomic
def risk_deescalate(
    *, user: User, risk: RiskRecord | int, to_tier: int, note: str, version: int | None = None
) -> RiskRecord:
    """Move the record down any number of tiers (manager or admin, with a note).
    A pending escalation no longer applies and is cancelled."""
    risk = _lock_risk(risk)
    ensure_may_deescalate(user, risk)
    _ensure_open(risk)
    _ensure_version(risk, version)
    errors: dict[str, list[str]] = {}
    note = _required_text(note, "note", errors)
    try:
        target = int(to_tier)
    except (TypeError, ValueError):
        target = None
    if target is None or not (Tier.CSM <= target < risk.tier):
        allowed = ", ".join(str(t) for t in range(Tier.CSM, risk.tier)) or "none"
        errors.setdefault("to_tier", []).append(
            f"Choose a lower tier than the current tier {risk.tier} (allowed: {allowed})."
        )
    if errors:
        raise InvalidInput(errors)
    now = timezone.now()
    from_tier = risk.tier
    cancelled = _cancel_pending(
        risk, user=user, now=now, why=f"Cancelled: de-escalated to tier {target}."
    )
    risk.tier = target
    risk.tier_changed_at = now
    risk.version += 1
    risk.save(update_fields=["tier", "tier_changed_at", "version"])
    if from_tier == Tier.REVIEW:
        signals.review_relevant_change.send(sender=RiskRecord, risk=risk)
    timeline_add(
        risk=risk,
        kind=TimelineKind.DEESCALATED,
        actor=user,
        at=now,
        text=note,
        data={
            "from_tier": from_tier,
            "to_tier": target,
            "cancelled_escalation": cancelled.pk if cancelled else None,
        },
    )
    return risk


# --- closing -------------------------------------------------------------------------


@transaction.atomic
def risk_close(
    *,
    user: User,
    risk: RiskRecord | int,
    outcome: str,
    note: str,
    arr_retained: Decimal | str | int | None = None,
    version: int | None = None,
) -> RiskRecord:
    """Close with an outcome. A save may retain less than the ARR at risk (a
    downsell); churned and withdrawn records retain nothing."""
    risk = _lock_risk(risk)
    ensure_may_work_on(user, risk, "close")
    _ensure_open(risk)
    _ensure_version(risk, version)
    errors: dict[str, list[str]] = {}
    if outcome not in CLOSED_STATUSES:
        errors["outcome"] = ["Choose an outcome: saved, churned or withdrawn."]
    note = _required_text(note, "note", errors)
    retained: Decimal | None = None
    if outcome == RiskStatus.SAVED:
        if arr_retained in (None, ""):
            retained = risk.arr_at_risk
        else:
            retained = _money(arr_retained, "arr_retained", errors)
            if retained is not None and retained > risk.arr_at_risk:
                errors.setdefault("arr_retained", []).append(
                    f"Cannot exceed the ARR at risk ({risk.arr_at_risk})."
                )
    elif outcome in CLOSED_STATUSES:
        if arr_retained not in (None, ""):
            parsed = _money(arr_retained, "arr_retained", errors)
            if parsed is not None and parsed != 0:
                errors.setdefault("arr_retained", []).append(
                    "Only a saved record retains ARR; leave it empty or 0."
                )
        retained = Decimal("0.00")
    if errors:
        raise InvalidInput(errors)

    now = timezone.now()
    cancelled = _cancel_pending(
        risk, user=user, now=now, why="Cancelled: the risk record was closed."
    )
    if outcome == RiskStatus.CHURNED:
        account = Account.objects.select_for_update().get(pk=risk.account_id)
        risk.account = account_mark_churned(account=account, on=timezone.localdate(now))
    if risk.max_tier == Tier.REVIEW:
        signals.review_relevant_change.send(sender=RiskRecord, risk=risk)
    risk.status = outcome
    risk.arr_retained = retained
    risk.closed_by = user
    risk.closed_at = now
    risk.outcome_note = note
    risk.version += 1
    risk.save(
        update_fields=[
            "status",
            "arr_retained",
            "closed_by",
            "closed_at",
            "outcome_note",
            "version",
        ]
    )
    timeline_add(
        risk=risk,
        kind=TimelineKind.CLOSED,
        actor=user,
        at=now,
        text=note,
        data={
            "outcome": outcome,
            "arr_at_risk": str(risk.arr_at_risk),
            "arr_retained": str(retained),
            "cancelled_escalation": cancelled.pk if cancelled else None,
            "account_churned_on": (
                risk.account.churned_on.isoformat() if outcome == RiskStatus.CHURNED else None
            ),
        },
    )
    integrations.risk_closed(risk)
    return risk
