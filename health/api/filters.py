"""Filters of the health API (docs/api.md): measures, scorecard lines,
observations and stored health scores."""

from __future__ import annotations

import django_filters
from django.db.models import F, Q, QuerySet

from accounts.models import Account, HealthBand, Region, Segment
from core.lists import (
    DateFilter,
    DateRangeFilterForm,
    StableOrderingFilter,
    search_filter,
    yes_no_filter,
)

from ..models import Dimension, HealthScore, Measure, MeasureKind, Observation, Source, Threshold

# A choice rather than a BooleanFilter, which ignores a value it cannot read:
# `latest=perhaps` is a 400, not the whole list.
YES_NO = [("true", "Yes"), ("false", "No")]


class MeasureFilter(django_filters.FilterSet):
    dimension = django_filters.ChoiceFilter(choices=Dimension.choices)
    kind = django_filters.ChoiceFilter(choices=MeasureKind.choices)
    active = yes_no_filter("active", label="Active")
    search = search_filter("code", "name", label="Code or name")
    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(("code", "code"), ("name", "name"), ("dimension", "dimension")),
        default="code",
    )

    class Meta:
        model = Measure
        fields: list[str] = []


class ThresholdFilter(django_filters.FilterSet):
    measure = django_filters.ModelChoiceFilter(
        queryset=Measure.objects.all(), to_field_name="code", label="Measure code"
    )
    segment = django_filters.ModelChoiceFilter(
        queryset=Segment.objects.all(), to_field_name="code", label="Segment code"
    )
    default = yes_no_filter(
        "segment__isnull", label="true: only the default lines; false: only segments' own lines"
    )
    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(("measure__code", "measure"), ("weight", "weight")),
        default="measure",
    )

    class Meta:
        model = Threshold
        fields: list[str] = []


class ObservationFilterForm(DateRangeFilterForm):
    date_ranges = (("observed_after", "observed_before"),)


class ObservationFilter(django_filters.FilterSet):
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all(), label="Account id")
    measure = django_filters.ModelChoiceFilter(
        queryset=Measure.objects.all(), to_field_name="code", label="Measure code"
    )
    observed_after = DateFilter(
        field_name="observed_on", lookup_expr="gte", label="Observed on or after"
    )
    observed_before = DateFilter(
        field_name="observed_on", lookup_expr="lte", label="Observed on or before"
    )
    source = django_filters.ChoiceFilter(choices=Source.choices)
    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(("observed_on", "observed_on"), ("recorded_at", "recorded_at")),
        default="-observed_on",
    )

    class Meta:
        model = Observation
        fields: list[str] = []
        form = ObservationFilterForm


class HealthScoreFilter(django_filters.FilterSet):
    account = django_filters.ModelChoiceFilter(queryset=Account.objects.all(), label="Account id")
    band = django_filters.ChoiceFilter(choices=HealthBand.choices)
    segment = django_filters.ModelChoiceFilter(
        field_name="account__segment",
        queryset=Segment.objects.all(),
        to_field_name="code",
        label="Segment code of the account (its segment today)",
    )
    region = django_filters.ModelChoiceFilter(
        field_name="account__region",
        queryset=Region.objects.all(),
        to_field_name="code",
        label="Region code of the account (its region today)",
    )
    as_of = DateFilter(label="Scores of this day only")
    latest = django_filters.ChoiceFilter(
        choices=YES_NO,
        method="filter_latest",
        label="true: each account's newest score only (its current health)",
    )
    ordering = StableOrderingFilter(
        label="Sort order",
        fields=(("as_of", "as_of"), ("score", "score"), ("account", "account")),
        default="-as_of",
    )

    class Meta:
        model = HealthScore
        fields: list[str] = []

    def filter_latest(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # The account mirrors the day of its newest score.
        current = Q(as_of=F("account__health_as_of"))
        return queryset.filter(current) if value == "true" else queryset.exclude(current)
