"""Filters of the people list of the API. (Accounts use accounts.filters.AccountFilter,
the same filters as the accounts page.)"""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from accounts.models import Region, Role, User
from core.lists import StableOrderingFilter


class UserFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    region = django_filters.ModelChoiceFilter(
        queryset=Region.objects.all(), to_field_name="code", label="Region code"
    )
    manager = django_filters.ModelChoiceFilter(
        queryset=User.objects.filter(role=Role.MANAGER), label="Manager id"
    )
    search = django_filters.CharFilter(
        method="filter_search", label="Part of the username, first or last name, or email"
    )
    ordering = StableOrderingFilter(
        fields=(
            ("username", "username"),
            ("first_name", "first_name"),
            ("last_name", "last_name"),
            ("email", "email"),
            ("role", "role"),
        ),
        default="username",
    )

    class Meta:
        model = User
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(username__icontains=value)
            | Q(first_name__icontains=value)
            | Q(last_name__icontains=value)
            | Q(email__icontains=value)
        )
