"""Filters of the risks API (docs/api.md).

The risk records API reuses ``RiskFilter`` of the list page, so both speak the
same parameter names. Only the sort keys differ: the API's are named after the
fields of its representation (``account_name`` rather than the list page's
column name ``account``).
"""

from __future__ import annotations

import copy

import django_filters

from accounts.models import Region
from core.lists import StableOrderingFilter, search_filter, yes_no_filter

from ..filters import RiskFilter
from ..models import Escalation, EscalationStatus, RiskRecord, RootCause


class ApiRiskFilter(RiskFilter):
    """``RiskFilter`` with the API's sort keys. Unlike the list page, which shows
    open records unless told otherwise, the API filters by status only when the
    request names one: the page's default lives in its view, not in the filter."""

    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(
            ("id", "id"),
            ("opened_at", "opened_at"),
            ("tier", "tier"),
            ("max_tier", "max_tier"),
            ("tier_changed_at", "tier_changed_at"),
            ("arr_at_risk", "arr_at_risk"),
            ("account__renewal_date", "renewal_date"),
            ("account__name", "account_name"),
            ("closed_at", "closed_at"),
        ),
        default="-opened_at",
    )

    @classmethod
    def get_filters(cls) -> dict[str, django_filters.Filter]:
        # Own copies of the inherited filters: a subclass otherwise shares the
        # parent's instances, and drf-spectacular caches a form field (without
        # its label) on them while building the schema, which would reach the
        # list page's form.
        return copy.deepcopy(super().get_filters())


class RootCauseFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(label="Category slug, e.g. adoption")
    active = yes_no_filter("active", label="Active")
    search = search_filter("code", "name", "description", label="Code, name or description")
    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(("code", "code"), ("name", "name"), ("category", "category")),
        default="code",
    )

    class Meta:
        model = RootCause
        fields: list[str] = []


class EscalationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=EscalationStatus.choices)
    region = django_filters.ModelChoiceFilter(
        field_name="risk__account__region",
        label="Region code of the risk's account",
        queryset=Region.objects.all(),
        to_field_name="code",
    )
    risk = django_filters.ModelChoiceFilter(
        label="Risk record id", queryset=RiskRecord.objects.all()
    )
    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(("requested_at", "requested_at"), ("decided_at", "decided_at")),
        default="-requested_at",
    )

    class Meta:
        model = Escalation
        fields: list[str] = []
