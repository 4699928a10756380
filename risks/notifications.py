"""The emails of the escalation workflow (a request to the approver, the
decision to the requester, the daily reminder of requests waiting more than
two business days) and the daily reminder of overdue tasks. Each is written
to the outbox (``notifications.outbox``) in the transaction of the change
that causes it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from accounts.selectors import cs_admins
from core import business_days
from notifications.models import OutboundMessage
from notifications.outbox import absolute_url, addresses, queue_email

from . import integrations
from .links import risk_url
from .models import Escalation, EscalationStatus, RiskStatus, Task

logger = logging.getLogger(__name__)


class Kind:
    ESCALATION_REQUESTED = "escalation_requested"
    ESCALATION_DECIDED = "escalation_decided"
    ESCALATION_REMINDER = "escalation_reminder"
    TASKS_OVERDUE = "tasks_overdue"


def _admins() -> list[User]:
    return list(cs_admins())


def _approvers(escalation: Escalation, admins: list[User] | None = None) -> list[User]:
    """The manager of the account's CSM; without one (or without an address),
    the CS operations admins, who may decide any escalation."""
    manager = escalation.risk.account.csm.manager
    if manager is not None and manager.is_active and manager.email.strip():
        return [manager]
    return _admins() if admins is None else admins


def _render(template: str, context: dict[str, Any]) -> str:
    return render_to_string(f"email/{template}", context)


def escalation_requested(escalation: Escalation) -> OutboundMessage | None:
    """A CSM asked to move a record up a tier: tell whoever approves it."""
    risk = escalation.risk
    account = risk.account
    approvers = _approvers(escalation)
    return queue_email(
        dedupe_key=f"escalation-requested:{escalation.pk}",
        kind=Kind.ESCALATION_REQUESTED,
        to=addresses(approvers),
        subject=f"Escalation to tier {escalation.to_tier} requested: {account.name}",
        body=_render(
            "escalation_requested.txt",
            {
                "escalation": escalation,
                "risk": risk,
                "account": account,
                "requester": escalation.requested_by,
                "approvers": approvers,
                "url": risk_url(risk.pk),
            },
        ),
    )


def escalation_decided(escalation: Escalation) -> OutboundMessage | None:
    """Tell the requester that their escalation was approved or rejected."""
    if escalation.status not in (EscalationStatus.APPROVED, EscalationStatus.REJECTED):
        return None
    requester = escalation.requested_by
    if escalation.decided_by_id == requester.pk:
        return None  # approved at once by the requester themselves
    risk = escalation.risk
    account = risk.account
    outcome = escalation.get_status_display().lower()
    return queue_email(
        dedupe_key=f"escalation-decided:{escalation.pk}",
        kind=Kind.ESCALATION_DECIDED,
        to=addresses([requester]),
        subject=f"Escalation to tier {escalation.to_tier} {outcome}: {account.name}",
        body=_render(
            "escalation_decided.txt",
            {
                "escalation": escalation,
                "outcome": outcome,
                "risk": risk,
                "account": account,
                "decider": escalation.decided_by,
                "url": risk_url(risk.pk),
            },
        ),
    )


def escalation_reminders(*, now: dt.datetime | None = None) -> int:
    """One email per approver listing the escalations that have waited more than
    two business days (on their region's wall clock). At most one per approver
    per UTC day. Returns how many emails are queued for today (a re-run counts
    the rows it found already queued)."""
    now = now or timezone.now()
    # More than N business days means more than N calendar days: a cheap SQL
    # pre-filter before the exact count in Python.
    candidates = (
        Escalation.objects.filter(
            status=EscalationStatus.PENDING,
            requested_at__lt=now - dt.timedelta(days=business_days.OVERDUE_AFTER_BUSINESS_DAYS),
        )
        .select_related("risk__account__region", "risk__account__csm__manager", "requested_by")
        .order_by("requested_at", "pk")
    )
    admins: list[User] | None = None
    by_approver: dict[int, tuple[User, list[Escalation]]] = {}
    for escalation in candidates:
        days = business_days.business_days_between(
            escalation.requested_at, now, escalation.risk.account.region.timezone
        )
        if not business_days.is_overdue(days):
            continue
        escalation.business_days_waiting = days
        if admins is None:
            admins = _admins()  # one query, only when something is overdue
        for approver in _approvers(escalation, admins):
            by_approver.setdefault(approver.pk, (approver, []))[1].append(escalation)

    day = now.astimezone(dt.UTC).date()
    queued = 0
    for approver, escalations in by_approver.values():
        row = queue_email(
            dedupe_key=f"escalation-reminder:{approver.pk}:{day.isoformat()}",
            kind=Kind.ESCALATION_REMINDER,
            to=addresses([approver]),
            subject=(
                f"{len(escalations)} escalation{'s' if len(escalations) != 1 else ''} "
                "waiting for your decision for more than two business days"
            ),
            body=_render(
                "escalation_reminder.txt",
                {
                    "approver": approver,
                    "escalations": [
                        {"escalation": escalation, "url": risk_url(escalation.risk_id)}
                        for escalation in escalations
                    ],
                    "queue_url": absolute_url(reverse("risks:approvals")),
                },
            ),
        )
        queued += row is not None
    return queued


def _department_reviewers() -> dict[tuple[int, str], list[User]]:
    """Active reviewers with an address by (region, department): one query."""
    found: dict[tuple[int, str], list[User]] = {}
    reviewers = (
        User.objects.filter(role=Role.REVIEWER, is_active=True, region__isnull=False)
        .exclude(department="")
        .exclude(email="")
        .order_by("pk")
    )
    for reviewer in reviewers:
        found.setdefault((reviewer.region_id, reviewer.department), []).append(reviewer)
    return found


def task_reminders(*, now: dt.datetime | None = None) -> int:
    """One email per person listing their open tasks past their due date, on
    open records only (a closed record's tasks are no one's to chase). A task
    is overdue once its due date is before today in its account's region. A
    department's task goes to that department's reviewers in the account's
    region. People on the weekly digest get none: it lists their tasks. At
    most one email per person and UTC day (the outbox's dedupe key); returns
    how many are queued for that day (a re-run counts the rows it found
    already queued). Two queries and one per email. The same run sends the
    task.overdue webhook event of each overdue task (``integrations``)."""
    now = now or timezone.now()
    try:
        # In a savepoint: a failure of the events must not stop the emails.
        with transaction.atomic():
            integrations.tasks_overdue(now=now)
    except Exception:
        logger.exception("The task.overdue webhook events failed; the emails go on.")
    day = now.astimezone(dt.UTC).date()
    # Every region's date is within a day of UTC's: a cheap SQL pre-filter
    # before the exact local date of each task's region.
    candidates = (
        Task.objects.filter(
            done_at__isnull=True,
            due_date__lt=day + dt.timedelta(days=1),
            risk__status=RiskStatus.OPEN,
        )
        .select_related("risk__account__region", "owner")
        .order_by("due_date", "pk")
    )
    reviewers: dict[tuple[int, str], list[User]] | None = None
    by_person: dict[int, tuple[User, list[dict[str, Any]]]] = {}
    for task in candidates:
        today = task.risk.account.local_date(now)
        if task.due_date >= today:
            continue
        if task.owner is not None:
            people = [task.owner]
        elif task.department:
            if reviewers is None:
                reviewers = _department_reviewers()
            people = reviewers.get((task.risk.account.region_id, task.department), [])
        else:
            people = []
        entry = {
            "task": task,
            "days_late": (today - task.due_date).days,
            "url": risk_url(task.risk_id),
        }
        for person in people:
            by_person.setdefault(person.pk, (person, []))[1].append(entry)

    tasks_url = absolute_url(reverse("tasks:index"))
    queued = 0
    for person, entries in by_person.values():
        if person.weekly_digest:
            continue  # their weekly digest lists these tasks (risks.digest)
        row = queue_email(
            dedupe_key=f"tasks-overdue:{person.pk}:{day.isoformat()}",
            kind=Kind.TASKS_OVERDUE,
            to=addresses([person]),
            subject=(
                f"{len(entries)} overdue task{'s' if len(entries) != 1 else ''} on risk records"
            ),
            body=_render(
                "tasks_overdue.txt",
                {"person": person, "tasks": entries, "tasks_url": tasks_url},
            ),
        )
        queued += row is not None
    return queued
