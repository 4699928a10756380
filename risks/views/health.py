"""The Health page: active accounts by band per segment and per region, the
biggest drops in 30 days, and the accountability list — red accounts that
have no open risk record.

It lives with the risk records rather than in ``health`` because the
accountability list needs them, and health sits below risks. Every
signed-in user may read it (as every account and record); what differs by
role is the "File a risk record" link, shown on the rows the user may file
on, and the "mine" / "my team" choices of the filter.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import Account, User
from core.lists import query_without
from health import selectors as health_selectors
from health.charts import band_share_chart

from ..forms import HealthFilterForm
from ..rules import can_file_on
from ..selectors import red_accounts_without_open_risk, team_scope

ACCOUNTABILITY_PAGE_SIZE = 25


def _filtered(accounts: QuerySet[Account], data: dict, user: User) -> QuerySet[Account]:
    if data.get("region"):
        accounts = accounts.filter(region=data["region"])
    if data.get("segment"):
        accounts = accounts.filter(segment=data["segment"])
    owner = data.get("owner")
    if owner == "mine":
        accounts = accounts.filter(csm=user)
    elif owner == "team":
        accounts = accounts.filter(team_scope(user, prefix=""))
    return accounts


@require_GET
def health_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    # Only the filters bind the form: a bare "?page=2" is no filter at all.
    bound = any(request.GET.get(name) for name in ("region", "segment", "owner"))
    form = HealthFilterForm(request.GET if bound else None, user=user)
    valid = form.is_valid() if bound else True
    context: dict[str, Any] = {"form": form, "valid": valid}
    if valid:
        accounts = _filtered(
            health_selectors.active_accounts(), form.cleaned_data if bound else {}, user
        )
        paginator = Paginator(red_accounts_without_open_risk(accounts), ACCOUNTABILITY_PAGE_SIZE)
        page_obj = paginator.get_page(request.GET.get("page"))
        unfiled = list(page_obj.object_list)
        for account in unfiled:
            # A predicate over the loaded CSM and their manager id: no query.
            account.can_file = can_file_on(user, account)
        by_segment = health_selectors.bands_by(accounts, "segment")
        by_region = health_selectors.bands_by(accounts, "region")
        context.update(
            {
                "totals": health_selectors.band_totals(accounts),
                "by_segment": by_segment,
                "by_region": by_region,
                "segment_chart": band_share_chart(
                    by_segment, group_label="Segment", chart_id="bands-by-segment-chart"
                ),
                "region_chart": band_share_chart(
                    by_region, group_label="Region", chart_id="bands-by-region-chart"
                ),
                "drops": list(health_selectors.biggest_drops(accounts)),
                "page_obj": page_obj,
                "unfiled": unfiled,
                "query_without_page": query_without(request.GET, "page"),
                "trend_days": health_selectors.TREND_DAYS,
            }
        )
    return render(request, "health/index.html", context, status=200 if valid else 400)
