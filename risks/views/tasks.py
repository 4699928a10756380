"""The task pages: *My tasks* (mine and my department's, overdue first,
filterable), and marking a task done or open again.

The done toggle serves three callers:

- a plain form post (no JavaScript): a message and a redirect back to ``next``
  (the page the button was on) or the record;
- htmx from a record's task list (``HX-Target`` is ``risk-tasks``): that list,
  re-rendered;
- htmx from a row of the task list (``HX-Target`` is ``task-<id>``): that row.

htmx answers always carry status 200 (htmx 2 swaps no 4xx answer) and the
page's messages out of band.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from core.exceptions import Conflict, InvalidInput
from core.redirects import safe_next_url

from .. import rules, selectors, services
from ..models import RiskRecord, Task
from ..task_forms import TaskDue, TaskFilterForm, TaskForm, TaskScope

TASKS_PER_PAGE = 50


def mark_tasks(tasks: list[Task], user: User) -> list[Task]:
    """Attach whether the user may tick each task. The tasks' records and
    accounts must be loaded."""
    for task in tasks:
        task.may_mark = rules.can_mark_task(user, task)
    return tasks


def record_tasks_context(request: HttpRequest, risk: RiskRecord) -> dict:
    """What the record's task list shows: its open tasks (overdue first) and
    its done ones (collapsed)."""
    today = timezone.localdate()
    tasks = selectors.risk_tasks(risk, today)
    for task in tasks:
        task.risk = risk  # already loaded with its account: no query per task
    mark_tasks(tasks, request.user)
    return {
        "open_tasks": [task for task in tasks if task.done_at is None],
        "done_tasks": [task for task in tasks if task.done_at is not None],
        "may_add_task": risk.is_open and rules.can_add_task(request.user, risk),
    }


def new_task_form(risk: RiskRecord, data: dict | None = None) -> TaskForm:
    return TaskForm(data, initial={"owner": risk.account.csm_id}, auto_id="task_%s")


@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = TaskFilterForm(request.GET, user=user)
    valid = form.is_valid()
    filters = form.cleaned_data if valid else {"scope": TaskScope.MINE, "state": "open"}
    today = timezone.localdate()
    end_of_week = today + dt.timedelta(days=6 - today.weekday())
    tasks = selectors.task_list(
        user=user if filters["scope"] == TaskScope.MINE else None,
        team_of=user if filters["scope"] == TaskScope.TEAM else None,
        owner=filters.get("owner"),
        department=filters.get("department") or "",
        source=filters.get("source") or "",
        state=filters["state"],
        overdue=filters.get("due") == TaskDue.OVERDUE,
        due_before=end_of_week if filters.get("due") == TaskDue.WEEK else None,
        include_closed=bool(filters.get("include_closed")),
        today=today,
    )
    if not valid:
        tasks = tasks.none()
    page_obj = Paginator(tasks, TASKS_PER_PAGE).get_page(request.GET.get("page"))
    rows = mark_tasks(list(page_obj.object_list), user)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "tasks/list.html",
        {
            "form": form,
            "page_obj": page_obj,
            "tasks": rows,
            "scope": filters["scope"],
            "query_without_page": query.urlencode(),
            "next_url": request.get_full_path(),
            "filtered": any(request.GET.get(name) for name in form.fields),
        },
    )


@require_POST
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(Task.objects.select_related("risk"), pk=pk)
    done = request.POST.get("done", "") in ("1", "true", "on")
    try:
        task = services.task_set_done(user=request.user, task=task, done=done)
    except (InvalidInput, Conflict) as error:
        messages.error(request, error.message)
    else:
        state = "done" if done else "open again"
        messages.success(request, f"Task \u201c{task.title[:80]}\u201d marked {state}.")
    target = request.htmx.target if request.htmx else ""
    if target == "risk-tasks":
        risk = get_object_or_404(selectors.risk_detail_queryset(), pk=task.risk_id)
        context = {
            "risk": risk,
            "htmx_swap": True,
            "task_form": new_task_form(risk),
            # A task just ticked done moves to the done list: keep that list
            # open so its Reopen button (which keeps the focus) is in view.
            "show_done": task.done_at is not None,
        }
        context.update(record_tasks_context(request, risk))
        context["next_url"] = reverse("risks:detail", args=[risk.pk])
        return render(request, "risks/_detail_tasks.html", context)
    if target == f"task-{task.pk}":
        row = selectors.task_queryset().get(pk=task.pk)
        mark_tasks([row], request.user)
        return render(
            request,
            "tasks/_row.html",
            {"task": row, "htmx_swap": True, "next_url": safe_next_url(request)},
        )
    return redirect(safe_next_url(request) or reverse("risks:detail", args=[task.risk_id]))
