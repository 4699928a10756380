"""Playbooks and tasks: which play a new record gets, the tasks its steps
become, tasks added by hand or in the weekly review, and marking them done.

As everywhere in this package: keyword-only, one transaction each, the rows
two people can race for locked, the timeline event written in the same
transaction, refusals as ``core.exceptions``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Account, Department, Segment, User
from core import dates
from core.business_days import add_business_days
from core.exceptions import Conflict, InvalidInput, NotAllowed
from core.text import too_long

from .. import rules
from ..models import (
    MAX_DUE_DAYS,
    TEXT_LIMITS,
    Playbook,
    PlaybookStep,
    RiskRecord,
    RiskStatus,
    RootCause,
    StepOwner,
    Task,
    TaskSource,
    TimelineKind,
)
from .events import timeline_add

TITLE_LIMIT = 200
DESCRIPTION_LIMIT = TEXT_LIMITS["next_steps"]
MAX_STEPS = 20


# --- which playbook, and the tasks it gives --------------------------------------------


def playbook_for(*, root_cause: RootCause | int, segment: Segment | int | None) -> Playbook | None:
    """The active playbook a new record with this primary cause gets: the
    segment's own first, else the cause's playbook for every segment. One query."""
    cause_id = getattr(root_cause, "pk", root_cause)
    segment_id = getattr(segment, "pk", segment)
    playbooks = Playbook.objects.filter(root_cause_id=cause_id, active=True).filter(
        Q(segment__isnull=True) | Q(segment_id=segment_id)
    )
    return playbooks.order_by(F("segment_id").asc(nulls_last=True)).first()


@dataclass(frozen=True)
class PlannedTask:
    """A task a playbook step gives a record opened on ``opened_on``."""

    step: PlaybookStep
    title: str
    description: str
    owner: User | None
    department: str
    due_date: dt.date

    def task_for(self, risk: RiskRecord, *, created_by: User, created_at: dt.datetime) -> Task:
        """The (unsaved) task this step gives ``risk``."""
        return Task(
            risk=risk,
            title=self.title,
            description=self.description,
            owner=self.owner,
            department=self.department,
            due_date=self.due_date,
            source=TaskSource.PLAYBOOK,
            step=self.step,
            created_by=created_by,
            created_at=created_at,
        )

    @property
    def owner_label(self) -> str:
        if self.department:
            return Department(self.department).label
        return str(self.owner) if self.owner else "No owner"


def step_owner(step_owner_code: str, account: Account) -> tuple[User | None, str]:
    """(owner, department) for a step's owner code on ``account`` (its ``csm``
    and the CSM's ``manager`` loaded). A CSM without an active manager keeps
    the manager's steps: a task always has someone or a department."""
    if step_owner_code == StepOwner.CSM:
        return account.csm, ""
    if step_owner_code == StepOwner.MANAGER:
        manager = account.csm.manager
        if manager is not None and manager.is_active:
            return manager, ""
        return account.csm, ""
    return None, step_owner_code


def playbook_plan(*, playbook: Playbook, account: Account, opened_on: dt.date) -> list[PlannedTask]:
    """The tasks ``playbook`` gives a record on ``account`` opened on
    ``opened_on``, in step order (one query for the steps)."""
    plan = []
    for step in playbook.steps.order_by("position", "id"):
        owner, department = step_owner(step.owner, account)
        plan.append(
            PlannedTask(
                step=step,
                title=step.title,
                description=step.description,
                owner=owner,
                department=department,
                due_date=add_business_days(opened_on, step.due_days),
            )
        )
    return plan


def apply_playbook(*, risk: RiskRecord, user: User, now: dt.datetime) -> list[Task]:
    """Give a newly opened record its playbook's tasks (called by ``risk_open``
    inside its transaction) and say so on the timeline. No playbook: nothing."""
    account = risk.account
    playbook = playbook_for(root_cause=risk.primary_cause_id, segment=account.segment_id)
    if playbook is None:
        return []
    plan = playbook_plan(playbook=playbook, account=account, opened_on=account.local_date(now))
    if not plan:
        return []
    tasks = Task.objects.bulk_create(
        [planned.task_for(risk, created_by=user, created_at=now) for planned in plan]
    )
    timeline_add(
        risk=risk,
        kind=TimelineKind.PLAYBOOK_STARTED,
        actor=user,
        at=now,
        text=f"{playbook.name}: {len(tasks)} task{'' if len(tasks) == 1 else 's'}.",
        data={"playbook": playbook.pk, "playbook_name": playbook.name, "tasks": len(tasks)},
    )
    return tasks


# --- tasks added by people -------------------------------------------------------------


def _text(
    value: str | None, field: str, limit: int, errors: dict[str, list[str]], *, required: bool
) -> str:
    text = (value or "").strip()
    if required and not text:
        errors.setdefault(field, []).append("This field is required.")
    elif len(text) > limit:
        errors.setdefault(field, []).append(too_long(limit, len(text)))
    return text


def task_text(text: str) -> tuple[str, str]:
    """(title, description) for a free-text commitment: a short one-line text
    is the title alone; otherwise the first line (cut to fit) is the title
    and the whole text the description."""
    text = (text or "").strip()
    lines = text.splitlines() or [""]
    first = " ".join(lines[0].split())
    if len(lines) == 1 and len(first) <= TITLE_LIMIT and first == text:
        return first, ""
    title = first if len(first) <= TITLE_LIMIT else first[: TITLE_LIMIT - 1].rstrip() + "\u2026"
    return title, text


def parse_due_date(value: Any, errors: dict[str, list[str]], *, required: bool) -> dt.date | None:
    if value in (None, ""):
        if required:
            errors.setdefault("due_date", []).append("Give the date it is due, e.g. 2026-06-30.")
        return None
    if isinstance(value, dt.datetime):
        errors.setdefault("due_date", []).append("Enter a date, e.g. 2026-06-30.")
        return None
    if isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            errors.setdefault("due_date", []).append("Enter a date, e.g. 2026-06-30.")
            return None
    if not dates.in_range(day):
        errors.setdefault("due_date", []).append(dates.OUT_OF_RANGE)
        return None
    return day


def parse_owner(value: Any, errors: dict[str, list[str]]) -> User | None:
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, User) else value
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        pk = None
    found = User.objects.filter(pk=pk, is_active=True).first() if pk is not None else None
    if found is None:
        errors.setdefault("owner", []).append("Choose an active user as the owner.")
    return found


def parse_department(value: str | None, errors: dict[str, list[str]]) -> str:
    department = (value or "").strip()
    if department and department not in Department.values:
        errors.setdefault("department", []).append(
            "Choose one of: " + ", ".join(Department.values) + "."
        )
    return department


def task_create(
    *,
    risk: RiskRecord,
    created_by: User,
    title: str,
    description: str = "",
    owner: User | None = None,
    department: str = "",
    due_date: dt.date | None = None,
    source: str = TaskSource.MANUAL,
    agenda_item_id: int | None = None,
    timeline_kind: str = TimelineKind.TASK_ADDED,
    timeline_data: dict[str, Any] | None = None,
    timeline_text: str = "",
    now: dt.datetime | None = None,
) -> Task:
    """Write a checked task and its timeline event. For callers that have
    already checked permission and input (``task_add``, the weekly review)."""
    now = now or timezone.now()
    task = Task.objects.create(
        risk=risk,
        title=title,
        description=description,
        owner=owner,
        department=department,
        due_date=due_date,
        source=source,
        agenda_item_id=agenda_item_id,
        created_by=created_by,
        created_at=now,
    )
    timeline_add(
        risk=risk,
        kind=timeline_kind,
        actor=created_by,
        at=now,
        text=timeline_text or (title if not description else f"{title}\n\n{description}"),
        data={
            "task": task.pk,
            "owner": owner.pk if owner else None,
            "department": department,
            "due_date": due_date.isoformat() if due_date else None,
            **(timeline_data or {}),
        },
    )
    return task


def _lock_risk(risk: RiskRecord | int) -> RiskRecord:
    pk = risk.pk if isinstance(risk, RiskRecord) else risk
    return (
        RiskRecord.objects.select_for_update(of=("self",))
        .select_related("account__csm", "account__region")
        .get(pk=pk)
    )


@transaction.atomic
def task_add(
    *,
    user: User,
    risk: RiskRecord | int,
    title: str,
    description: str = "",
    owner: User | int | None = None,
    department: str = "",
    due_date: dt.date | str | None = None,
) -> Task:
    """A task added by hand to an open record, by whoever works on it. A
    commitment needs a date and someone to keep it: an owner or a department."""
    risk = _lock_risk(risk)
    if not rules.can_add_task(user, risk):
        raise NotAllowed(
            "Only the account's CSM, their manager or an admin can add tasks to this record."
        )
    if risk.status != RiskStatus.OPEN:
        raise Conflict("This risk record is closed; it takes no new tasks.")
    errors: dict[str, list[str]] = {}
    title = _text(title, "title", TITLE_LIMIT, errors, required=True)
    description = _text(description, "description", DESCRIPTION_LIMIT, errors, required=False)
    owner_user = parse_owner(owner, errors)
    department = parse_department(department, errors)
    due = parse_due_date(due_date, errors, required=True)
    if owner_user is None and not department and "owner" not in errors:
        errors.setdefault("owner", []).append("Choose an owner or a department.")
    if errors:
        raise InvalidInput(errors)
    return task_create(
        risk=risk,
        created_by=user,
        title=title,
        description=description,
        owner=owner_user,
        department=department,
        due_date=due,
    )


@transaction.atomic
def task_set_done(*, user: User, task: Task | int, done: bool) -> Task:
    """Mark a task done, or open again; each change goes on the record's
    timeline. Tasks of a closed record can still be finished."""
    pk = task.pk if isinstance(task, Task) else task
    try:
        task = (
            Task.objects.select_for_update(of=("self",))
            .select_related("risk__account__csm", "owner", "done_by")
            .get(pk=pk)
        )
    except Task.DoesNotExist:
        raise Conflict("This task no longer exists; reload the page.") from None
    if not rules.can_mark_task(user, task):
        raise NotAllowed(
            "Only the task's owner, the record's CSM or their manager, the department's "
            "reviewers for a department's task, or an admin can change it."
        )
    done = bool(done)
    if task.is_done == done:
        return task
    now = timezone.now()
    task.done_at = now if done else None
    task.done_by = user if done else None
    task.save(update_fields=["done_at", "done_by"])
    timeline_add(
        risk=task.risk,
        kind=TimelineKind.TASK_DONE if done else TimelineKind.TASK_REOPENED,
        actor=user,
        at=now,
        text=task.title,
        data={"task": task.pk, "source": task.source},
    )
    return task


# --- playbooks -----------------------------------------------------------------------


def _step_errors(steps: list[dict[str, Any]], errors: dict[str, list[str]]) -> list[PlaybookStep]:
    built = []
    if not steps:
        errors.setdefault("steps", []).append("A playbook needs at least one step.")
    elif len(steps) > MAX_STEPS:
        errors.setdefault("steps", []).append(f"At most {MAX_STEPS} steps.")
    for index, step in enumerate(steps[:MAX_STEPS], start=1):
        step_errors: dict[str, list[str]] = {}
        title = _text(step.get("title"), "title", TITLE_LIMIT, step_errors, required=True)
        description = _text(
            step.get("description"), "description", DESCRIPTION_LIMIT, step_errors, required=False
        )
        owner = step.get("owner") or StepOwner.CSM
        if owner not in StepOwner.values:
            step_errors["owner"] = ["Choose one of: " + ", ".join(StepOwner.values) + "."]
        due_days = step.get("due_days")
        if isinstance(due_days, bool) or not isinstance(due_days, int):
            step_errors["due_days"] = ["Give a whole number of business days."]
        elif not 0 <= due_days <= MAX_DUE_DAYS:
            step_errors["due_days"] = [f"Between 0 and {MAX_DUE_DAYS} business days."]
        for field, messages in step_errors.items():
            errors.setdefault(f"steps[{index}].{field}", []).extend(messages)
        if not step_errors:
            built.append(
                PlaybookStep(
                    position=index,
                    title=title,
                    description=description,
                    owner=owner,
                    due_days=due_days,
                )
            )
    return built


def _ensure_admin(user: User) -> None:
    if not user.is_cs_admin:
        raise NotAllowed("Only admins can change playbooks.")


@transaction.atomic
def playbook_save(
    *,
    user: User,
    playbook: Playbook | None = None,
    name: str,
    root_cause: RootCause | None,
    segment: Segment | None = None,
    description: str = "",
    active: bool = True,
    steps: list[dict[str, Any]],
) -> Playbook:
    """Create a playbook, or replace an existing one's fields and steps. The
    tasks earlier records got keep their text (they point at no step any more
    when it is removed)."""
    _ensure_admin(user)
    errors: dict[str, list[str]] = {}
    name = _text(name, "name", 120, errors, required=True)
    description = _text(description, "description", DESCRIPTION_LIMIT, errors, required=False)
    if root_cause is None:
        errors["root_cause"] = ["Choose the root cause the play answers."]
    elif not root_cause.active and (playbook is None or playbook.root_cause_id != root_cause.pk):
        errors["root_cause"] = [
            f"\u201c{root_cause.name}\u201d is no longer in use; choose an active cause."
        ]
    built = _step_errors(steps, errors)
    if errors:
        raise InvalidInput(errors)
    if playbook is None:
        playbook = Playbook()
    else:
        playbook = Playbook.objects.select_for_update().get(pk=playbook.pk)
    playbook.name = name
    playbook.root_cause = root_cause
    playbook.segment = segment
    playbook.description = description
    playbook.active = bool(active)
    try:
        playbook.validate_constraints()
    except ValidationError as error:
        raise Conflict(" ".join(error.messages)) from None
    try:
        with transaction.atomic():
            playbook.save()
    except IntegrityError:
        # Another admin activated a playbook for the same cause and segment.
        raise Conflict("This cause already has an active playbook for this segment.") from None
    existing = {step.position: step for step in playbook.steps.all()}
    keep = []
    for step in built:
        old = existing.pop(step.position, None)
        if old is not None:
            for field in ("title", "description", "owner", "due_days"):
                setattr(old, field, getattr(step, field))
            old.save(update_fields=["title", "description", "owner", "due_days"])
            keep.append(old)
        else:
            step.playbook = playbook
            step.save()
            keep.append(step)
    if existing:
        PlaybookStep.objects.filter(pk__in=[step.pk for step in existing.values()]).delete()
    return playbook


@transaction.atomic
def playbook_delete(*, user: User, playbook: Playbook) -> None:
    """Delete a playbook. Tasks it gave keep their text."""
    _ensure_admin(user)
    playbook.delete()
