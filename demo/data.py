"""Demo data: regions, people, about 150 accounts, a year of risk history and
two years of renewals.

``manage.py seed_demo`` is a thin wrapper around :func:`seed_demo`. The data is
generated from a fixed random seed, so every machine sees the same story
(dates are relative to today), and writing is idempotent: regions and users are
keyed by code and username, accounts by ``external_id`` ("DEMO-0001"), and risk
records are only written for demo accounts that have none yet.

The history is backdated, so the rows are written with the ORM rather than
through ``risks.services`` (which stamps ``now()``). :class:`_RiskPlan` replays
each record's story step by step with the same state changes and the same
timeline ``kind`` and ``data`` keys as the services, so the result is what the
services would have written had the events happened on those dates.

The demo's playbooks (``demo.playbooks``) are written first, so every record
gets the tasks of its cause's play as ``risk_open`` would have given them, in
a state that fits its story.

The renewals (``demo.renewals``) are planned from the same accounts and records,
shape the health history (``demo.health``), and are written through the
renewal importer like any other load.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import (
    Account,
    AccountStatus,
    Region,
    Renewal,
    RenewalOutcome,
    RenewalSource,
    Role,
    Segment,
    User,
)
from core.imports import import_records
from reviews.models import Agenda
from reviews.scheduling import next_meeting
from reviews.services import agenda_generate
from risks.models import (
    Escalation,
    EscalationStatus,
    Playbook,
    RiskRecord,
    RiskStatus,
    RootCause,
    Task,
    Tier,
    TimelineEvent,
    TimelineKind,
)

from . import health as demo_health
from . import playbooks as demo_playbooks
from . import renewals as demo_renewals
from . import rules as demo_rules
from .content import (
    APPROVAL_NOTES,
    CAUSE_WEIGHTS,
    CAUSES,
    DEESCALATION_NOTES,
    ESCALATION_REASONS,
    NAME_PREFIXES,
    NAME_SUFFIXES,
    NEXT_STEPS,
    NOTES,
    OUTCOME_NOTES,
    OUTCOME_WEIGHTS,
    REGIONS,
    REJECTION_NOTES,
    REVIEW_DEPARTMENTS,
    REVIEWERS,
    SEGMENT_ARR,
    SEGMENT_WEIGHTS,
    SEGMENTS,
    SUMMARIES,
    TEAMS,
)
from .facts import AccountFacts, RecordFacts

SEED = 20250601
# The tasks' story draws from its own seed, so the records stay as they were.
TASK_SEED = 20250603
DEMO_PASSWORD = "demo"
EXTERNAL_ID_PREFIX = "DEMO-"
ACCOUNT_COUNT = 150
CLOSED_RECORD_COUNT = 120


class DemoDataError(Exception):
    """Demo data cannot be written; the message says why."""


class DemoDataNotAllowed(DemoDataError):
    """The settings do not allow demo data (production): users with password "demo"
    must never exist there."""


@dataclass(frozen=True)
class Person:
    first_name: str
    last_name: str
    role: str
    region: str | None
    username: str = ""
    manager: str | None = None
    department: str = ""
    is_staff: bool = False
    is_superuser: bool = False

    @property
    def login(self) -> str:
        return self.username or _ascii(f"{self.first_name}.{self.last_name}")

    @property
    def email(self) -> str:
        return _ascii(f"{self.first_name}.{self.last_name}") + "@example.com"


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return folded.lower().replace(" ", "").replace("'", "")


def _name(entry: tuple[str, ...]) -> dict[str, str]:
    """("Carl", "Jensen", "csm") → names and the login; the login defaults to carl.jensen."""
    first, last, *username = entry
    return {"first_name": first, "last_name": last, "username": username[0] if username else ""}


def _login(entry: tuple[str, ...]) -> str:
    return entry[2] if len(entry) > 2 else _ascii(f"{entry[0]}.{entry[1]}")


def demo_people() -> list[Person]:
    """Everyone the demo creates, managers before their teams."""
    admin = Person("Avery", "Collins", Role.ADMIN, None, "admin", is_staff=True, is_superuser=True)
    people = [admin]
    for region, teams in TEAMS.items():
        for manager, _ in teams:
            # Not staff: the Django admin has nothing for managers (they work in
            # the pages and the API); staff status would only lead them to 403s.
            people.append(Person(**_name(manager), role=Role.MANAGER, region=region))
    for region, teams in TEAMS.items():
        for manager, csms in teams:
            people += [
                Person(**_name(csm), role=Role.CSM, region=region, manager=_login(manager))
                for csm in csms
            ]
    for region, reviewers in REVIEWERS.items():
        people += [
            Person(**_name(reviewer), role=Role.REVIEWER, region=region, department=department)
            for reviewer, department in zip(reviewers, REVIEW_DEPARTMENTS, strict=True)
        ]
    return people


@dataclass(frozen=True)
class AccountPlan:
    external_id: str
    name: str
    region: str
    segment: str
    arr: Decimal
    renewal_date: dt.date
    csm: str


def _whole_hundreds(value: Decimal) -> Decimal:
    return ((value / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP) * 100).quantize(
        Decimal("0.01")
    )


def _plan_accounts(rng: random.Random, csms: list[Person], today: dt.date) -> list[AccountPlan]:
    names = [f"{prefix} {suffix}" for prefix in NAME_PREFIXES for suffix in NAME_SUFFIXES]
    rng.shuffle(names)
    segments = list(SEGMENT_WEIGHTS)
    plans = []
    for index in range(ACCOUNT_COUNT):
        # Round robin, so every CSM (the demo "csm" first) has a book of accounts.
        csm = csms[index % len(csms)]
        segment = rng.choices(segments, weights=list(SEGMENT_WEIGHTS.values()))[0]
        low, high = SEGMENT_ARR[segment]
        plans.append(
            AccountPlan(
                external_id=f"{EXTERNAL_ID_PREFIX}{index + 1:04d}",
                name=names[index],
                region=csm.region or "",
                segment=segment,
                arr=Decimal(rng.randint(low // 100, high // 100) * 100).quantize(Decimal("0.01")),
                renewal_date=today + dt.timedelta(days=rng.randint(-30, 456)),
                csm=csm.login,
            )
        )
    return plans


# --- one record's story, replayed like the services would have written it --------


@dataclass
class _EscalationPlan:
    from_tier: int
    requested_by: str  # "csm" or "manager", resolved against the account at write time
    requested_at: dt.datetime
    reason: str
    status: str = EscalationStatus.PENDING
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    decision_note: str = ""


@dataclass
class _EventPlan:
    kind: str
    actor: str
    at: dt.datetime
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    # The escalation whose primary key goes into data[escalation_key].
    escalation: int | None = None
    escalation_key: str = "escalation"


@dataclass
class _RiskPlan:
    primary: str
    secondary: str | None
    summary: str
    next_steps: str
    arr_share: Decimal  # of the account's ARR; below 1 when only part of the contract is at risk
    opened_at: dt.datetime
    account_index: int = -1
    tier: int = Tier.CSM
    max_tier: int = Tier.CSM
    tier_changed_at: dt.datetime | None = None
    status: str = RiskStatus.OPEN
    closed_by: str | None = None
    closed_at: dt.datetime | None = None
    outcome_note: str = ""
    retained_share: Decimal | None = None
    version: int = 1
    task_seed: int = 0  # the seed of its tasks' story (demo.playbooks)
    escalations: list[_EscalationPlan] = field(default_factory=list)
    events: list[_EventPlan] = field(default_factory=list)

    # Each method mirrors the service of the same purpose (risk_open,
    # risk_add_note, escalation_request/approve/reject, risk_deescalate, risk_close).

    def open(self) -> None:
        self.tier_changed_at = self.opened_at
        self.events.append(
            _EventPlan(
                TimelineKind.OPENED,
                "csm",
                self.opened_at,
                self.summary,
                {
                    "tier": Tier.CSM,
                    "primary_cause": self.primary,
                    "secondary_cause": self.secondary,
                },
            )
        )

    def note(self, at: dt.datetime, actor: str, text: str) -> None:
        self.events.append(_EventPlan(TimelineKind.NOTE, actor, at, text))

    def request(self, at: dt.datetime, actor: str, reason: str) -> int:
        escalation = _EscalationPlan(self.tier, actor, at, reason)
        self.escalations.append(escalation)
        index = len(self.escalations) - 1
        self.events.append(
            _EventPlan(TimelineKind.ESCALATION_REQUESTED, actor, at, reason, escalation=index)
        )
        return index

    def approve(self, index: int, at: dt.datetime, actor: str, note: str = "") -> None:
        escalation = self.escalations[index]
        escalation.status = EscalationStatus.APPROVED
        escalation.decided_by, escalation.decided_at, escalation.decision_note = actor, at, note
        self._set_tier(escalation.from_tier + 1, at)
        self.events.append(
            _EventPlan(TimelineKind.ESCALATION_APPROVED, actor, at, note, escalation=index)
        )

    def reject(self, index: int, at: dt.datetime, actor: str, note: str) -> None:
        escalation = self.escalations[index]
        escalation.status = EscalationStatus.REJECTED
        escalation.decided_by, escalation.decided_at, escalation.decision_note = actor, at, note
        self.events.append(
            _EventPlan(TimelineKind.ESCALATION_REJECTED, actor, at, note, escalation=index)
        )

    def deescalate(self, at: dt.datetime, to_tier: int, note: str) -> None:
        from_tier = self.tier
        self.tier, self.tier_changed_at = to_tier, at
        self.version += 1
        self.events.append(
            _EventPlan(
                TimelineKind.DEESCALATED,
                "manager",
                at,
                note,
                {"from_tier": from_tier, "to_tier": to_tier, "cancelled_escalation": None},
            )
        )

    def close(
        self, at: dt.datetime, actor: str, outcome: str, note: str, retained_share: Decimal
    ) -> None:
        pending = self._pending()
        if pending is not None:
            escalation = self.escalations[pending]
            escalation.status = EscalationStatus.CANCELLED
            escalation.decided_by, escalation.decided_at = actor, at
            escalation.decision_note = "Cancelled: the risk record was closed."
        self.status, self.closed_by, self.closed_at = outcome, actor, at
        self.outcome_note, self.retained_share = note, retained_share
        self.version += 1
        self.events.append(
            _EventPlan(
                TimelineKind.CLOSED,
                actor,
                at,
                note,
                {"outcome": outcome, "cancelled_escalation": None},
                escalation=pending,
                escalation_key="cancelled_escalation",
            )
        )

    def _set_tier(self, to_tier: int, at: dt.datetime) -> None:
        self.tier, self.max_tier = to_tier, max(self.max_tier, to_tier)
        self.tier_changed_at = at
        self.version += 1

    def _pending(self) -> int | None:
        for index, escalation in enumerate(self.escalations):
            if escalation.status == EscalationStatus.PENDING:
                return index
        return None


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.replace(second=0, microsecond=0)


def _moments(
    rng: random.Random, start: dt.datetime, end: dt.datetime, count: int
) -> list[dt.datetime]:
    span = (end - start).total_seconds()
    return [
        _minute(start + dt.timedelta(seconds=span * share))
        for share in sorted(rng.uniform(0.03, 0.97) for _ in range(count))
    ]


def _new_plan(rng: random.Random, opened_at: dt.datetime) -> _RiskPlan:
    primary = rng.choices(CAUSES, weights=CAUSE_WEIGHTS)[0]
    secondary = rng.choice([c for c in CAUSES if c != primary]) if rng.random() < 0.33 else None
    # Most records put the whole contract at risk; some only a product line or a team.
    share = Decimal(1) if rng.random() < 0.8 else Decimal(rng.choice([40, 50, 60, 75])) / 100
    plan = _RiskPlan(
        primary=primary,
        secondary=secondary,
        summary=rng.choice(SUMMARIES[primary]),
        next_steps=NEXT_STEPS[primary],
        arr_share=share,
        opened_at=opened_at,
    )
    plan.open()
    return plan


# Steps of a story; each takes one moment except the CSM's approved request (two:
# the request and the manager's decision).
_CSM_ESCALATES = "csm_escalates"  # request by the CSM, approved later by the manager
_MANAGER_ESCALATES = "manager_escalates"  # approved at once, as the service does
_CSM_REJECTED = "csm_rejected"
_NOTE = "note"


def _escalation_steps(rng: random.Random, to_tier: int) -> list[str]:
    steps = []
    for tier in range(Tier.MANAGER, to_tier + 1):
        by_manager = rng.random() < (0.15 if tier == Tier.MANAGER else 0.4)
        steps.append(_MANAGER_ESCALATES if by_manager else _CSM_ESCALATES)
    return steps


def _with_notes(rng: random.Random, steps: list[str], count: int) -> list[str]:
    steps = list(steps)
    for _ in range(count):
        steps.insert(rng.randint(0, len(steps)), _NOTE)
    return steps


def _play(rng: random.Random, plan: _RiskPlan, steps: list[str], end: dt.datetime) -> None:
    needed = sum(2 if step in (_CSM_ESCALATES, _CSM_REJECTED) else 1 for step in steps)
    moments = iter(_moments(rng, plan.opened_at, end, needed))
    for step in steps:
        at = next(moments)
        if step == _NOTE:
            plan.note(at, "csm" if rng.random() < 0.8 else "manager", rng.choice(NOTES))
        elif step == _MANAGER_ESCALATES:
            reason = rng.choice(ESCALATION_REASONS[plan.tier + 1])
            plan.approve(plan.request(at, "manager", reason), at, "manager")
        else:
            index = plan.request(at, "csm", rng.choice(ESCALATION_REASONS[plan.tier + 1]))
            if step == _CSM_ESCALATES:
                plan.approve(index, next(moments), "manager", rng.choice(APPROVAL_NOTES))
            else:
                plan.reject(index, next(moments), "manager", rng.choice(REJECTION_NOTES))


# Open records by scenario: current tier, and what happened on the way.
OPEN_SCENARIOS = {
    "t1": 15,
    "t1_pending": 3,  # waits for the manager to approve tier 2
    "t1_rejected": 1,
    "t1_deescalated": 1,  # was at tier 2
    "t2": 8,
    "t2_pending": 3,  # waits for approval to tier 3: the agenda's pending section
    "t2_deescalated": 1,  # was at tier 3
    "t3": 6,
    "t3_new": 2,  # reached tier 3 in the last day or so: the agenda's "new" section
}
# The demo CSM's own book: every tier, and a request waiting for the demo manager.
DEMO_CSM_SCENARIOS = ["t3", "t2", "t1_pending", "t1", "t2_pending"]


def _open_plan(rng: random.Random, scenario: str, now: dt.datetime) -> _RiskPlan:
    days_open = dt.timedelta(days=rng.randint(10, 110), minutes=rng.randint(0, 600))
    plan = _new_plan(rng, _minute(now - days_open))
    tier = int(scenario[1])
    notes = rng.randint(0, 3)
    if scenario.endswith("_deescalated"):
        steps = _with_notes(rng, _escalation_steps(rng, tier + 1), notes)
        _play(rng, plan, steps, now - dt.timedelta(days=3))
        at = _minute(now - dt.timedelta(hours=rng.randint(6, 60)))
        plan.deescalate(at, tier, rng.choice(DEESCALATION_NOTES))
    elif scenario == "t3_new":
        steps = _with_notes(rng, _escalation_steps(rng, Tier.MANAGER), notes)
        _play(rng, plan, steps, now - dt.timedelta(days=6))
        # The last step up is recent, so it most likely falls after the region's previous
        # meeting and lands in the next agenda's "new" section.
        at = _minute(now - dt.timedelta(hours=rng.randint(6, 36)))
        plan.approve(
            plan.request(at, "manager", rng.choice(ESCALATION_REASONS[Tier.REVIEW])), at, "manager"
        )
    else:
        steps = _escalation_steps(rng, tier)
        if scenario == "t1_rejected":
            steps = [_CSM_REJECTED]
        _play(rng, plan, _with_notes(rng, steps, notes), now - dt.timedelta(days=3))
    if scenario.endswith("_pending"):
        at = _minute(now - dt.timedelta(hours=rng.randint(2, 70)))
        plan.request(at, "csm", rng.choice(ESCALATION_REASONS[plan.tier + 1]))
    return plan


def _closed_plan(rng: random.Random, position: int, now: dt.datetime) -> _RiskPlan:
    # Evenly over the past year, so every month of the reports has closings.
    days_ago = dt.timedelta(
        days=2 + position * 3, hours=rng.randint(0, 30), minutes=rng.randint(0, 59)
    )
    closed_at = _minute(now - days_ago)
    opened_at = _minute(closed_at - dt.timedelta(days=rng.randint(2, 120), hours=rng.randint(0, 8)))
    plan = _new_plan(rng, opened_at)
    outcome = rng.choices(
        [RiskStatus.SAVED, RiskStatus.CHURNED, RiskStatus.WITHDRAWN],
        weights=OUTCOME_WEIGHTS[plan.primary],
    )[0]
    # The two most recent closings reached tier 3: the agenda's "resolved" section.
    max_tier = Tier.REVIEW if position < 2 else rng.choices([1, 2, 3], weights=[55, 30, 15])[0]
    steps = _escalation_steps(rng, max_tier)
    # Now and then an escalation is still waiting when the record is closed; closing cancels it.
    cancelled = max_tier < Tier.REVIEW and rng.random() < 0.06
    _play(rng, plan, _with_notes(rng, steps, rng.randint(0, 2)), closed_at)
    if cancelled:
        last = plan.events[-1].at
        plan.request(
            _minute(last + (closed_at - last) / 2),
            "csm",
            rng.choice(ESCALATION_REASONS[plan.tier + 1]),
        )
    retained_share = Decimal(0)
    note = rng.choice(OUTCOME_NOTES[outcome])
    if outcome == RiskStatus.SAVED:
        retained_share = Decimal(1)
        if rng.random() < 0.25:
            retained_share = Decimal(rng.choice([50, 60, 70, 75, 80, 90])) / 100
            note = rng.choice(OUTCOME_NOTES["downsell"])
    closer = "manager" if plan.max_tier > Tier.CSM and rng.random() < 0.4 else "csm"
    plan.close(closed_at, closer, outcome, note, retained_share)
    return plan


def _plan_risks(rng: random.Random, csm_indices: list[int], now: dt.datetime) -> list[_RiskPlan]:
    """Open records first (the demo CSM's, then others on random accounts), then
    closed records on the remaining accounts; closings beyond one per account go,
    oldest first, on accounts whose open record was filed later."""
    scenarios: Counter[str] = Counter(OPEN_SCENARIOS)
    scenarios.subtract(DEMO_CSM_SCENARIOS)
    others = list(scenarios.elements())
    rng.shuffle(others)
    demo_accounts = csm_indices[: len(DEMO_CSM_SCENARIOS)]
    other_accounts = rng.sample(
        [index for index in range(ACCOUNT_COUNT) if index not in csm_indices], len(others)
    )
    plans = []
    for index, scenario in zip(
        demo_accounts + other_accounts, DEMO_CSM_SCENARIOS + others, strict=True
    ):
        plan = _open_plan(rng, scenario, now)
        plan.account_index = index
        plans.append(plan)
    open_by_account = {plan.account_index: plan for plan in plans}

    closed = sorted(
        (_closed_plan(rng, position, now) for position in range(CLOSED_RECORD_COUNT)),
        key=lambda plan: plan.closed_at,
    )
    # The demo CSM's other accounts stay quiet and active, so that "File a risk
    # record" works for them at once.
    kept_free = set(csm_indices[len(DEMO_CSM_SCENARIOS) :])
    free_accounts = [
        index
        for index in range(ACCOUNT_COUNT)
        if index not in open_by_account and index not in kept_free
    ]
    rng.shuffle(free_accounts)
    extra = max(0, len(closed) - len(free_accounts))
    # A churned customer does not come back with a new risk, so only earlier saves
    # and withdrawals share an account with an open record.
    second_records = [plan for plan in closed if plan.status != RiskStatus.CHURNED][:extra]
    hosts = rng.sample(sorted(open_by_account), extra)
    for plan, host in zip(second_records, hosts, strict=True):
        assert plan.closed_at < open_by_account[host].opened_at, "demo history overlaps"
        plan.account_index = host
    # Not strict: with fewer closings than accounts, some accounts simply stay quiet.
    for plan, account_index in zip(
        [plan for plan in closed if plan.account_index < 0], free_accounts, strict=False
    ):
        plan.account_index = account_index
    return plans + closed


# --- writing ---------------------------------------------------------------------


@dataclass
class SeedReport:
    created: Counter[str] = field(default_factory=Counter)
    present: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        c, p = self.created, self.present
        return [
            f"Regions: {c['regions']} created, {p['regions']} already present.",
            f"Users: {c['users']} created, {p['users']} already present.",
            f"Accounts: {c['accounts']} created, {p['accounts']} already present.",
            f"Risk records: {c['risk_records']} created ({c['open']} open, {c['closed']} closed); "
            f"{p['accounts_with_risks']} demo accounts already had records and were left alone.",
            f"Escalations: {c['escalations']} created "
            f"({c['pending_escalations']} pending a manager's decision).",
            f"Playbooks: {c['playbooks']} created, {p['playbooks']} already present "
            "(one per default root cause, two segments' own).",
            f"Tasks: {c['tasks']} created from the playbooks ({c['tasks_done']} done, "
            f"{c['tasks_overdue']} overdue on open records).",
            f"Timeline events: {c['timeline_events']} created.",
            f"Review agendas: {c['agendas']} created, {p['agendas']} already present "
            "(each region's next weekly review).",
            f"Health: {c['observations']} observations created for {c['accounts_observed']} "
            f"accounts, scored on {c['scored_days']} days (weekly over the last year, every "
            "four weeks before).",
            f"Renewals: {c['renewals']} created over the last two years ({c['churned']} churned, "
            f"{c['downsells']} downsells); {p['accounts_with_renewals']} demo accounts already "
            "had renewals and were left alone.",
            f"Risk rules: {c['rules']} created and switched on, {p['rules']} already present; "
            f"{c['rule_matches']} new matches, {c['rule_actions']} acted on.",
        ]


def seed_demo(*, now: dt.datetime | None = None) -> SeedReport:
    """Create the demo data that is missing; leave everything else alone."""
    if not getattr(settings, "DEMO_DATA_ALLOWED", False):
        raise DemoDataNotAllowed(
            "Demo data is disabled in these settings (DEMO_DATA_ALLOWED is False). It creates "
            "users whose password is “demo”, so it only runs with the local or test settings."
        )
    now = _minute(now or timezone.now())
    rng = random.Random(SEED)
    people = demo_people()
    # Everything is planned before anything is read, so the random sequence, and
    # with it the data, is the same whatever the database already holds.
    csms = [person for person in people if person.role == Role.CSM]
    account_plans = _plan_accounts(rng, csms, timezone.localdate(now))
    risk_plans = _plan_risks(
        rng, [i for i in range(ACCOUNT_COUNT) if account_plans[i].csm == "csm"], now
    )
    task_rng = random.Random(TASK_SEED)
    for plan in risk_plans:
        plan.task_seed = task_rng.getrandbits(32)

    report = SeedReport()
    with transaction.atomic():
        regions = _ensure_regions(report)
        users = _ensure_users(people, regions, report)
        accounts = _ensure_accounts(account_plans, regions, users, report)
        # Before the records: each record gets its play's tasks as it is written.
        _ensure_playbooks(users["admin"], report)
        _write_risks(risk_plans, accounts, users, now, report)
        facts, records = _story_facts(account_plans, risk_plans)
        today = timezone.localdate(now)
        renewals = demo_health.plan_renewals(facts, records, today)
        _ensure_health(facts, records, renewals, accounts, today, report)
        _ensure_renewals(renewals, accounts, today, report)
        # After the health: the rules read today's scores and signals.
        _ensure_rules(users["admin"], today, report)
        _ensure_next_agendas(regions, now, report)
    return report


def _story_facts(
    plans: list[AccountPlan], risks: list[_RiskPlan]
) -> tuple[list[AccountFacts], list[RecordFacts]]:
    """What the health and renewal stories need of the accounts and records."""
    records = []
    for plan in risks:
        arr_lost = Decimal(0)
        if plan.status == RiskStatus.SAVED and plan.retained_share is not None:
            # As _write_risks stores them: at risk, and retained of that.
            at_risk = _share(plans[plan.account_index].arr, plan.arr_share)
            arr_lost = at_risk - _share(at_risk, plan.retained_share)
        records.append(
            RecordFacts(
                account_index=plan.account_index,
                status=plan.status,
                cause=plan.primary,
                tier=plan.tier if plan.status == RiskStatus.OPEN else plan.max_tier,
                opened_on=timezone.localdate(plan.opened_at),
                closed_on=timezone.localdate(plan.closed_at) if plan.closed_at else None,
                retained_share=plan.retained_share,
                arr_lost=arr_lost,
            )
        )
    facts = [
        AccountFacts(
            external_id=plan.external_id,
            segment=plan.segment,
            csm=plan.csm,
            arr=plan.arr,
            renewal_date=plan.renewal_date,
        )
        for plan in plans
    ]
    return facts, records


def _ensure_health(
    facts: list[AccountFacts],
    records: list[RecordFacts],
    renewals: list[demo_renewals.AccountRenewals],
    accounts: list[Account],
    today: dt.date,
    report: SeedReport,
) -> None:
    """Signals over the two years of renewals and the quarter before, shaped by
    each account's risk history and renewals, and the score history computed
    from them (demo.health)."""
    written, observed, days = demo_health.seed_health(
        facts, [account.pk for account in accounts], records, today, renewals
    )
    report.created["observations"] += written
    report.created["accounts_observed"] += observed
    report.created["scored_days"] += days


def _ensure_renewals(
    renewals: list[demo_renewals.AccountRenewals],
    accounts: list[Account],
    today: dt.date,
    report: SeedReport,
) -> None:
    """The last two years of renewals of the demo accounts that have none yet,
    through the renewal importer (which marks an account whose newest renewal
    is a churn churned: the demo's churned accounts already are, that day)."""
    present = set(Renewal.objects.filter(account__in=accounts).values_list("account_id", flat=True))
    report.present["accounts_with_renewals"] += len(present)
    # The importer takes no day after today: a seed dated ahead (the tests
    # seed at a review's start) leaves those renewals out.
    until = min(today, timezone.localdate())
    written = [
        (account, renewal)
        for account, planned in zip(accounts, renewals, strict=True)
        if account.pk not in present
        for renewal in planned.written(until)
    ]
    counts = import_records(
        "renewals",
        [renewal.as_record(account.pk) for account, renewal in written],
        source=RenewalSource.DEMO,
    )
    report.created["renewals"] += counts.created
    outcomes = Counter(renewal.outcome for _, renewal in written)
    report.created["churned"] += outcomes[RenewalOutcome.CHURNED]
    report.created["downsells"] += outcomes[RenewalOutcome.DOWNSELL]


def _ensure_next_agendas(regions: dict[str, Region], now: dt.datetime, report: SeedReport) -> None:
    """Each region's next weekly review agenda, built by the real generator from
    the records above, as the scheduler will do ahead of the meeting."""
    for region in regions.values():
        week_start, _ = next_meeting(region, now)
        if Agenda.objects.filter(region=region, week_start=week_start).exists():
            report.present["agendas"] += 1
            continue
        agenda_generate(region=region, week_start=week_start, now=now)
        report.created["agendas"] += 1


def _ensure_rules(admin: User, today: dt.date, report: SeedReport) -> None:
    rules = demo_rules.ensure_rules(admin, today)
    report.created["rules"] += rules.created
    report.present["rules"] += rules.present
    report.created["rule_matches"] += rules.matched
    report.created["rule_actions"] += rules.acted


def _ensure_playbooks(admin: User, report: SeedReport) -> None:
    created, present = demo_playbooks.ensure_playbooks(admin)
    report.created["playbooks"] += created
    report.present["playbooks"] += present


def _ensure_regions(report: SeedReport) -> dict[str, Region]:
    regions = {}
    for code, name, timezone_name, weekday, review_time in REGIONS:
        # get_or_create rather than update_or_create: a meeting slot an admin moved stays moved.
        region, created = Region.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "timezone": timezone_name,
                "review_weekday": weekday,
                "review_time": review_time,
            },
        )
        (report.created if created else report.present)["regions"] += 1
        regions[code] = region
    return regions


def _ensure_users(
    people: list[Person], regions: dict[str, Region], report: SeedReport
) -> dict[str, User]:
    logins = [person.login for person in people]
    users = {user.username: user for user in User.objects.filter(username__in=logins)}
    # One hash for all new demo users: hashing each "demo" separately would take
    # seconds with the production hasher and protect nothing.
    password = make_password(DEMO_PASSWORD) if len(users) < len(logins) else ""
    for person in people:
        if person.login in users:
            report.present["users"] += 1
            continue
        users[person.login] = User.objects.create(
            username=person.login,
            password=password,
            first_name=person.first_name,
            last_name=person.last_name,
            email=person.email,
            role=person.role,
            region=regions[person.region] if person.region else None,
            manager=users.get(person.manager) if person.manager else None,
            department=person.department,
            is_staff=person.is_staff,
            is_superuser=person.is_superuser,
        )
        report.created["users"] += 1
    return users


def _ensure_accounts(
    plans: list[AccountPlan],
    regions: dict[str, Region],
    users: dict[str, User],
    report: SeedReport,
) -> list[Account]:
    segments = {}
    for code, name in SEGMENTS:
        # Seeded by a migration; created here only if an admin deleted one.
        segments[code], _ = Segment.objects.get_or_create(code=code, defaults={"name": name})
    ids = [plan.external_id for plan in plans]
    existing = set(
        Account.objects.filter(external_id__in=ids).values_list("external_id", flat=True)
    )
    Account.objects.bulk_create(
        Account(
            external_id=plan.external_id,
            name=plan.name,
            region=regions[plan.region],
            segment=segments[plan.segment],
            arr=plan.arr,
            renewal_date=plan.renewal_date,
            csm=users[plan.csm],
        )
        for plan in plans
        if plan.external_id not in existing
    )
    report.present["accounts"] += len(existing)
    report.created["accounts"] += len(plans) - len(existing)
    by_id = {
        account.external_id: account
        for account in Account.objects.filter(external_id__in=ids).select_related(
            "csm__manager", "region", "segment"
        )
    }
    return [by_id[external_id] for external_id in ids]


def _share(amount: Decimal, share: Decimal) -> Decimal:
    return amount if share == 1 else min(amount, _whole_hundreds(amount * share))


def _write_risks(
    plans: list[_RiskPlan],
    accounts: list[Account],
    users: dict[str, User],
    now: dt.datetime,
    report: SeedReport,
) -> None:
    admin = users["admin"]
    causes = {cause.code: cause for cause in RootCause.objects.filter(code__in=CAUSES)}
    missing = sorted(set(CAUSES) - set(causes))
    if missing:
        raise DemoDataError(
            "The default root causes are missing (" + ", ".join(missing) + "); run migrate first."
        )
    with_risks = set(
        RiskRecord.objects.filter(account__in=accounts).values_list("account_id", flat=True)
    )
    report.present["accounts_with_risks"] = len(with_risks)
    todo = [plan for plan in plans if accounts[plan.account_index].pk not in with_risks]

    def actors(account: Account) -> dict[str, User]:
        csm = account.csm
        # An account moved to a manager, or to a CSM without one, still needs
        # someone with authority to have decided its escalations.
        manager = csm.manager or (csm if csm.role == Role.MANAGER else admin)
        return {"csm": csm, "manager": manager}

    records = []
    for plan in todo:
        account = accounts[plan.account_index]
        people = actors(account)
        arr_at_risk = _share(account.arr, plan.arr_share)
        records.append(
            RiskRecord(
                account=account,
                primary_cause=causes[plan.primary],
                secondary_cause=causes[plan.secondary] if plan.secondary else None,
                tier=plan.tier,
                max_tier=plan.max_tier,
                status=plan.status,
                summary=plan.summary,
                next_steps=plan.next_steps,
                arr_at_risk=arr_at_risk,
                arr_retained=None
                if plan.retained_share is None
                else _share(arr_at_risk, plan.retained_share),
                opened_by=people["csm"],
                opened_at=plan.opened_at,
                tier_changed_at=plan.tier_changed_at,
                closed_by=people[plan.closed_by] if plan.closed_by else None,
                closed_at=plan.closed_at,
                outcome_note=plan.outcome_note,
                version=plan.version,
            )
        )
    RiskRecord.objects.bulk_create(records)
    # As closing through the service does: a churned record churns its account.
    churned_accounts = []
    for plan, record in zip(todo, records, strict=True):
        if plan.status == RiskStatus.CHURNED:
            record.account.status = AccountStatus.CHURNED
            record.account.churned_on = timezone.localdate(plan.closed_at)
            churned_accounts.append(record.account)
    Account.objects.bulk_update(churned_accounts, ["status", "churned_on"])

    escalations: list[list[Escalation]] = []
    for plan, record in zip(todo, records, strict=True):
        people = actors(record.account)
        escalations.append(
            [
                Escalation(
                    risk=record,
                    from_tier=item.from_tier,
                    to_tier=item.from_tier + 1,
                    status=item.status,
                    reason=item.reason,
                    requested_by=people[item.requested_by],
                    requested_at=item.requested_at,
                    decided_by=people[item.decided_by] if item.decided_by else None,
                    decided_at=item.decided_at,
                    decision_note=item.decision_note,
                )
                for item in plan.escalations
            ]
        )
    Escalation.objects.bulk_create(item for items in escalations for item in items)

    # Each record's play, as risk_open gives it at the opening, and its tasks.
    cache = demo_playbooks.PlaybookCache()
    reviewers = demo_playbooks.department_reviewers(users)
    plays = [
        demo_playbooks.record_tasks(
            record=record, playbooks=cache, reviewers=reviewers, seed=plan.task_seed, now=now
        )
        for plan, record in zip(todo, records, strict=True)
    ]
    Task.objects.bulk_create(task for _, tasks in plays for task in tasks)

    events = []
    for plan, record, record_escalations, (playbook, tasks) in zip(
        todo, records, escalations, plays, strict=True
    ):
        people = actors(record.account)
        record_events = []
        for event in plan.events:
            data = dict(event.data)
            if event.kind == TimelineKind.OPENED:
                data["arr_at_risk"] = str(record.arr_at_risk)
            elif event.kind == TimelineKind.CLOSED:
                data["arr_at_risk"] = str(record.arr_at_risk)
                data["arr_retained"] = str(record.arr_retained)
            if event.escalation is not None:
                escalation = record_escalations[event.escalation]
                data[event.escalation_key] = escalation.pk
                if event.kind != TimelineKind.CLOSED:
                    data["from_tier"] = escalation.from_tier
                    data["to_tier"] = escalation.to_tier
                if event.kind == TimelineKind.ESCALATION_APPROVED:
                    data["self_approved"] = escalation.requested_by_id == escalation.decided_by_id
            record_events.append(
                TimelineEvent(
                    risk=record,
                    kind=event.kind,
                    actor=people[event.actor],
                    at=event.at,
                    text=event.text,
                    data=data,
                )
            )
        record_events[1:1] = _playbook_events(record, playbook, tasks)
        # Stable: at one moment the events keep their order (opened, then the play).
        events += sorted(record_events, key=lambda event: event.at)
    TimelineEvent.objects.bulk_create(events)

    report.created["risk_records"] += len(records)
    report.created["open"] += sum(record.status == RiskStatus.OPEN for record in records)
    report.created["closed"] += sum(record.status != RiskStatus.OPEN for record in records)
    flat = [item for items in escalations for item in items]
    report.created["escalations"] += len(flat)
    report.created["pending_escalations"] += sum(
        item.status == EscalationStatus.PENDING for item in flat
    )
    report.created["timeline_events"] += len(events)
    all_tasks = [task for _, tasks in plays for task in tasks]
    report.created["tasks"] += len(all_tasks)
    report.created["tasks_done"] += sum(task.done_at is not None for task in all_tasks)
    report.created["tasks_overdue"] += sum(
        task.done_at is None
        and task.risk.status == RiskStatus.OPEN
        and task.due_date < task.risk.account.local_date(now)
        for task in all_tasks
    )


def _playbook_events(
    record: RiskRecord, playbook: Playbook | None, tasks: list[Task]
) -> list[TimelineEvent]:
    """The events apply_playbook and task_set_done write: the play started at
    the opening, by the opener, then each task done, by who did it."""
    if playbook is None or not tasks:
        return []
    count = len(tasks)
    started = TimelineEvent(
        risk=record,
        kind=TimelineKind.PLAYBOOK_STARTED,
        actor=record.opened_by,
        at=record.opened_at,
        text=f"{playbook.name}: {count} task{'' if count == 1 else 's'}.",
        data={"playbook": playbook.pk, "playbook_name": playbook.name, "tasks": count},
    )
    done = [
        TimelineEvent(
            risk=record,
            kind=TimelineKind.TASK_DONE,
            actor=task.done_by,
            at=task.done_at,
            text=task.title,
            data={"task": task.pk, "source": task.source},
        )
        for task in tasks
        if task.done_at is not None
    ]
    return [started, *done]
