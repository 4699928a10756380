"""Reads that feed the customer accounts pages. They own select_related and
annotate so that a list costs the same number of queries for any row count."""

from __future__ import annotations

from django.db.models import F, FilteredRelation, Q, QuerySet
from django.shortcuts import get_object_or_404

from risks.models import RiskRecord, RiskStatus

from .models import Account


def account_queryset() -> QuerySet[Account]:
    """Accounts with what a list row shows, plus ``open_risk_id`` and
    ``open_risk_tier`` (None without an open risk record).

    A LEFT JOIN on the open record is enough: the database allows at most one
    open record per account, so the join never multiplies rows.
    """
    return (
        Account.objects.select_related("region", "segment", "csm__manager")
        .annotate(
            open_risk_rel=FilteredRelation("risks", condition=Q(risks__status=RiskStatus.OPEN)),
            open_risk_id=F("open_risk_rel__id"),
            open_risk_tier=F("open_risk_rel__tier"),
        )
        .order_by("name", "pk")
    )


def account_detail(pk: int) -> Account:
    """The account with its region, segment, CSM and the CSM's manager, or 404."""
    return get_object_or_404(
        Account.objects.select_related("region", "segment", "csm__manager"), pk=pk
    )


def account_risks(account: Account) -> list[RiskRecord]:
    """Every risk record of ``account``, newest first, with their causes (one query).
    The account is set on each record so reading ``risk.account`` costs nothing."""
    risks = list(
        RiskRecord.objects.filter(account=account)
        .select_related("primary_cause", "secondary_cause")
        .order_by("-opened_at", "-pk")
    )
    for risk in risks:
        risk.account = account
    return risks
