"""Who may do what to a risk record (docs/domain.md).

Pure predicates with no writes: the services enforce them, and pages use them
to decide which buttons to show. The account passed in must have its ``csm``
loaded (``select_related("csm")``) to avoid a query per call.
"""

from __future__ import annotations

from accounts.models import Account, Role, User
from accounts.rules import leads

from .models import RiskRecord


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
