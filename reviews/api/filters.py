"""Filters of the agendas API (docs/api.md)."""

from __future__ import annotations

import django_filters

from accounts.models import Region
from core.lists import DateFilter

from ..models import Agenda


class AgendaFilter(django_filters.FilterSet):
    region = django_filters.ModelChoiceFilter(
        label="Region code",
        queryset=Region.objects.all(),
        to_field_name="code",
    )
    week_start = DateFilter(label="Monday of the week (YYYY-MM-DD)")

    class Meta:
        model = Agenda
        fields: list[str] = []
