"""Who may change customer accounts: admins, and managers for their own team.

Pure predicates with no writes, used by the API. An admin may create, change
and delete any account. A manager may do so only for the accounts of their
team — owned by themselves or by someone whose manager they are, the same
relation as ``leads`` below — and may only hand an account to
themselves or to someone on their team, so that a manager can neither take
over nor give away another team's customers. Everyone else only reads.
"""

from __future__ import annotations

from django.db.models import Q

from .models import Account, Role, User


def leads(manager: User, person: User) -> bool:
    """``manager`` is a manager and ``person`` is on their team: themselves or
    someone whose manager they are. Every "own team" rule asks this."""
    return manager.role == Role.MANAGER and (
        person.pk == manager.pk or person.manager_id == manager.pk
    )


def team_q(manager: User, path: str) -> Q:
    """The same relation as ``leads`` as a filter on the user at ``path``
    (e.g. ``"csm"`` on accounts, ``"account__csm"`` on risk records)."""
    return Q(**{path: manager}) | Q(**{f"{path}__manager": manager})


def may_write_accounts(user: User) -> bool:
    """May write some account at all (decides 403 before looking at the account)."""
    return user.is_cs_admin or user.role == Role.MANAGER


def may_assign_csm(user: User, csm: User) -> bool:
    """May make ``csm`` the owner of an account (new or existing)."""
    if user.is_cs_admin:
        return True
    return leads(user, csm)


def may_change_account(user: User, account: Account) -> bool:
    """May edit or delete ``account``; its ``csm`` should be loaded (select_related)."""
    return may_assign_csm(user, account.csm)
