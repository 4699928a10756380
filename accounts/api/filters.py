"""Filters of the people and renewal lists of the API. (Accounts use
accounts.filters.AccountFilter, the same filters as the accounts page.)"""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from accounts.models import (
    Account,
    Region,
    Renewal,
    RenewalOutcome,
    RenewalSource,
    Role,
    Segment,
    User,
)
from core.lists import DateFilter, DateRangeFilterForm, StableOrderingFilter


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


class RenewalFilterForm(DateRangeFilterForm):
    date_ranges = (("renewed_after", "renewed_before"),)


class RenewalFilter(django_filters.FilterSet):
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all(), label="Account id")
    outcome = django_filters.ChoiceFilter(choices=RenewalOutcome.choices)
    renewed_after = DateFilter(
        field_name="renewal_date", lookup_expr="gte", label="Renewal date on or after"
    )
    renewed_before = DateFilter(
        field_name="renewal_date", lookup_expr="lte", label="Renewal date on or before"
    )
    region = django_filters.ModelChoiceFilter(
        field_name="account__region",
        queryset=Region.objects.all(),
        to_field_name="code",
        label="Region code of the account (its region today)",
    )
    segment = django_filters.ModelChoiceFilter(
        field_name="account__segment",
        queryset=Segment.objects.all(),
        to_field_name="code",
        label="Segment code of the account (its segment today)",
    )
    source = django_filters.ChoiceFilter(choices=RenewalSource.choices)
    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(("renewal_date", "renewal_date"), ("recorded_at", "recorded_at")),
        default="-renewal_date",
    )

    class Meta:
        model = Renewal
        fields: list[str] = []
        form = RenewalFilterForm
