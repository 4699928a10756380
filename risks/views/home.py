"""The home page: what needs the signed-in person's attention, by role."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from .. import selectors

# The home page lists at most this many open records; the risk list has them all.
OPEN_RISKS_SHOWN = 50
# ... and at most this many tasks; My tasks has them all.
TASKS_SHOWN = 20
RENEWAL_WINDOW_DAYS = 90


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    # An admin who also owns accounts still needs the admin's overview first.
    if user.is_cs_admin:
        return _approver_home(request, scope=None, template="home/admin.html")
    if user.is_manager:
        scope = selectors.team_scope(user)
        return _approver_home(request, scope=scope, template="home/manager.html")
    if user.is_reviewer:
        return _reviewer_home(request)
    return _csm_home(request)


def _totals(scope: Q | None) -> dict[str, Any]:
    by_tier = selectors.open_risk_totals_by_tier(scope)
    return {
        "by_tier": by_tier,
        "count": sum(row["count"] for row in by_tier),
        "arr_at_risk": sum(row["arr_at_risk"] for row in by_tier),
    }


def _csm_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    scope = Q(account__csm=user)
    totals = _totals(scope)
    pending = selectors.with_waiting_time(selectors.pending_escalations_requested_by(user))
    renewals = list(selectors.accounts_renewing_soon(user, days=RENEWAL_WINDOW_DAYS))
    today = timezone.localdate()
    end_of_week = today + dt.timedelta(days=6 - today.weekday())
    due = selectors.task_list(user=user, due_before=end_of_week, today=today)
    tasks = list(due[:TASKS_SHOWN])
    return render(
        request,
        "home/csm.html",
        {
            "totals": totals,
            "risks": list(selectors.open_risks(scope)),
            "pending": pending,
            "renewals": renewals,
            "renewal_window_days": RENEWAL_WINDOW_DAYS,
            "tasks": tasks,
            "tasks_count": due.count(),
        },
    )


def _approver_home(request: HttpRequest, *, scope: Q | None, template: str) -> HttpResponse:
    """Managers see their team; admins see everything, with the same layout."""
    queue = selectors.with_waiting_time(selectors.approval_queue(request.user))
    totals = _totals(scope)
    risks = list(selectors.open_risks(scope)[:OPEN_RISKS_SHOWN])
    return render(
        request,
        template,
        {
            "escalations": queue,
            "overdue_count": sum(1 for escalation in queue if escalation.overdue),
            "totals": totals,
            "risks": risks,
            "risks_truncated": totals["count"] > len(risks),
            "team_overdue_tasks": (
                selectors.team_overdue_task_count(request.user) if scope is not None else None
            ),
            "next_url": request.get_full_path(),
        },
    )


def _reviewer_home(request: HttpRequest) -> HttpResponse:
    region = request.user.region
    risks = list(selectors.tier3_risks_for_review(region.pk if region else None))
    return render(
        request,
        "home/reviewer.html",
        {
            "region": region,
            "risks": risks,
            "arr_at_risk": sum(risk.arr_at_risk for risk in risks),
        },
    )
