"""Pieces every list page and list endpoint shares: date ranges checked in
order, renewal windows, ordering with a stable tie-breaker, sortable column
headers and rows per page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.db.models import F, OrderBy, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from . import dates

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class BoundedDateField(forms.DateField):
    """A date within ``core.dates``' range; any other is a field error."""

    def to_python(self, value: Any) -> dt.date | None:
        day = super().to_python(value)
        if day is not None and not dates.in_range(day):
            raise forms.ValidationError(dates.OUT_OF_RANGE, code="out_of_range")
        return day


class DateFilter(django_filters.DateFilter):
    """Every date filter of the lists and the API: bounded dates only."""

    field_class = BoundedDateField


# Quick choices for "when does the account renew?" — what a CSM plans around.
RENEWAL_WINDOWS = [
    ("overdue", "Renewal date passed"),
    ("30", "Renews within 30 days"),
    ("90", "Renews within 90 days"),
    ("180", "Renews within 180 days"),
]


class DateRangeFilterForm(forms.Form):
    """Form of a FilterSet with date pairs: a range whose start is after its end
    is an error next to the start field, instead of silently matching nothing."""

    # (start field, end field) pairs, set by subclasses.
    date_ranges: tuple[tuple[str, str], ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned_data = super().clean()
        for start, end in self.date_ranges:
            start_date, end_date = cleaned_data.get(start), cleaned_data.get(end)
            if start_date and end_date and start_date > end_date:
                self.add_error(
                    start,
                    f"“{self.fields[start].label}” is later than “{self.fields[end].label}”.",
                )
        return cleaned_data


def filter_renewal_window(queryset: QuerySet, field_name: str, value: str) -> QuerySet:
    """``field_name`` is the renewal date field as seen from ``queryset``."""
    today = timezone.localdate()
    if value == "overdue":
        return queryset.filter(**{f"{field_name}__lt": today})
    days = int(value)
    return queryset.filter(
        **{f"{field_name}__gte": today, f"{field_name}__lte": today + dt.timedelta(days=days)}
    )


def renewal_window_filter(field_name: str) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        field_name=field_name,
        label="Renewal window",
        choices=RENEWAL_WINDOWS,
        empty_label="Any renewal date",
        method=filter_renewal_window,
    )


class StableOrderingFilter(django_filters.OrderingFilter):
    """An ``OrderingFilter`` that always orders (``default`` when the request
    names no ordering), puts empty values last in both directions and ends
    with the primary key, so that pages never repeat or skip rows."""

    def __init__(self, *args: Any, default: str, **kwargs: Any) -> None:
        self.default = default
        super().__init__(*args, **kwargs)

    def filter(self, qs: QuerySet, value: list[str] | None) -> QuerySet:
        params = [param for param in (value or []) if param] or [self.default]
        ordering: list[OrderBy] = []
        for param in params:
            field_name = self.get_ordering_value(param)
            if field_name.startswith("-"):
                ordering.append(F(field_name[1:]).desc(nulls_last=True))
            else:
                ordering.append(F(field_name).asc(nulls_last=True))
        tie_breaker = F("pk").desc() if params[0].startswith("-") else F("pk").asc()
        return qs.order_by(*ordering, tie_breaker)


@dataclass(frozen=True)
class SortColumn:
    """One sortable column header: a link that keeps the filters and toggles the
    direction, and the ``aria-sort`` state of the column."""

    label: str
    query: str
    aria_sort: str  # "ascending", "descending" or "none"

    @property
    def arrow(self) -> str:
        return {"ascending": "▲", "descending": "▼"}.get(self.aria_sort, "")


def current_ordering(filterset: django_filters.FilterSet, param: str = "ordering") -> str:
    """The ordering in force: the requested one when valid, else the default."""
    ordering_filter = filterset.filters[param]
    if filterset.is_valid():
        requested = [value for value in (filterset.form.cleaned_data.get(param) or []) if value]
        if requested:
            return requested[0]
    return ordering_filter.default


def sort_columns(
    query: QueryDict,
    ordering: str,
    columns: Iterable[tuple[str, str, bool]],
    param: str = "ordering",
) -> dict[str, SortColumn]:
    """``columns`` holds (ordering parameter, label, descending first?) triples.
    Returns a SortColumn per parameter; links drop the page number because a
    new order starts on page one."""
    result = {}
    for name, label, descending_first in columns:
        if ordering == name:
            aria_sort, next_value = "ascending", f"-{name}"
        elif ordering == f"-{name}":
            aria_sort, next_value = "descending", name
        else:
            aria_sort, next_value = "none", f"-{name}" if descending_first else name
        link = query.copy()
        link.pop("page", None)
        link[param] = next_value
        result[name] = SortColumn(label=label, query=link.urlencode(), aria_sort=aria_sort)
    return result


PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


def page_size_from(query: QueryDict) -> int:
    """Rows per page from ``page_size``: 25 unless told, at most 100; a value
    that is not a number falls back to the default rather than failing."""
    try:
        size = int(query.get("page_size", PAGE_SIZE))
    except ValueError:
        return PAGE_SIZE
    return min(max(size, 1), MAX_PAGE_SIZE)


def page_size_choices(current: int) -> list[int]:
    return sorted({25, 50, 100, current})


def query_without(query: QueryDict, *names: str) -> str:
    """The query string minus ``names`` (e.g. the page number)."""
    copy = query.copy()
    for name in names:
        copy.pop(name, None)
    return copy.urlencode()


def yes_no_filter(field_name: str, *, label: str, negate: bool = False) -> django_filters.Filter:
    """``?param=true|false`` on a boolean condition ``field_name`` (a lookup
    such as ``active`` or ``segment__isnull``). A choice rather than a
    BooleanFilter, which ignores a value it cannot read: ``active=perhaps``
    is a 400, not the whole list."""

    def apply(queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(**{field_name: (value == "true") != negate})

    return django_filters.ChoiceFilter(
        choices=[("true", "Yes"), ("false", "No")], method=apply, label=label
    )


def search_filter(*fields: str, label: str) -> django_filters.Filter:
    """``?search=`` matching any of ``fields`` (case-insensitive substring);
    a blank search is no filter."""

    def apply(queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip()
        if not value:
            return queryset
        match = Q()
        for field in fields:
            match |= Q(**{f"{field}__icontains": value})
        return queryset.filter(match)

    return django_filters.CharFilter(label=label, method=apply)
