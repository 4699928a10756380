"""The baseline of ``list_risks``: the same filtered count and the same 50 rows
(the same columns, order and JSON) as GET /api/v1/risks/ with the bench's two
filters (region and primary cause, given here by id), in one ``.count()``
and one ``.values()`` query, returned with ``JsonResponse``: what the endpoint
would cost with no framework work on top of the queries. It runs behind the
same middleware (session sign-in included)."""

from __future__ import annotations

from django.db.models import F
from django.http import HttpRequest, JsonResponse

from risks.models import RiskRecord

# representation key → values() path
COLUMNS = {
    "id": "id",
    "account": "account_id",
    "account_name": "account__name",
    "region": "account__region__code",
    "primary_cause": "primary_cause__code",
    "secondary_cause": "secondary_cause__code",
    "tier": "tier",
    "max_tier": "max_tier",
    "status": "status",
    "summary": "summary",
    "next_steps": "next_steps",
    "arr_at_risk": "arr_at_risk",
    "arr_retained": "arr_retained",
    "opened_by": "opened_by_id",
    "opened_at": "opened_at",
    "tier_changed_at": "tier_changed_at",
    "closed_by": "closed_by_id",
    "closed_at": "closed_at",
    "outcome_note": "outcome_note",
    "version": "version",
}


def baseline_risks(request: HttpRequest) -> JsonResponse:
    page = int(request.GET.get("page", 1))
    page_size = int(request.GET.get("page_size", 50))
    # By id, not code: the baseline is the least a database round trip can
    # cost, so it skips the lookups of the region and the cause.
    records = RiskRecord.objects.filter(
        account__region_id=int(request.GET["region_id"]),
        primary_cause_id=int(request.GET["primary_cause_id"]),
    )
    count = records.count()
    start = (page - 1) * page_size
    rows = records.order_by(F("opened_at").desc(nulls_last=True), F("pk").desc()).values_list(
        *COLUMNS.values()
    )[start : start + page_size]
    keys = list(COLUMNS)
    results = [dict(zip(keys, row, strict=True)) for row in rows]
    return JsonResponse({"count": count, "results": results})
