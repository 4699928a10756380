"""Every write of a rule and every rule about rules: saving one (its
conditions checked by rules.conditions), deleting one, an admin's
"evaluate now", and backtesting a saved rule or an unsaved definition.
Views, the API and the admin call these; the evaluation itself is
rules.evaluation, the backtest rules.backtest."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Region, Segment, User
from core.exceptions import Conflict, InvalidInput, NotAllowed
from core.text import too_long
from risks.models import RootCause

from . import conditions as c
from . import tasks
from .backtest import (
    DEFAULT_HORIZON_DAYS,
    DEFAULT_MONTHS,
    MAX_HORIZON_DAYS,
    MAX_MONTHS,
    Backtest,
    backtest,
)
from .evaluation import (
    Evaluation,
    Preview,
    evaluate_rules,
    measures_by_code,
    pk_of,
    rule_preview,
)
from .models import RULE_FIELDS, Action, Rule, RuleMatch

logger = logging.getLogger(__name__)

ONLY_ADMINS = "Only CS operations admins may change risk rules."
NAME_LIMIT = 120
DESCRIPTION_LIMIT = 2000


def ensure_admin(user: User) -> None:
    """Only CS operations admins write rules (the pages ask this too)."""
    if not user.is_cs_admin:
        raise NotAllowed(ONLY_ADMINS)


# --- saving rules --------------------------------------------------------------------------


def _fk(model: type, value: Any, field: str, errors: dict[str, list[str]], label: str) -> Any:
    if value in (None, ""):
        return None
    try:
        return model.objects.get(pk=int(pk_of(value)))
    except (TypeError, ValueError, model.DoesNotExist):
        errors.setdefault(field, []).append(f"No {label} has the id {pk_of(value)!r}.")
        return None


def clean_rule(values: dict[str, Any], *, rule: Rule | None = None) -> dict[str, Any]:
    """The rule's fields as stored, or InvalidInput naming every bad field
    (``conditions[i].field`` for a condition's parameter)."""
    errors: dict[str, list[str]] = {}
    merged = {name: getattr(rule, name) for name in RULE_FIELDS} if rule else {}
    merged.update(values)
    name = " ".join(str(merged.get("name") or "").split())
    if not name:
        errors["name"] = ["This field is required."]
    elif len(name) > NAME_LIMIT:
        errors["name"] = [too_long(NAME_LIMIT, len(name))]
    elif Rule.objects.filter(name__iexact=name).exclude(pk=rule.pk if rule else None).exists():
        errors["name"] = ["Another rule has this name."]
    description = str(merged.get("description") or "").strip()
    if len(description) > DESCRIPTION_LIMIT:
        errors["description"] = [too_long(DESCRIPTION_LIMIT, len(description))]
    segment = _fk(Segment, merged.get("segment"), "segment", errors, "segment")
    region = _fk(Region, merged.get("region"), "region", errors, "region")
    conditions = c.clean_conditions(merged.get("conditions"), measures_by_code(), errors)
    actions = merged.get("actions")
    if not isinstance(actions, list) or not actions:
        errors["actions"] = ["Choose at least one action: " + ", ".join(Action.values) + "."]
        actions = []
    elif any(action not in Action.values for action in actions):
        errors["actions"] = ["Choose among: " + ", ".join(Action.values) + "."]
    actions = [action for action in Action.values if action in actions]
    cause = merged.get("primary_cause")
    if isinstance(cause, str) and not cause.isdigit():
        cause = RootCause.objects.filter(code=cause).first() or cause
    cause = _fk(RootCause, cause, "primary_cause", errors, "root cause")
    if Action.OPEN_RISK in actions and cause is None and "primary_cause" not in errors:
        errors["primary_cause"] = ["A rule that opens risk records needs their primary cause."]
    elif (
        cause is not None
        and not cause.active
        and (rule is None or rule.primary_cause_id != cause.pk)
    ):
        errors["primary_cause"] = [f"{cause.name} is inactive; choose an active cause."]
    active = merged.get("active", False)
    if not isinstance(active, bool):
        errors["active"] = ["Must be true or false."]
    if errors:
        raise InvalidInput(errors)
    return {
        "name": name,
        "description": description,
        "active": active,
        "segment": segment,
        "region": region,
        "conditions": conditions,
        "actions": actions,
        "primary_cause": cause,
    }


@transaction.atomic
def rule_create(*, user: User, values: dict[str, Any]) -> Rule:
    """A new rule; inactive unless ``active`` says otherwise."""
    ensure_admin(user)
    now = timezone.now()
    fields = clean_rule({"active": False, **values})
    try:
        with transaction.atomic():
            return Rule.objects.create(**fields, created_by=user, created_at=now, updated_at=now)
    except IntegrityError:
        raise InvalidInput({"name": ["Another rule has this name."]}) from None


@transaction.atomic
def rule_update(
    *, user: User, rule: Rule | int, values: dict[str, Any], version: int | None = None
) -> Rule:
    """Change a rule. With ``version``, refuse (409) if someone saved it since.
    An evaluation running meanwhile finishes with the old definition first.
    Switching a rule off is always allowed, also when its conditions could no
    longer be saved as they are (a measure they test was deleted since);
    every other change checks the whole rule again."""
    ensure_admin(user)
    rule = Rule.objects.select_for_update(no_key=True).get(pk=pk_of(rule))
    if version is not None and int(version) != rule.version:
        raise Conflict(
            f"Someone changed the rule \u201c{rule.name}\u201d since you opened it; "
            "reload it and make your change again.",
            existing=rule,
        )
    if values.keys() == {"active"} and values["active"] is False:
        fields: dict[str, Any] = {"active": False}
    else:
        fields = clean_rule(values, rule=rule)
    was_active = rule.active
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.updated_at = timezone.now()
    rule.version += 1
    if was_active and not rule.active:
        # Switched off: its episodes end (nothing judges them any more), and
        # matches not acted on yet are skipped. Switched on again, it starts
        # afresh with the accounts it matches then.
        RuleMatch.objects.filter(rule=rule, cleared_at__isnull=True).update(
            cleared_at=rule.updated_at
        )
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise InvalidInput({"name": ["Another rule has this name."]}) from None
    return rule


@transaction.atomic
def rule_delete(*, user: User, rule: Rule | int) -> None:
    """Delete a rule that never matched; one with matches keeps its history
    and can only be switched off."""
    ensure_admin(user)
    rule = Rule.objects.select_for_update().get(pk=pk_of(rule))
    if RuleMatch.objects.filter(rule=rule).exists():
        raise Conflict(
            f"The rule \u201c{rule.name}\u201d has matched accounts, so it keeps its "
            "history; switch it off instead (active: false)."
        )
    rule.delete()


def preview_definition(values: dict[str, Any], *, as_of: dt.date | None = None) -> Preview:
    """What a rule with this scope and these conditions would match now,
    before it is saved (the editor's preview): InvalidInput names the bad
    scope or condition fields; the other fields are not looked at."""
    errors: dict[str, list[str]] = {}
    segment = _fk(Segment, values.get("segment"), "segment", errors, "segment")
    region = _fk(Region, values.get("region"), "region", errors, "region")
    conditions = c.clean_conditions(values.get("conditions"), measures_by_code(), errors)
    if errors:
        raise InvalidInput(errors)
    return rule_preview(Rule(segment=segment, region=region, conditions=conditions), as_of=as_of)


# --- backtests ------------------------------------------------------------------------------


def backtest_parameters(months: Any = None, horizon_days: Any = None) -> tuple[int, int]:
    """``months`` (1-36, default 12) and ``horizon_days`` (1-730, default
    180) as whole numbers (blank or None: the default), or InvalidInput
    naming each bad one."""
    errors: dict[str, list[str]] = {}
    checked: dict[str, int] = {}
    for name, value, default, high in (
        ("months", months, DEFAULT_MONTHS, MAX_MONTHS),
        ("horizon_days", horizon_days, DEFAULT_HORIZON_DAYS, MAX_HORIZON_DAYS),
    ):
        if value is None or (isinstance(value, str) and not value.strip()):
            checked[name] = default
            continue
        number = c.whole_number(value, 1, high)
        if isinstance(number, str):
            errors[name] = [number]
        else:
            checked[name] = number
    if errors:
        raise InvalidInput(errors)
    return checked["months"], checked["horizon_days"]


def rule_backtest(
    *, rule: Rule, months: Any = None, horizon_days: Any = None, end: dt.date | None = None
) -> Backtest:
    """The rule's backtest (rules.backtest): for everyone who may see the rule
    and its preview; nothing is written. InvalidInput names a bad ``months``
    or ``horizon_days``; Conflict when a measure its conditions test was
    deleted or changed kind since it was saved."""
    months, horizon_days = backtest_parameters(months, horizon_days)
    return backtest(rule, months=months, horizon_days=horizon_days, end=end)


def backtest_definition(
    values: dict[str, Any],
    *,
    months: Any = None,
    horizon_days: Any = None,
    end: dt.date | None = None,
) -> Backtest:
    """The backtest of a rule with this scope and these conditions, before it
    is saved (the editor's "Backtest"): InvalidInput names the bad scope,
    condition, ``months`` or ``horizon_days`` fields, all at once."""
    errors: dict[str, list[str]] = {}
    try:
        months, horizon_days = backtest_parameters(months, horizon_days)
    except InvalidInput as error:
        errors.update(error.errors)
    segment = _fk(Segment, values.get("segment"), "segment", errors, "segment")
    region = _fk(Region, values.get("region"), "region", errors, "region")
    conditions = c.clean_conditions(values.get("conditions"), measures_by_code(), errors)
    if errors:
        raise InvalidInput(errors)
    definition = Rule(segment=segment, region=region, conditions=conditions)
    return backtest(definition, months=months, horizon_days=horizon_days, end=end)


# --- evaluating now --------------------------------------------------------------------------


def hand_over_actions() -> None:
    """After the current transaction commits, have a worker take the new
    matches' actions. A failed hand-over (the broker is down) is logged; the
    daily run of the actions' task takes them."""

    def enqueue() -> None:
        try:
            tasks.act_on_matches.delay()
        except Exception:
            logger.warning(
                "Could not hand the rule matches to a worker; the daily run takes them.",
                exc_info=True,
            )

    transaction.on_commit(enqueue, robust=True)


def evaluate_now(*, user: User) -> Evaluation:
    """An admin's "evaluate now": every active rule as of today, then the new
    matches' actions (already taken on return when tasks run in-process).
    Always today: rules act on the current signals, and an evaluation of
    another day would end and start live episodes on old data. What a rule
    matched on an earlier day is its preview's to show."""
    ensure_admin(user)
    result = evaluate_rules()
    if result.matched:
        hand_over_actions()
    return result
