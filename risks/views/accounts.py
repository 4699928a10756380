"""Customer accounts pages: a filterable list, and one account with its open
risk record, its history, its health and its renewals. Read-only: every
signed-in user may read them. They live with the risk records because every
row and page shows the account's records. Apps above this one add blocks to
the account page through ``risks.panels`` (the risk rules holding for the
account)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.selectors import account_renewals
from core.lists import (
    current_ordering,
    page_size_choices,
    page_size_from,
    query_without,
    sort_columns,
)
from health.charts import history_chart
from health.selectors import account_health

from ..filters import AccountFilter
from ..models import RiskStatus
from ..panels import account_panels
from ..rules import can_file_on
from ..selectors import account_detail as select_account
from ..selectors import account_queryset, account_risks

# (ordering parameter, column label, first click sorts descending?)
SORTABLE_COLUMNS = [
    ("name", "Name", False),
    ("health", "Health", False),  # the least healthy first
    ("arr", "ARR", True),
    ("renewal_date", "Renewal", False),
]


@require_GET
def account_list(request: HttpRequest) -> HttpResponse:
    filterset = AccountFilter(request.GET, queryset=account_queryset(), request=request)
    valid = filterset.is_valid()
    accounts = filterset.qs if valid else filterset.queryset.none()
    paginator = Paginator(accounts, page_size_from(request.GET))
    page_obj = paginator.get_page(request.GET.get("page"))
    form = filterset.form
    context: dict[str, Any] = {
        "filter": filterset,
        "form": form,
        "valid": valid,
        "page_obj": page_obj,
        "accounts": page_obj.object_list,
        "query_without_page": query_without(request.GET, "page"),
        "sort": sort_columns(request.GET, current_ordering(filterset), SORTABLE_COLUMNS),
        "ordering_value": request.GET.get("ordering", ""),
        "page_size": paginator.per_page,
        "page_sizes": page_size_choices(paginator.per_page),
        "main_fields": [
            form[name]
            for name in (
                "search",
                "region",
                "segment",
                "csm",
                "renewal_within",
                "status",
                "has_open_risk",
                "health_band",
                "renewal_date_after",
                "renewal_date_before",
            )
        ],
        "hidden_errors": [
            (form.fields["ordering"].label, error) for error in form.errors.get("ordering", [])
        ],
    }
    # htmx requests get the same page and pick the list out of it (hx-select).
    return render(request, "accounts/list.html", context)


@require_GET
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    account = select_account(pk)
    risks = account_risks(account)
    open_risk = next((risk for risk in risks if risk.status == RiskStatus.OPEN), None)
    past_risks = [risk for risk in risks if risk.status != RiskStatus.OPEN]
    health = account_health(account)
    return render(
        request,
        "accounts/detail.html",
        {
            "account": account,
            "open_risk": open_risk,
            "past_risks": past_risks,
            "health": health,
            "health_chart": history_chart(health.history) if health.history else None,
            "renewals": account_renewals(account),
            "can_file": open_risk is None
            and not account.is_churned
            and can_file_on(request.user, account),
            "panels": account_panels(account, request.user),
        },
    )
