"""Evaluating risk rules and taking their matches' actions (docs/domain.md,
"Risk rules"). Per rule, one statement clears the episodes that stopped
holding and one writes the new matches, whatever the number of accounts;
each match's actions then go through the risk workflow, once, in a
transaction of their own."""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Role, User
from core.exceptions import Conflict, DomainError
from health.models import Measure
from notifications.outbox import absolute_url, addresses, queue_email
from risks.models import RiskRecord, RiskStatus, TimelineKind
from risks.services import risk_open, timeline_add

from . import conditions as c
from . import integrations
from .evidence import sentences
from .models import Outcome, Rule, RuleMatch

logger = logging.getLogger(__name__)

SYSTEM_USERNAME = "red-account-rules"
PREVIEW_LIMIT = 50
# Matches are acted on in batches of this many ids, each match its own transaction.
ACT_BATCH = 200


def system_user() -> User:
    """*Red Account rules*, who opens the records rules open: an admin who can
    never sign in (inactive, no usable password, no email)."""
    user, _ = User.objects.get_or_create(
        username=SYSTEM_USERNAME,
        defaults={
            "first_name": "Red Account",
            "last_name": "rules",
            "role": Role.ADMIN,
            "is_active": False,
            "password": make_password(None),
        },
    )
    return user


def measures_by_code() -> dict[str, Measure]:
    return {measure.code: measure for measure in Measure.objects.all()}


def pk_of(value: Any) -> Any:
    """The primary key of a model instance, or the value itself (an id)."""
    return getattr(value, "pk", value)


def _dialect() -> c.Dialect:
    return c.POSTGRES if connection.vendor == "postgresql" else c.SQLITE


def _scope(rule: Rule, extra: str = "") -> tuple[str, dict[str, Any]]:
    parts, params = ["TRUE"], {}
    if rule.segment_id:
        parts.append("a.segment_id = %(segment)s")
        params["segment"] = rule.segment_id
    if rule.region_id:
        parts.append("a.region_id = %(region)s")
        params["region"] = rule.region_id
    if extra:
        parts.append(extra)
    return " AND ".join(parts), params


def ensure_runnable(rule: Rule, measures: dict[str, Measure]) -> None:
    """Conflict when the rule's conditions can no longer run (a measure they
    test was deleted or changed since)."""
    problem = c.unusable(rule.conditions, measures)
    if problem:
        name = f"\u201c{rule.name}\u201d" if rule.name else "This rule"
        raise Conflict(f"The rule {name} cannot run: {problem}. Edit its conditions.")


def rule_query(
    rule: Rule, *, as_of: dt.date, measures: dict[str, Measure], extra_scope: str = ""
) -> c.Query:
    """The rule's query as of a day; Conflict when its conditions can no
    longer run (a measure they test was deleted or changed since)."""
    ensure_runnable(rule, measures)
    scope, params = _scope(rule, extra_scope)
    return c.build_query(
        rule.conditions, measures, as_of=as_of, scope=scope, scope_params=params, d=_dialect()
    )


def rule_replay_query(
    rule: Rule, *, days: list[dt.date], measures: dict[str, Measure]
) -> tuple[c.Query, str, c.Dialect]:
    """The rule's replay on each of ``days`` with only what was known on it
    (rules.conditions.build_replay_query), and the rule's scope over
    accounts_account (alias a), whose parameters the query holds; Conflict as
    ``rule_query``."""
    ensure_runnable(rule, measures)
    scope, params = _scope(rule)
    d = _dialect()
    query = c.build_replay_query(
        rule.conditions, measures, days=days, scope=scope, scope_params=params, d=d
    )
    return query, scope, d


@dataclass(frozen=True)
class PreviewRow:
    account: Account
    evidence: list[dict[str, Any]]

    @property
    def sentences(self) -> list[str]:
        return sentences(self.evidence)


@dataclass(frozen=True)
class Preview:
    count: int
    rows: list[PreviewRow]
    as_of: dt.date


def rule_preview(
    rule: Rule, *, as_of: dt.date | None = None, limit: int = PREVIEW_LIMIT
) -> Preview:
    """The accounts the rule matches now (active or not, saved or not: the
    rule's conditions must be clean), the largest ARR first, with their
    evidence: how many, and the first ``limit``. Three queries."""
    as_of = as_of or timezone.localdate()
    query = rule_query(rule, as_of=as_of, measures=measures_by_code())
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH {query.ctes}
            SELECT account_id, evidence, count(*) OVER ()
            FROM hit ORDER BY arr DESC, account_id LIMIT %(preview_limit)s""",
            {**query.params, "preview_limit": limit},
        )
        found = cursor.fetchall()
    accounts = Account.objects.select_related("csm", "segment", "region").in_bulk(
        [row[0] for row in found]
    )
    rows = [
        PreviewRow(account=accounts[pk], evidence=_json(evidence))
        for pk, evidence, _ in found
        if pk in accounts
    ]
    return Preview(count=found[0][2] if found else 0, rows=rows, as_of=as_of)


def _json(value: Any) -> Any:
    # PostgreSQL hands back json as text here, SQLite always does.
    return json.loads(value) if isinstance(value, str) else value


@dataclass
class Evaluation:
    rules: int = 0
    matched: int = 0
    cleared: int = 0
    as_of: dt.date | None = None
    # Why a rule could not run (its conditions test a measure deleted or
    # changed since); the other rules ran.
    problems: list[str] = field(default_factory=list)


def _listed(d: c.Dialect, column: str) -> str:
    """``column`` is one of the ids of the JSON list parameter ``accounts``."""
    if d is c.POSTGRES:
        return (
            f"{column} IN (SELECT CAST(value AS bigint) "
            "FROM json_array_elements_text(CAST(%(accounts)s AS json)))"
        )
    return f"{column} IN (SELECT value FROM json_each(%(accounts)s))"


def _evaluate_rule(
    rule_id: int,
    as_of: dt.date,
    measures: dict[str, Measure],
    now: Any,
    account_ids: list[int] | None = None,
) -> tuple[int, int]:
    """One rule, one transaction: lock it (evaluations of a rule take turns,
    so two at once fire once), clear the episodes that stopped holding, write
    a match for each account it newly holds for; only among ``account_ids``
    when given. Returns (matched, cleared)."""
    with transaction.atomic():
        rule = Rule.objects.select_for_update(no_key=True).filter(pk=rule_id, active=True).first()
        if rule is None:
            return 0, 0
        d = _dialect()
        listed = _listed(d, "a.id") if account_ids is not None else ""
        open_episodes = (
            "a.id IN (SELECT m.account_id FROM rules_rulematch m "
            "WHERE m.rule_id = %(rule)s AND m.cleared_at IS NULL)"
        )
        still = rule_query(rule, as_of=as_of, measures=measures, extra_scope=open_episodes)
        fresh = rule_query(rule, as_of=as_of, measures=measures, extra_scope=listed)
        base = {"rule": rule.pk, "now": now, "as_of": as_of, "accounts": json.dumps(account_ids)}
        only_listed = f"AND {_listed(d, 'account_id')}" if account_ids is not None else ""
        with connection.cursor() as cursor:
            gone = d.not_in_hit.format(ctes=still.ctes, column="rules_rulematch.account_id")
            cursor.execute(
                f"""{d.with_update.format(ctes=still.ctes)}
                UPDATE rules_rulematch SET cleared_at = %(now)s
                WHERE rule_id = %(rule)s AND cleared_at IS NULL {only_listed} AND {gone}""",
                {**still.params, **base},
            )
            cleared = cursor.rowcount
            # The one-open-episode index tells which hits are new: a hit whose
            # episode is open conflicts with it and is skipped, by a probe of
            # that index (a NOT EXISTS could be planned as a loop over every
            # open episode for every hit).
            cursor.execute(
                f"""INSERT INTO rules_rulematch
                    (rule_id, account_id, matched_at, as_of, evidence, outcome, outcome_note)
                WITH {fresh.ctes}
                SELECT %(rule)s, hit.account_id, %(now)s, {d.date.format(name="as_of")},
                       {d.json_stored.format(json="hit.evidence")}, '', ''
                FROM hit WHERE TRUE
                ON CONFLICT DO NOTHING""",
                {**fresh.params, **base},
            )
            matched = cursor.rowcount
    return matched, cleared


def evaluate_rules(
    *,
    as_of: dt.date | None = None,
    rule_ids: list[int] | None = None,
    account_ids: list[int] | None = None,
) -> Evaluation:
    """Evaluate the active rules (or the listed ones, if active) as of a day
    (today by default), for every account or only the listed ones (those an
    ingest rescored): per rule, one statement clears the episodes that
    stopped holding and one writes the new matches, whatever the number of
    accounts. The new matches wait for their actions (``act_on_pending``)."""
    as_of = as_of or timezone.localdate()
    now = timezone.now()
    rules = Rule.objects.filter(active=True)
    if rule_ids is not None:
        rules = rules.filter(pk__in=rule_ids)
    ids = list(rules.order_by("pk").values_list("pk", flat=True))
    result = Evaluation(as_of=as_of)
    if not ids:
        return result
    measures = measures_by_code()
    for rule_id in ids:
        try:
            matched, cleared = _evaluate_rule(rule_id, as_of, measures, now, account_ids)
        except Conflict as problem:
            # Its open episodes stay as they are: nothing is known about them.
            logger.warning("Risk rule %s skipped: %s", rule_id, problem.message)
            result.problems.append(problem.message)
            continue
        result.rules += 1
        result.matched += matched
        result.cleared += cleared
    return result


# --- taking a match's actions ----------------------------------------------------------------


def _summary(rule: Rule, match: RuleMatch) -> str:
    lines = [
        f"The rule \u201c{rule.name}\u201d matched {match.account.name} on {match.as_of:%-d %b %Y}:"
    ]
    lines += [f"- {line}" for line in sentences(match.evidence)]
    return "\n".join(lines)


def _next_steps(rule: Rule) -> str:
    return (
        "1. Check these signals with the customer and the account team, and correct the "
        "primary cause if it is a different one.\n"
        "2. Work through the playbook's tasks on this record.\n"
        f"3. Withdraw the record if the signals are wrong, and tell the CS operations team "
        f"so that the rule \u201c{rule.name}\u201d can be tuned."
    )


def _notify(rule: Rule, match: RuleMatch, risk: RiskRecord | None) -> None:
    account = match.account
    people = [account.csm] + ([account.csm.manager] if account.csm.manager_id else [])
    # People on the weekly digest hear of it there (risks.digest), not now.
    to = addresses(person for person in people if not person.weekly_digest)
    if not to:
        return
    body = render_to_string(
        "email/rule_matched.txt",
        {
            "rule": rule,
            "match": match,
            "account": account,
            "evidence": sentences(match.evidence),
            "risk": risk,
            "outcome": match.outcome,
            "account_url": absolute_url(
                reverse("customer_accounts:detail", kwargs={"pk": account.pk})
            ),
            "risk_url": absolute_url(reverse("risks:detail", kwargs={"pk": risk.pk}))
            if risk
            else "",
        },
    )
    queue_email(
        dedupe_key=f"rule-match-{match.pk}",
        kind="rule_matched",
        to=to,
        subject=f"{account.name}: the rule \u201c{rule.name}\u201d matched",
        body=body,
    )


# How many times the actions look again for the account's open record when
# a person files on the account at the same moment (each look waits for them).
_ATTEMPTS = 3


def _skip(match: RuleMatch, why: str) -> None:
    match.outcome, match.outcome_note = Outcome.SKIPPED, why[:255]


def _act(match: RuleMatch, user: User, now: Any) -> None:
    rule, account = match.rule, match.account
    if not rule.active:
        return _skip(match, "The rule was switched off before its actions were taken.")
    if match.cleared_at is not None:
        return _skip(match, "Cleared before it was acted on.")
    if account.is_churned:
        return _skip(match, "The account churned.")
    origin = {"rule": rule.pk, "rule_name": rule.name, "match": match.pk}
    for _ in range(_ATTEMPTS):
        # The open record is locked as closing locks it, before anything of
        # its account: a close running now is waited for, then seen closed.
        open_risk = (
            RiskRecord.objects.select_for_update(no_key=True)
            .filter(account=account, status=RiskStatus.OPEN)
            .first()
        )
        if open_risk is not None:
            timeline_add(
                risk=open_risk,
                kind=TimelineKind.NOTE,
                actor=user,
                at=now,
                text=_summary(rule, match),
                data=origin,
            )
            match.risk, match.outcome = open_risk, Outcome.NOTED
            break
        if not rule.opens_risk:
            match.outcome = Outcome.NOTIFIED
            break
        try:
            # Filing locks the account itself (and nothing before it here),
            # so a churned account or a record filed meanwhile is refused.
            with transaction.atomic():
                match.risk = risk_open(
                    user=user,
                    account=account,
                    primary_cause=rule.primary_cause,
                    summary=_summary(rule, match),
                    next_steps=_next_steps(rule),
                    origin=origin,
                )
            match.outcome = Outcome.OPENED
            break
        except Conflict as error:
            if not isinstance(error.existing, RiskRecord):
                return _skip(match, error.message)
            # Someone filed a record meanwhile: look again, to note on it.
        except DomainError as error:
            return _skip(match, error.message)
    else:
        return _skip(match, "The account's risk records kept changing; not acted on.")
    if rule.notifies:
        _notify(rule, match, match.risk)
    integrations.rule_matched(match)
    return None


def act_on_match(match: RuleMatch | int) -> RuleMatch | None:
    """Take one match's actions, once: open a tier-1 record (or note the
    evidence on the account's open record) and notify, in one transaction
    with the match marked acted on. None when another worker has it or it
    was acted on already."""
    user = system_user()
    with transaction.atomic():
        # A second worker skips the match while this one holds it.
        match = (
            RuleMatch.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("rule__primary_cause", "account__csm__manager")
            .filter(pk=pk_of(match), acted_at__isnull=True)
            .first()
        )
        if match is None:
            return None
        now = timezone.now()
        _act(match, user, now)
        match.acted_at = now
        match.save(update_fields=["risk", "outcome", "outcome_note", "acted_at"])
    return match


def act_on_pending(limit: int | None = None) -> int:
    """Take the actions of every match not yet acted on, oldest first, a
    transaction each. Returns how many this call acted on."""
    done = 0
    after = 0
    while limit is None or done < limit:
        batch = list(
            RuleMatch.objects.filter(acted_at__isnull=True, pk__gt=after)
            .order_by("pk")
            .values_list("pk", flat=True)[:ACT_BATCH]
        )
        if not batch:
            break
        for pk in batch:
            if act_on_match(pk) is not None:
                done += 1
            after = pk
            if limit is not None and done >= limit:
                break
    return done
