"""Writes to people and customer accounts that are rules, not plain edits: an
account churns when a risk record closes as churned (called from that service,
in its transaction), only an admin brings a churned account back, and people
that records refer to are deactivated, never deleted."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import ProtectedError, RestrictedError

from core.exceptions import Conflict, NotAllowed

from .models import Account, AccountStatus, User


def account_mark_churned(*, account: Account, on: dt.date) -> Account:
    """Mark the account churned as of ``on``. The caller holds the account's
    row (the risk record's close does) and owns the transaction."""
    account.status = AccountStatus.CHURNED
    account.churned_on = on
    account.save(update_fields=["status", "churned_on"])
    return account


@transaction.atomic
def account_reactivate(*, user: User, account: Account | int) -> Account:
    """An admin brings a churned account back (e.g. it signed again), so that
    risk records can be filed on it once more."""
    if not user.is_cs_admin:
        raise NotAllowed("Only CS operations admins can reactivate a churned account.")
    pk = account.pk if isinstance(account, Account) else account
    account = Account.objects.select_for_update().get(pk=pk)
    if not account.is_churned:
        raise Conflict(f"{account.name} is active; there is nothing to reactivate.")
    account.status = AccountStatus.ACTIVE
    account.churned_on = None
    account.save(update_fields=["status", "churned_on"])
    return account


def ensure_may_deactivate(*, user: User, person: User) -> None:
    """Nobody deactivates themselves: an admin locking themselves out could
    leave no admin at all; another admin has to do it."""
    if person.pk == user.pk:
        raise NotAllowed("You cannot deactivate yourself.")


@transaction.atomic
def user_delete(*, user: User, person: User) -> None:
    """Delete a person nothing refers to. Anyone referred to (owning accounts,
    managing a team, named on risk records, timelines, reviews…) is kept for the
    history and deactivated instead, so the refusal says so."""
    if not user.is_cs_admin:
        raise NotAllowed("Only CS operations admins can delete people.")
    if person.pk == user.pk:
        raise NotAllowed("You cannot delete yourself.")
    try:
        with transaction.atomic():
            person.delete()
    except (ProtectedError, RestrictedError):
        raise Conflict(
            f"{person} is referred to by accounts, team members or records, which keep "
            "their history: deactivate the person instead (is_active: false)."
        ) from None
