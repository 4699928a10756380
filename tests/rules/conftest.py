"""Shared setup of the rule tests: an empty scorecard (the seeded measures
switched off), a day D, and small helpers to write scores and observations
whose effect on each condition is worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from health.models import HealthScore, Measure
from rules.models import Rule
from tests import factories

D = dt.date(2026, 6, 30)


@pytest.fixture(autouse=True)
def _empty_scorecard(db):
    Measure.objects.update(active=False)


def number(code: str, **fields: Any) -> Measure:
    return factories.MeasureFactory(code=code, **fields)


def event(code: str, **fields: Any) -> Measure:
    return factories.MeasureFactory(code=code, kind="event", better="", **fields)


def observe(account, measure: Measure, value: Any, on: dt.date) -> None:
    factories.ObservationFactory(
        account=account, measure=measure, value=Decimal(str(value)), observed_on=on
    )


def scored(account, as_of: dt.date, score: int | None, band: str) -> None:
    """A health score row, mirrored onto the account when it is the newest
    (as the scoring does)."""
    HealthScore.objects.create(
        account=account,
        as_of=as_of,
        score=score,
        band=band,
        coverage=Decimal(1),
        computed_at=timezone.now(),
    )
    newest = HealthScore.objects.filter(account=account).order_by("-as_of").first()
    type(account).objects.filter(pk=account.pk).update(
        health_score=newest.score, health_band=newest.band, health_as_of=newest.as_of
    )


def rule(*conditions: dict[str, Any], **fields: Any) -> Rule:
    now = timezone.now()
    values = {
        "name": f"Rule {Rule.objects.count() + 1}",
        "active": True,
        "conditions": list(conditions),
        "actions": ["open_risk"],
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    if "open_risk" in values["actions"] and "primary_cause" not in values:
        values["primary_cause"] = factories.RootCauseFactory()
    return Rule.objects.create(**values)
