"""Small display helpers shared by every risk page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.utils import timezone
from django.utils.html import format_html

from core.money import format_amount, format_money
from risks.models import RiskStatus, Tier

register = template.Library()

TIER_SHORT = {
    Tier.CSM: "Tier 1 · CSM",
    Tier.MANAGER: "Tier 2 · Manager",
    Tier.REVIEW: "Tier 3 · Review",
}


@register.simple_tag
def tier_badge(tier: int | None) -> str:
    """Tier shown with colour *and* text."""
    if tier is None:
        return ""
    label = TIER_SHORT.get(int(tier), f"Tier {tier}")
    return format_html(
        '<span class="badge tier-{}" title="{}">{}</span>', tier, Tier(int(tier)).label, label
    )


@register.simple_tag
def status_badge(status: str, label: str | None = None) -> str:
    if label is None:
        try:
            label = RiskStatus(status).label
        except ValueError:
            label = status.replace("_", " ").capitalize()
    return format_html('<span class="badge status-{}">{}</span>', status, label)


@register.filter
def money(value: Decimal | int | float | None) -> str:
    """125000 → "USD 125,000" (``core.money.format_money``)."""
    return format_money(value)


@register.filter
def amount(value: Decimal | int | float | None) -> str:
    """125000 → "125,000", in a column whose header names the currency."""
    return format_amount(value)


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).date()
    return value


@register.filter
def days_until(value: dt.date | dt.datetime | None) -> int | None:
    if value is None:
        return None
    return (_as_date(value) - timezone.localdate()).days


@register.filter
def days_since(value: dt.date | dt.datetime | None) -> int | None:
    if value is None:
        return None
    return (timezone.localdate() - _as_date(value)).days
