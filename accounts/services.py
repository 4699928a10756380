"""Writes to people and customer accounts that are rules, not plain edits: an
account churns when a risk record closes as churned (called from that service,
in its transaction) or when a churn is its newest renewal (called from the
renewal importer, in the merge's transaction), only an admin brings a churned
account back, and people that records refer to are deactivated, never
deleted."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import ProtectedError, RestrictedError

from core.exceptions import Conflict, NotAllowed

from .models import Account, AccountStatus, User


def account_mark_churned(*, account: Account, on: dt.date) -> Account:
    """Mark the account churned as of ``on``. The caller holds the account's
    row (the risk record's close does) and owns the transaction. An account
    churned already keeps its day: a renewal imported as a churn may have
    marked it before its open record was closed."""
    if account.is_churned:
        return account
    account.status = AccountStatus.CHURNED
    account.churned_on = on
    account.save(update_fields=["status", "churned_on"])
    return account


# The accounts (of those given) that are active and whose newest renewal is
# a churn: a churn no later renewal follows. The unique (account,
# renewal_date) index answers both lookups.
_NEWEST_CHURN = """
    SELECT r.account_id, r.renewal_date FROM accounts_renewal r
    WHERE r.account_id IN ({ids}) AND r.outcome = 'churned'
      AND NOT EXISTS (
          SELECT 1 FROM accounts_renewal later
          WHERE later.account_id = r.account_id AND later.renewal_date > r.renewal_date)
"""

_MARK_CHURNED_POSTGRES = f"""
    WITH churn AS ({_NEWEST_CHURN.format(ids="SELECT unnest(%(ids)s::bigint[])")}),
    locked AS MATERIALIZED (
        SELECT a.id FROM accounts_account a
        WHERE a.id IN (SELECT account_id FROM churn) AND a.status = 'active'
        ORDER BY a.id FOR NO KEY UPDATE)
    UPDATE accounts_account a SET status = 'churned', churned_on = churn.renewal_date
    FROM churn
    WHERE a.id = churn.account_id AND a.id IN (SELECT id FROM locked) AND a.status = 'active'
"""

# Starting with UPDATE (not WITH), so the driver reports the rows changed.
_MARK_CHURNED_SQLITE = f"""
    UPDATE accounts_account SET status = 'churned', churned_on = churn.renewal_date
    FROM ({_NEWEST_CHURN.format(ids="SELECT value FROM json_each(%(ids)s)")}) churn
    WHERE accounts_account.id = churn.account_id AND accounts_account.status = 'active'
"""


def renewals_mark_churned(*, account_ids: Sequence[int]) -> int:
    """Of ``account_ids``, mark churned every active account whose newest
    renewal (the greatest renewal_date of all its renewals) is a churn, as of
    that renewal's date: one UPDATE, whatever the number of accounts. An
    account whose newest renewal is a renewal or a downsell, and an account
    churned already, are left as they are. Its risk records are left too:
    closing them is their owners' call (risks.services). Returns how many
    accounts were marked.

    Called by the renewal importer inside the merge's transaction, after the
    renewals are written, with the accounts the batch brings a new churn for
    (a churn row whose key was not stored as a churn before), so neither a
    correction nor the same history sent again undoes an admin's
    reactivation. On PostgreSQL the
    accounts are locked in id order first, so two imports, or an import and
    the scoring run (which locks its chunks in id order too), wait for each
    other instead of deadlocking."""
    ids = sorted({int(pk) for pk in account_ids})
    if not ids:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_MARK_CHURNED_POSTGRES, {"ids": ids})
        else:
            cursor.execute(_MARK_CHURNED_SQLITE, {"ids": json.dumps(ids)})
        return cursor.rowcount


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


@transaction.atomic
def user_set_weekly_digest(*, user: User, weekly_digest: bool) -> User:
    """A person chooses, for themselves only, the weekly digest instead of the
    per-event emails it covers (risks.digest says which)."""
    user.weekly_digest = weekly_digest
    user.save(update_fields=["weekly_digest"])
    return user


@transaction.atomic
def users_unlink_sso(*, user: User, people: Sequence[User]) -> int:
    """Forget the identity at the identity provider each person is linked to
    (e.g. after moving to another provider): their next single sign-on links
    them again by their verified email address. Returns how many were linked."""
    if not user.is_cs_admin:
        raise NotAllowed("Only CS operations admins can unlink single sign-on identities.")
    return (
        User.objects.filter(pk__in=[person.pk for person in people])
        .exclude(oidc_subject="")
        .update(oidc_issuer="", oidc_subject="")
    )
