"""Reads that feed pages, exports and reports. They own select_related /
prefetch_related / annotate so that no list costs a query per row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.core.validators import slug_re
from django.db.models import (
    Case,
    Count,
    F,
    FilteredRelation,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Account, AccountStatus, HealthBand, User
from accounts.rules import team_q
from core import business_days
from health.selectors import with_health_trend

from .models import (
    Escalation,
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    Task,
    Tier,
    TimelineEvent,
)


def with_open_risk(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """``accounts`` with ``open_risk_id`` and ``open_risk_tier`` of each account's
    open record (None without one).

    A LEFT JOIN on the open record is enough: the database allows at most one
    open record per account, so the join never multiplies rows.
    """
    return accounts.annotate(
        open_risk_rel=FilteredRelation("risks", condition=Q(risks__status=RiskStatus.OPEN)),
        open_risk_id=F("open_risk_rel__id"),
        open_risk_tier=F("open_risk_rel__tier"),
    )


def risk_queryset() -> QuerySet[RiskRecord]:
    """Risk records with everything a list row shows, in a fixed number of queries."""
    return RiskRecord.objects.select_related(
        "account__region",
        "account__segment",
        "account__csm__manager",
        "primary_cause",
        "secondary_cause",
    )


# --- home and approvals ---


def team_scope(user: User, *, prefix: str = "account__") -> Q:
    """Records (or, with ``prefix=""``, accounts) owned by ``user`` or by people
    whose manager they are."""
    return team_q(user, f"{prefix}csm")


def escalation_queryset() -> QuerySet[Escalation]:
    """Escalations with everything an approval row shows."""
    return Escalation.objects.select_related(
        "risk__account__region",
        "risk__account__csm",
        "risk__primary_cause",
        "requested_by",
        "decided_by",
    )


def approval_queue(user: User, *, region_code: str | None = None) -> QuerySet[Escalation]:
    """Pending escalations the user decides, oldest first: all of them for an
    admin, their team's for a manager, none for anyone else."""
    queue = escalation_queryset().filter(status=EscalationStatus.PENDING)
    if not user.is_cs_admin:
        if not user.is_manager:
            return queue.none()
        queue = queue.filter(team_scope(user, prefix="risk__account__"))
    if region_code:
        # A code that cannot exist (not a slug: e.g. a NUL that came in encoded
        # in a "next" link) matches nothing rather than reaching the database.
        if not slug_re.match(region_code):
            return queue.none()
        queue = queue.filter(risk__account__region__code=region_code)
    return queue.order_by("requested_at", "pk")


def with_waiting_time(
    escalations: Iterable[Escalation], *, now: dt.datetime | None = None
) -> list[Escalation]:
    """Sets ``business_days_waiting`` and ``overdue`` on each escalation, counted
    on the wall clock of the account's region (its weekend is the one that
    matters). Pure Python over loaded rows: no query."""
    now = now or business_days.current_time()
    rows = list(escalations)
    for escalation in rows:
        if escalation.status == EscalationStatus.PENDING:
            days = business_days.business_days_between(
                escalation.requested_at, now, escalation.risk.account.region.timezone
            )
        else:
            days = 0
        escalation.business_days_waiting = days
        escalation.overdue = (
            escalation.status == EscalationStatus.PENDING and business_days.is_overdue(days)
        )
    return rows


def pending_escalations_requested_by(user: User) -> QuerySet[Escalation]:
    return (
        escalation_queryset()
        .filter(status=EscalationStatus.PENDING, requested_by=user)
        .order_by("requested_at", "pk")
    )


def open_risks(scope: Q | None = None) -> QuerySet[RiskRecord]:
    """Open records in ``scope`` (all if None), highest tier first, then the
    soonest renewal: the order in which they need attention."""
    risks = risk_queryset().filter(status=RiskStatus.OPEN)
    if scope is not None:
        risks = risks.filter(scope)
    return risks.order_by("-tier", "account__renewal_date", "-arr_at_risk", "pk")


def open_risk_totals_by_tier(scope: Q | None = None) -> list[dict]:
    """Count and ARR at risk of the open records in ``scope`` per tier, highest
    tier first, every tier present (zero when empty). One aggregate query."""
    risks = RiskRecord.objects.filter(status=RiskStatus.OPEN)
    if scope is not None:
        risks = risks.filter(scope)
    rows = {
        row["tier"]: row
        for row in risks.order_by()
        .values("tier")
        .annotate(count=Count("pk"), arr_at_risk=Sum("arr_at_risk"))
    }
    return [
        {
            "tier": tier,
            "count": rows.get(tier, {}).get("count", 0),
            "arr_at_risk": rows.get(tier, {}).get("arr_at_risk") or 0,
        }
        for tier in sorted(Tier.values, reverse=True)
    ]


def tier3_risks_for_review(region_id: int | None) -> QuerySet[RiskRecord]:
    """Open tier-3 records of a region (all regions if None), soonest renewal
    first, then the larger ARR at risk: the order of the weekly review."""
    risks = risk_queryset().filter(status=RiskStatus.OPEN, tier=Tier.REVIEW)
    if region_id is not None:
        risks = risks.filter(account__region_id=region_id)
    return risks.order_by("account__renewal_date", "-arr_at_risk", "pk")


def accounts_renewing_soon(
    user: User, *, days: int = 90, today: dt.date | None = None
) -> QuerySet[Account]:
    """The user's active accounts renewing within ``days`` from today, with the tier and
    id of their open risk record (None without one) annotated in the same query."""
    today = today or timezone.localdate()
    return with_open_risk(
        Account.objects.filter(
            csm=user,
            status=AccountStatus.ACTIVE,
            renewal_date__gte=today,
            renewal_date__lte=today + dt.timedelta(days=days),
        )
    ).order_by("renewal_date", "name")


# --- list page ---


def risk_list_queryset() -> QuerySet[RiskRecord]:
    """Rows of the risk list page: ``risk_queryset`` without the long texts the
    table does not show (the template must not read them: each would be a query),
    with the account's score of 30 days ago for the health badge (a subquery)."""
    return with_health_trend(
        risk_queryset().defer("summary", "next_steps", "outcome_note"), account_ref="account_id"
    )


def risk_export_queryset() -> QuerySet[RiskRecord]:
    """Rows of the CSV export: every column of a list row plus the texts."""
    return risk_queryset()


# --- detail page ---
# (and the filing page, which belongs to the same page group)

ACCOUNT_CHOICES_LIMIT = 200


def fileable_accounts(user: User, *, search: str = "") -> QuerySet[Account]:
    """Active accounts ``user`` may file a risk record on, as ``rules.can_file_on``
    decides one by one: a CSM's own, a manager's own and their team's, all for
    an admin, none for anyone else (a churned account takes no new record).
    ``search`` narrows by name or CRM id.
    ``open_risk_id`` is annotated so the list can warn before a second filing."""
    accounts = with_open_risk(
        Account.objects.select_related("region").filter(status=AccountStatus.ACTIVE)
    ).order_by("name", "pk")
    if user.is_cs_admin:
        pass
    elif user.is_manager:
        accounts = accounts.filter(team_scope(user, prefix=""))
    elif user.is_csm:
        accounts = accounts.filter(csm=user)
    else:
        return accounts.none()
    search = search.strip()
    if search:
        accounts = accounts.filter(Q(name__icontains=search) | Q(external_id__icontains=search))
    return accounts


def risk_detail_queryset() -> QuerySet[RiskRecord]:
    """One record with everything the detail page shows about it and its account."""
    return risk_queryset().select_related("opened_by", "closed_by")


def risk_timeline(risk: RiskRecord) -> list:
    """Every event of the record, newest first, with its actor: one query."""
    return list(risk.events.select_related("actor").order_by("-at", "-pk"))


def risk_escalations(risk: RiskRecord) -> list[Escalation]:
    """Every escalation of the record, newest first, with who asked and who decided."""
    return list(
        risk.escalations.select_related("requested_by", "decided_by").order_by(
            "-requested_at", "-pk"
        )
    )


# --- API ---


def risk_api_queryset() -> QuerySet[RiskRecord]:
    """Risk records with what the API representation reads besides ids: the
    account's name and region code and the causes' codes."""
    return RiskRecord.objects.select_related("account__region", "primary_cause", "secondary_cause")


def escalation_api_queryset() -> QuerySet[Escalation]:
    """Escalations for the API, newest first. The representation refers to the
    risk and the people by id only, so it needs no join."""
    return Escalation.objects.order_by("-requested_at", "-pk")


def risk_timeline_oldest_first(risk: RiskRecord) -> QuerySet[TimelineEvent]:
    """Every event of the record in the order it happened. The API refers to
    the actor by id, so it needs no join; callers paginate it."""
    return TimelineEvent.objects.filter(risk=risk).order_by("at", "pk")


# --- customer accounts pages and API ---


def account_queryset() -> QuerySet[Account]:
    """Accounts with what a list row shows: their open record's id and tier,
    and their score of 30 days ago for the health badge (a subquery)."""
    return with_health_trend(
        with_open_risk(Account.objects.select_related("region", "segment", "csm__manager"))
    ).order_by("name", "pk")


def account_api_queryset() -> QuerySet[Account]:
    """Accounts as the API shows them: region, segment and CSM joined, and the
    id of the open record."""
    return with_open_risk(Account.objects.select_related("region", "segment", "csm"))


def account_detail(pk: int) -> Account:
    """The account with its region, segment, CSM and the CSM's manager, and its
    score of 30 days ago for the health badge, or 404."""
    return get_object_or_404(
        with_health_trend(Account.objects.select_related("region", "segment", "csm__manager")),
        pk=pk,
    )


def account_risks(account: Account) -> list[RiskRecord]:
    """Every risk record of ``account``, newest first, with their causes (one query).
    The account is set on each record so reading ``risk.account`` costs nothing."""
    risks = list(
        RiskRecord.objects.filter(account=account)
        .select_related("primary_cause", "secondary_cause")
        .order_by("-opened_at", "-pk")
    )
    for risk in risks:
        risk.account = account
    return risks


# --- the Health page ---
# (the health figures themselves are health.selectors; this part needs the records)


def red_accounts_without_open_risk(accounts: QuerySet[Account]) -> QuerySet[Account]:
    """The accountability list: active red accounts of ``accounts`` that have no
    open risk record, soonest renewal first, then the larger ARR. One query,
    with the CSM (and their manager, for ``rules.can_file_on``) joined and the
    score of 30 days ago for the badge."""
    return with_health_trend(
        accounts.filter(status=AccountStatus.ACTIVE, health_band=HealthBand.RED)
        .exclude(risks__status=RiskStatus.OPEN)
        .select_related("region", "segment", "csm")
    ).order_by("renewal_date", "-arr", "name", "pk")


# --- tasks ---


class TaskState:
    OPEN = "open"
    DONE = "done"
    ALL = "all"


def task_queryset() -> QuerySet[Task]:
    """Tasks with everything a list row shows (record, account, owner)."""
    return Task.objects.select_related(
        "risk__account__region", "risk__account__csm", "owner", "done_by"
    )


def overdue_q(today: dt.date) -> Q:
    return Q(done_at__isnull=True, due_date__lt=today)


def ordered_tasks(tasks: QuerySet[Task], today: dt.date) -> QuerySet[Task]:
    """Overdue first, then the other open tasks, then the done ones; each by
    due date (none last)."""
    rank = Case(
        When(overdue_q(today), then=Value(0)),
        When(done_at__isnull=True, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    return tasks.annotate(rank=rank).order_by("rank", F("due_date").asc(nulls_last=True), "id")


def mine_q(user: User) -> Q:
    """A person's tasks: those they own, and for a reviewer of a department,
    that department's tasks with no single owner (in their region when they
    have one)."""
    mine = Q(owner=user)
    if user.department:
        department = Q(owner__isnull=True, department=user.department)
        if user.region_id is not None:
            department &= Q(risk__account__region_id=user.region_id)
        mine |= department
    return mine


def task_list(
    *,
    user: User | None = None,
    team_of: User | None = None,
    owner: User | None = None,
    department: str = "",
    source: str = "",
    risk: int | None = None,
    state: str = TaskState.OPEN,
    overdue: bool = False,
    due_before: dt.date | None = None,
    include_closed: bool = False,
    today: dt.date | None = None,
) -> QuerySet[Task]:
    """Tasks, overdue first. ``user`` keeps that person's own (``mine_q``),
    ``team_of`` those on the records of a manager's team; tasks of closed
    records are left out unless ``include_closed``."""
    today = today or timezone.localdate()
    tasks = task_queryset()
    if user is not None:
        tasks = tasks.filter(mine_q(user))
    if team_of is not None:
        tasks = tasks.filter(team_scope(team_of, prefix="risk__account__"))
    if owner is not None:
        tasks = tasks.filter(owner=owner)
    if department:
        tasks = tasks.filter(department=department)
    if source:
        tasks = tasks.filter(source=source)
    if risk is not None:
        tasks = tasks.filter(risk_id=risk)
    if state == TaskState.OPEN:
        tasks = tasks.filter(done_at__isnull=True)
    elif state == TaskState.DONE:
        tasks = tasks.filter(done_at__isnull=False)
    if overdue:
        tasks = tasks.filter(overdue_q(today))
    if due_before is not None:
        tasks = tasks.filter(done_at__isnull=True, due_date__lte=due_before)
    if not include_closed:
        tasks = tasks.filter(risk__status=RiskStatus.OPEN)
    return ordered_tasks(tasks, today)


def risk_tasks(risk: RiskRecord, today: dt.date | None = None) -> list[Task]:
    """A record's tasks for its page: overdue first, done last. One query."""
    tasks = Task.objects.filter(risk=risk).select_related("owner", "done_by")
    return list(ordered_tasks(tasks, today or timezone.localdate()))


def team_overdue_task_count(manager: User, today: dt.date | None = None) -> int:
    """Open tasks past due on the open records of a manager's team. One query."""
    return Task.objects.filter(
        overdue_q(today or timezone.localdate()),
        team_scope(manager, prefix="risk__account__"),
        risk__status=RiskStatus.OPEN,
    ).count()
