"""Reads of the rules app for pages and the API: set-based, a fixed number
of queries whatever the number of rules or matches."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from health.models import Measure
from risks.models import TimelineEvent, TimelineKind
from risks.timeline import Link, References

from .models import Rule, RuleMatch

RECENT_DAYS = 30


def rules_with_counts(*, now: dt.datetime | None = None) -> QuerySet[Rule]:
    """Every rule with ``recent_matches`` (matches in the last 30 days) and
    ``open_matches`` (episodes still holding): one query."""
    since = (now or timezone.now()) - dt.timedelta(days=RECENT_DAYS)
    return (
        Rule.objects.select_related("segment", "region", "primary_cause")
        .annotate(
            recent_matches=Count("matches", filter=Q(matches__matched_at__gte=since)),
            open_matches=Count("matches", filter=Q(matches__cleared_at__isnull=True)),
        )
        .order_by("-active", "name")
    )


def measure_names() -> dict[str, str]:
    return dict(Measure.objects.values_list("code", "name"))


def matches(**filters: Any) -> QuerySet[RuleMatch]:
    """Matches with what a list shows of them (rule, account, record), newest first."""
    return (
        RuleMatch.objects.filter(**filters)
        .select_related("rule", "account", "account__csm", "risk")
        .order_by("-matched_at", "-id")
    )


def account_matches(account_id: int) -> list[RuleMatch]:
    """The rules holding for an account now (its uncleared matches): one query."""
    return list(matches(account_id=account_id, cleared_at__isnull=True))


def rule_references(events: list[TimelineEvent]) -> References:
    """Names and links of the rules that opened a record or noted on it
    (registered with ``risks.timeline``): one query, none without rules."""
    ids = {
        event.data.get("rule")
        for event in events
        if event.kind in (TimelineKind.OPENED, TimelineKind.NOTE) and isinstance(event.data, dict)
    }
    ids = {pk for pk in ids if isinstance(pk, int)}
    if not ids:
        return {}
    return {
        ("rule", rule.pk): Link(rule.name, reverse("rules:detail", kwargs={"pk": rule.pk}))
        for rule in Rule.objects.filter(pk__in=ids).only("pk", "name")
    }
