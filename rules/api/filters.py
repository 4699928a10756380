"""Filters of the rules API (docs/api.md): risk rules and their matches."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from accounts.models import Account
from core.lists import yes_no_filter

from ..models import Outcome, Rule, RuleMatch

PENDING = "pending"


class RuleFilter(django_filters.FilterSet):
    active = yes_no_filter("active", label="Active")

    class Meta:
        model = Rule
        fields: list[str] = []


class RuleMatchFilter(django_filters.FilterSet):
    rule = django_filters.ModelChoiceFilter(queryset=Rule.objects.all(), label="Rule id")
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all(), label="Account id")
    open = yes_no_filter(
        "cleared_at__isnull",
        label="true: episodes still holding (not cleared); false: cleared ones",
    )
    # "pending" stands for the blank outcome, which a query string cannot
    # name (a blank filter value is no filter).
    outcome = django_filters.ChoiceFilter(
        choices=[(PENDING, "Pending: its actions are not taken yet")]
        + [(value, label) for value, label in Outcome.choices if value],
        method="filter_outcome",
        label="The outcome of the match's actions; `pending` for those not taken yet",
    )

    class Meta:
        model = RuleMatch
        fields: list[str] = []

    def filter_outcome(
        self, queryset: QuerySet[RuleMatch], name: str, value: str
    ) -> QuerySet[RuleMatch]:
        return queryset.filter(outcome=Outcome.PENDING if value == PENDING else value)
