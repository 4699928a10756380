"""Reads of renewals for the API, the admin and the account page: querysets
that load the account with each renewal, so a list costs no query per row."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import Account, Renewal, Role, User


def renewal_list() -> QuerySet[Renewal]:
    """Every renewal with its account (for the API list and its filters)."""
    return Renewal.objects.select_related("account")


def account_renewals(account: Account) -> list[Renewal]:
    """The account's renewals, newest first, in one query. The account is set
    on each renewal so reading ``renewal.account`` costs nothing."""
    renewals = list(Renewal.objects.filter(account=account).order_by("-renewal_date"))
    for renewal in renewals:
        renewal.account = account
    return renewals


def cs_admins() -> QuerySet[User]:
    """The CS operations admins (the admin role or superusers) who are active
    and have an email address, in a stable order: who operational email goes to."""
    return (
        User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
        .order_by("pk")
    )
