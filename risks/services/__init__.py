"""Every write of the risks app, and every rule it enforces, lives in this
package: the workflow of a risk record (``workflow``), the root-cause
taxonomy (``root_causes``), playbooks and tasks (``tasks``). Each service runs
in one transaction, locks the rows two users can race for, writes its timeline event in the same
transaction, and reports a refusal with one of the exceptions of
``core.exceptions``. Views, the API, the admin and tasks call these."""

from __future__ import annotations

from .events import timeline_add
from .root_causes import (
    root_cause_create,
    root_cause_delete,
    root_cause_in_use,
    root_cause_update,
)
from .tasks import (
    apply_playbook,
    parse_department,
    parse_due_date,
    parse_owner,
    playbook_delete,
    playbook_for,
    playbook_plan,
    playbook_save,
    task_add,
    task_create,
    task_set_done,
    task_text,
)
from .workflow import (
    EDITABLE_FIELDS,
    ensure_may_decide,
    ensure_may_deescalate,
    ensure_may_file_on,
    ensure_may_work_on,
    escalation_approve,
    escalation_reject,
    escalation_request,
    risk_add_note,
    risk_close,
    risk_deescalate,
    risk_edit,
    risk_open,
    risk_open_field_errors,
)

__all__ = [
    "EDITABLE_FIELDS",
    "apply_playbook",
    "ensure_may_decide",
    "ensure_may_deescalate",
    "ensure_may_file_on",
    "ensure_may_work_on",
    "escalation_approve",
    "escalation_reject",
    "escalation_request",
    "parse_department",
    "parse_due_date",
    "parse_owner",
    "playbook_delete",
    "playbook_for",
    "playbook_plan",
    "playbook_save",
    "risk_add_note",
    "risk_close",
    "risk_deescalate",
    "risk_edit",
    "risk_open",
    "risk_open_field_errors",
    "root_cause_create",
    "root_cause_delete",
    "root_cause_in_use",
    "root_cause_update",
    "task_add",
    "task_create",
    "task_set_done",
    "task_text",
    "timeline_add",
]
