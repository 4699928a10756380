"""Filters of risk records: the risk list, its CSV export and the REST
API share ``RiskFilter``, so its parameter names are those of the API (docs/api.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from accounts.filters import account_owners, search_accounts
from accounts.models import Account, AccountStatus, HealthBand, Region, Role, Segment, User
from core.lists import (
    DATE_INPUT,
    DateFilter,
    DateRangeFilterForm,
    StableOrderingFilter,
    renewal_window_filter,
)

from .models import CLOSED_STATUSES, RiskRecord, RiskStatus, RootCause, Tier, category_label

# Not a stored status: any of saved, churned, withdrawn.
CLOSED = "closed"
STATUS_CHOICES = [*RiskStatus.choices, (CLOSED, "Closed (any outcome)")]


class DayOfDateTimeFilter(DateFilter):
    """An inclusive date bound on a datetime field, in the current time zone.

    Compares against the start of a local day rather than using ``__date``, so
    the database can use the index on the datetime column.
    """

    def __init__(self, *args: Any, bound: str, **kwargs: Any) -> None:
        assert bound in ("after", "before")
        self.bound = bound
        kwargs.setdefault("widget", DATE_INPUT)
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: dt.date | None) -> QuerySet:
        if value is None:
            return qs
        if self.bound == "after":
            return qs.filter(**{f"{self.field_name}__gte": start_of_day(value)})
        return qs.filter(**{f"{self.field_name}__lt": start_of_day(value + dt.timedelta(days=1))})


def start_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class RiskFilterForm(DateRangeFilterForm):
    date_ranges = (
        ("renewal_date_after", "renewal_date_before"),
        ("opened_after", "opened_before"),
        ("closed_after", "closed_before"),
    )


class RiskFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        label="Account name or id",
        method=search_accounts("account__"),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or CRM id"}),
    )
    status = django_filters.ChoiceFilter(
        choices=STATUS_CHOICES, empty_label="Any status", method="filter_status"
    )
    tier = django_filters.ChoiceFilter(choices=Tier.choices, empty_label="Any tier")
    region = django_filters.ModelChoiceFilter(
        field_name="account__region",
        label="Region",
        queryset=Region.objects.order_by("code"),
        to_field_name="code",
        empty_label="Any region",
    )
    segment = django_filters.ModelChoiceFilter(
        field_name="account__segment",
        label="Segment",
        queryset=Segment.objects.order_by("name"),
        to_field_name="code",
        empty_label="Any segment",
    )
    # Choices of the three cause filters are set in __init__ from one query.
    primary_cause = django_filters.ChoiceFilter(
        field_name="primary_cause__code", label="Primary cause", empty_label="Any primary cause"
    )
    secondary_cause = django_filters.ChoiceFilter(
        field_name="secondary_cause__code",
        label="Secondary cause",
        empty_label="Any secondary cause",
    )
    category = django_filters.ChoiceFilter(
        field_name="primary_cause__category", label="Cause category", empty_label="Any category"
    )
    csm = django_filters.ModelChoiceFilter(
        field_name="account__csm", queryset=account_owners(), label="CSM", empty_label="Any CSM"
    )
    manager = django_filters.ModelChoiceFilter(
        field_name="account__csm__manager",
        queryset=User.objects.filter(role=Role.MANAGER).order_by(
            "first_name", "last_name", "username"
        ),
        label="CSM's manager",
        empty_label="Any manager",
    )
    # Set from an account page's link; the list page shows it as a removable note.
    account = django_filters.ModelChoiceFilter(
        label="Account", queryset=Account.objects.all(), widget=forms.HiddenInput
    )
    renewal_within = renewal_window_filter("account__renewal_date")
    renewal_date_after = DateFilter(
        field_name="account__renewal_date",
        lookup_expr="gte",
        label="Renews on or after",
        widget=DATE_INPUT,
    )
    renewal_date_before = DateFilter(
        field_name="account__renewal_date",
        lookup_expr="lte",
        label="Renews on or before",
        widget=DATE_INPUT,
    )
    opened_after = DayOfDateTimeFilter(
        field_name="opened_at", bound="after", label="Opened on or after"
    )
    opened_before = DayOfDateTimeFilter(
        field_name="opened_at", bound="before", label="Opened on or before"
    )
    closed_after = DayOfDateTimeFilter(
        field_name="closed_at", bound="after", label="Closed on or after"
    )
    closed_before = DayOfDateTimeFilter(
        field_name="closed_at", bound="before", label="Closed on or before"
    )
    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(
            ("opened_at", "opened_at"),
            ("tier", "tier"),
            ("arr_at_risk", "arr_at_risk"),
            ("account__renewal_date", "renewal_date"),
            ("account__name", "account"),
            ("closed_at", "closed_at"),
        ),
        default="-opened_at",
        widget=forms.HiddenInput,
    )

    class Meta:
        model = RiskRecord
        fields: list[str] = []
        form = RiskFilterForm

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        causes = list(RootCause.objects.order_by("category", "name"))
        by_category: dict[str, list[tuple[str, str]]] = {}
        for cause in causes:
            label = cause.name if cause.active else f"{cause.name} (inactive)"
            by_category.setdefault(cause.category, []).append((cause.code, label))
        cause_choices = [
            (category_label(category), options) for category, options in by_category.items()
        ]
        self.filters["primary_cause"].extra["choices"] = cause_choices
        self.filters["secondary_cause"].extra["choices"] = cause_choices
        self.filters["category"].extra["choices"] = [
            (category, category_label(category)) for category in by_category
        ]

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == CLOSED:
            return queryset.filter(status__in=CLOSED_STATUSES)
        return queryset.filter(status=value)


# --- customer accounts ---


class AccountFilterForm(DateRangeFilterForm):
    date_ranges = (("renewal_date_after", "renewal_date_before"),)


class AccountFilter(django_filters.FilterSet):
    """Filters of the customer accounts list and of the accounts API."""

    search = django_filters.CharFilter(
        label="Account name or id",
        method=search_accounts(),
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or CRM id"}),
    )
    region = django_filters.ModelChoiceFilter(
        queryset=Region.objects.order_by("code"),
        label="Region",
        to_field_name="code",
        empty_label="Any region",
    )
    segment = django_filters.ModelChoiceFilter(
        queryset=Segment.objects.order_by("name"),
        to_field_name="code",
        empty_label="Any segment",
    )
    csm = django_filters.ModelChoiceFilter(
        queryset=account_owners(), label="CSM", empty_label="Any CSM"
    )
    renewal_within = renewal_window_filter("renewal_date")
    renewal_date_after = DateFilter(
        field_name="renewal_date",
        lookup_expr="gte",
        label="Renews on or after",
        widget=DATE_INPUT,
    )
    renewal_date_before = DateFilter(
        field_name="renewal_date",
        lookup_expr="lte",
        label="Renews on or before",
        widget=DATE_INPUT,
    )
    status = django_filters.ChoiceFilter(
        choices=AccountStatus.choices, empty_label="Active or churned", label="Status"
    )
    has_open_risk = django_filters.ChoiceFilter(
        label="Open risk",
        choices=[("true", "Has an open risk"), ("false", "No open risk")],
        empty_label="With or without",
        method="filter_has_open_risk",
    )
    health_band = django_filters.ChoiceFilter(
        label="Health",
        choices=HealthBand.choices,
        empty_label="Any health",
    )
    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(
            ("name", "name"),
            ("arr", "arr"),
            ("renewal_date", "renewal_date"),
            ("health_score", "health"),
        ),
        default="name",
        widget=forms.HiddenInput,
    )

    class Meta:
        model = Account
        fields: list[str] = []
        form = AccountFilterForm

    def filter_has_open_risk(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Both the page's and the API's querysets come from ``with_open_risk``.
        return queryset.filter(open_risk_id__isnull=value != "true")
