"""Filter helpers about customer accounts that every list of accounts or of
their risk records shares."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from .models import ACCOUNT_OWNER_ROLES, User


def search_accounts(prefix: str = "") -> Any:
    """A filter method matching the account name or external id, case-insensitively."""

    def method(queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(**{f"{prefix}name__icontains": value})
            | Q(**{f"{prefix}external_id__icontains": value})
        )

    return method


def account_owners() -> QuerySet[User]:
    return User.objects.filter(role__in=ACCOUNT_OWNER_ROLES).order_by(
        "first_name", "last_name", "username"
    )
