"""Who may change customer accounts (design.md §6: "Admin and managers write").

Pure predicates with no writes, used by the API. An admin may create, change
and delete any account. A manager may do so only for the accounts of their
team — owned by themselves or by someone whose manager they are, the same
relation as ``risks.rules.manages_account`` — and may only hand an account to
themselves or to someone on their team, so that a manager can neither take
over nor give away another team's customers. Everyone else only reads.
"""

from __future__ import annotations

from .models import Account, Role, User


def may_write_accounts(user: User) -> bool:
    """May write some account at all (decides 403 before looking at the account)."""
    return user.is_cs_admin or user.role == Role.MANAGER


def may_assign_csm(user: User, csm: User) -> bool:
    """May make ``csm`` the owner of an account (new or existing)."""
    if user.is_cs_admin:
        return True
    return user.role == Role.MANAGER and (csm.pk == user.pk or csm.manager_id == user.pk)


def may_change_account(user: User, account: Account) -> bool:
    """May edit or delete ``account``; its ``csm`` should be loaded (select_related)."""
    return may_assign_csm(user, account.csm)
