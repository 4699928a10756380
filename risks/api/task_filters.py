"""Filters of the playbooks and tasks API (docs/api.md)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Department, Segment, User
from core.lists import yes_no_filter

from .. import selectors
from ..models import Playbook, RiskRecord, RiskStatus, RootCause, Task, TaskSource

YES_NO = [("true", "Yes"), ("false", "No")]


class PlaybookFilter(django_filters.FilterSet):
    root_cause = django_filters.ModelChoiceFilter(
        queryset=RootCause.objects.all(), to_field_name="code", label="Root cause code"
    )
    segment = django_filters.ModelChoiceFilter(
        queryset=Segment.objects.all(),
        to_field_name="code",
        label="Segment code (playbooks for every segment have none)",
    )
    active = yes_no_filter("active", label="Active")

    class Meta:
        model = Playbook
        fields: list[str] = []


class TaskFilter(django_filters.FilterSet):
    """The tasks list's filters. Tasks of closed records are left out unless
    ``include_closed=true``, or unless ``risk`` names the record (then its
    tasks are all shown unless ``include_closed=false``)."""

    risk = django_filters.ModelChoiceFilter(
        queryset=RiskRecord.objects.all(), label="Risk record id"
    )
    owner = django_filters.ModelChoiceFilter(
        queryset=User.objects.all(), label="User id of the task's owner"
    )
    department = django_filters.ChoiceFilter(
        choices=Department.choices, label="The department that owns the task"
    )
    source = django_filters.ChoiceFilter(
        choices=TaskSource.choices, label="Where the task came from"
    )
    overdue = django_filters.ChoiceFilter(
        choices=YES_NO,
        method="filter_overdue",
        label="true: open and due before today; false: every other task",
    )
    done = yes_no_filter("done_at__isnull", negate=True, label="Done")
    mine = django_filters.ChoiceFilter(
        choices=YES_NO,
        method="filter_mine",
        label=(
            "true: the tasks you own, and for a department's reviewer the department's "
            "tasks without an owner (in the reviewer's region); false: every other task"
        ),
    )
    include_closed = django_filters.ChoiceFilter(
        choices=YES_NO,
        method="filter_include_closed",
        label=(
            "Also the tasks of closed records. Default: false, unless `risk` is given (then true)"
        ),
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_overdue(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        overdue = selectors.overdue_q(timezone.localdate())
        return queryset.filter(overdue) if value == "true" else queryset.exclude(overdue)

    def filter_mine(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        mine = selectors.mine_q(self.request.user)
        return queryset.filter(mine) if value == "true" else queryset.exclude(mine)

    def filter_include_closed(
        self, queryset: QuerySet[Task], name: str, value: str
    ) -> QuerySet[Task]:
        return queryset  # applied in filter_queryset, which also knows its default

    def filter_queryset(self, queryset: QuerySet[Task]) -> QuerySet[Task]:
        queryset = super().filter_queryset(queryset)
        include_closed = self.form.cleaned_data.get("include_closed")
        if include_closed:
            include = include_closed == "true"
        else:
            include = self.form.cleaned_data.get("risk") is not None
        if not include:
            queryset = queryset.filter(risk__status=RiskStatus.OPEN)
        return queryset
