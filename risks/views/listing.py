"""The risk list (filters, search, sortable columns, pages) and its CSV export.

Both read the same ``RiskFilter`` with the same defaults, so the CSV holds
exactly the rows the page shows, across all pages, in the same order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from core.csv_files import cell, csv_stream
from core.lists import (
    current_ordering,
    page_size_choices,
    page_size_from,
    query_without,
    sort_columns,
)

from ..filters import RiskFilter
from ..models import RiskRecord, RiskStatus
from ..selectors import risk_export_queryset, risk_list_queryset

# (ordering parameter, column label, first click sorts descending?)
SORTABLE_COLUMNS = [
    ("account", "Account", False),
    ("tier", "Tier", True),
    ("arr_at_risk", "ARR at risk", True),
    ("renewal_date", "Renewal", False),
    ("opened_at", "Opened", True),
    ("closed_at", "Status / closed", True),
]

# Filters shown folded under "More filters" unless one of them is in use.
MORE_FILTERS = [
    "secondary_cause",
    "renewal_date_after",
    "renewal_date_before",
    "opened_after",
    "opened_before",
    "closed_after",
    "closed_before",
]

CSV_COLUMNS = [
    "id",
    "account",
    "external_id",
    "region",
    "segment",
    "tier",
    "max_tier",
    "status",
    "primary_cause",
    "secondary_cause",
    "category",
    "csm",
    "manager",
    "arr_at_risk",
    "arr_retained",
    "renewal_date",
    "opened_at",
    "closed_at",
    "summary",
    "next_steps",
]

# A spreadsheet runs a cell starting with one of these as a formula.


def risk_filter(request: HttpRequest, queryset: QuerySet[RiskRecord]) -> RiskFilter:
    """The filters of the request. Without a ``status`` parameter the list shows
    open records, which is what a CSM looks for; ``status=`` (the "Any status"
    choice) shows every record."""
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = RiskStatus.OPEN
    return RiskFilter(data, queryset=queryset, request=request)


def filter_errors_text(filterset: RiskFilter) -> str:
    lines = []
    for name, errors in filterset.errors.items():
        label = filterset.form.fields[name].label if name in filterset.form.fields else None
        for error in errors:
            lines.append(f"{label or name} ({name}): {error}" if label else error)
    return "\n".join(lines)


def with_days(risks: Iterable[RiskRecord]) -> list[RiskRecord]:
    """Sets ``days_open`` on each row: until today, or until it was closed."""
    today = timezone.localdate()
    rows = list(risks)
    for risk in rows:
        end = timezone.localtime(risk.closed_at).date() if risk.closed_at else today
        risk.days_open = (end - timezone.localtime(risk.opened_at).date()).days
    return rows


@require_GET
def risk_list(request: HttpRequest) -> HttpResponse:
    filterset = risk_filter(request, risk_list_queryset())
    valid = filterset.is_valid()
    # Invalid filters show their errors and no rows rather than a guess.
    risks = filterset.qs if valid else filterset.queryset.none()
    paginator = Paginator(risks, page_size_from(request.GET))
    page_obj = paginator.get_page(request.GET.get("page"))
    ordering = current_ordering(filterset)
    status = filterset.data.get("status")
    form = filterset.form
    context: dict[str, Any] = {
        "filter": filterset,
        "form": form,
        "valid": valid,
        "page_obj": page_obj,
        "risks": with_days(page_obj.object_list),
        "query_without_page": query_without(request.GET, "page"),
        "query_without_account": query_without(request.GET, "page", "account"),
        "page_size": paginator.per_page,
        "page_sizes": page_size_choices(paginator.per_page),
        "sort": sort_columns(request.GET, ordering, SORTABLE_COLUMNS),
        "ordering_value": request.GET.get("ordering", ""),
        # The closed date matters once closed records are listed.
        "show_closed": status != RiskStatus.OPEN,
        "selected_account": form.cleaned_data.get("account") if valid else None,
        "main_fields": [
            form[name]
            for name in (
                "search",
                "status",
                "tier",
                "region",
                "segment",
                "primary_cause",
                "category",
                "csm",
                "manager",
                "renewal_within",
            )
        ],
        "more_fields": [form[name] for name in MORE_FILTERS],
        "more_filters_open": any(request.GET.get(name) for name in MORE_FILTERS)
        or any(name in form.errors for name in MORE_FILTERS),
        "hidden_errors": [
            (form.fields[name].label or name, error)
            for name in ("ordering", "account")
            for error in form.errors.get(name, [])
        ],
    }
    # An htmx request swaps only the filters and results; a history restore
    # (back button after the cache expired) needs the whole page.
    partial = request.htmx and not request.htmx.history_restore_request
    template = "risks/_list_body.html" if partial else "risks/list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def csv_row(risk: RiskRecord) -> list[str]:
    account = risk.account
    manager = account.csm.manager
    values = [
        risk.pk,
        account.name,
        account.external_id,
        account.region.code,
        account.segment.code,
        risk.tier,
        risk.max_tier,
        risk.status,
        risk.primary_cause.code,
        risk.secondary_cause.code if risk.secondary_cause else None,
        risk.primary_cause.category,
        str(account.csm),
        str(manager) if manager else None,
        risk.arr_at_risk,
        risk.arr_retained,
        account.renewal_date,
        risk.opened_at,
        risk.closed_at,
        risk.summary,
        risk.next_steps,
    ]
    return [cell(value) for value in values]


@require_GET
def risk_export(request: HttpRequest) -> HttpResponse:
    filterset = risk_filter(request, risk_export_queryset())
    if not filterset.is_valid():
        return HttpResponse(
            "The filters are not valid:\n" + filter_errors_text(filterset) + "\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    # A server-side cursor in chunks: a large export never sits in memory whole.
    rows = filterset.qs.iterator(chunk_size=1000)
    return csv_stream(
        itertools.chain([CSV_COLUMNS], (csv_row(risk) for risk in rows)),
        f"risk-records-{timezone.localdate().isoformat()}.csv",
    )
