"""Who may do what to a risk record (docs/domain.md).

Pure predicates with no writes: the services enforce them, and pages use them
to decide which buttons to show. The account passed in must have its ``csm``
loaded (``select_related("csm")``) to avoid a query per call.
"""

from __future__ import annotations

from accounts.models import Account, Role, User
from accounts.rules import leads

from .models import RiskRecord, Task, TaskSource


def manages_account(user: User, account: Account) -> bool:
    """A manager manages the accounts they own and those of their team."""
    return leads(user, account.csm)


def has_authority(user: User, account: Account) -> bool:
    """May approve, reject and de-escalate; their own escalations are approved at once."""
    return user.is_cs_admin or manages_account(user, account)


def owns_account(user: User, account: Account) -> bool:
    return user.role in (Role.CSM, Role.MANAGER) and account.csm_id == user.pk


def can_file_on(user: User, account: Account) -> bool:
    return owns_account(user, account) or has_authority(user, account)


def can_work_on(user: User, risk: RiskRecord) -> bool:
    """Edit, add notes, request an escalation, close."""
    return owns_account(user, risk.account) or has_authority(user, risk.account)


def can_decide_escalations(user: User, risk: RiskRecord) -> bool:
    return has_authority(user, risk.account)


def can_deescalate(user: User, risk: RiskRecord) -> bool:
    return has_authority(user, risk.account)


def can_add_task(user: User, risk: RiskRecord) -> bool:
    """Add a task by hand: whoever works on the record."""
    return can_work_on(user, risk)


def can_mark_task(user: User, task: Task) -> bool:
    """Mark a task done or open again: its owner, the record's CSM, the CSM's
    manager, an admin; for a department's task, that department's reviewers
    in the account's region; for a task agreed in the weekly review, the
    region's reviewers and managers (who run that review)."""
    if not getattr(user, "is_authenticated", False):
        return False
    account = task.risk.account
    if user.is_cs_admin or (task.owner_id is not None and task.owner_id == user.pk):
        return True
    if owns_account(user, account) or manages_account(user, account):
        return True
    if user.region_id is None or user.region_id != account.region_id:
        return False
    if task.source == TaskSource.REVIEW and user.role in (Role.REVIEWER, Role.MANAGER):
        return True
    return bool(
        task.department and user.role == Role.REVIEWER and user.department == task.department
    )
