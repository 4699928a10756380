"""Every write of the risks app, and every rule it enforces, lives in this
package: the workflow of a risk record (``workflow``) and the root-cause
taxonomy (``root_causes``). Each service runs in one transaction, locks the
rows two users can race for, writes its timeline event in the same
transaction, and reports a refusal with one of the exceptions of
``core.exceptions``. Views, the API, the admin and tasks call these."""

from __future__ import annotations

from .root_causes import (
    root_cause_create,
    root_cause_delete,
    root_cause_in_use,
    root_cause_update,
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
    timeline_add,
)

__all__ = [
    "EDITABLE_FIELDS",
    "ensure_may_decide",
    "ensure_may_deescalate",
    "ensure_may_file_on",
    "ensure_may_work_on",
    "escalation_approve",
    "escalation_reject",
    "escalation_request",
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
    "timeline_add",
]
