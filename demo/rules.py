"""The demo's risk rules: the ones a CS operations lead starts with. Each is
written inactive, previewed, then switched on, as an admin would do it
through the editor; then they are evaluated once, so their matches, the
records they opened and the notes they added are there to look at."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from accounts.models import Segment, User
from health.models import Measure
from risks.models import RootCause
from rules import services
from rules.evaluation import act_on_pending, evaluate_rules, rule_preview
from rules.models import Rule

RED = {"type": "band_is", "band": "red"}
_RED_HEALTH = (
    "A red health score in our largest accounts gets a record and a play at once, "
    "without waiting for someone to notice it."
)


@dataclass(frozen=True)
class DemoRule:
    name: str
    description: str
    conditions: list[dict[str, Any]]
    actions: list[str]
    cause: str
    segment: str | None = None


DEMO_RULES = (
    # A rule's scope is one segment, so "red in Enterprise and Strategic" is two rules.
    DemoRule(
        "Red health in Enterprise",
        _RED_HEALTH,
        [RED],
        ["open_risk", "notify"],
        "value-not-realised",
        "enterprise",
    ),
    DemoRule(
        "Red health in Strategic",
        _RED_HEALTH,
        [RED],
        ["open_risk", "notify"],
        "value-not-realised",
        "strategic",
    ),
    DemoRule(
        "SMB usage down 30%",
        "Usage in an SMB account falling by more than 30% against its own 90-day average: "
        "the low-usage play, before the renewal is at stake.",
        [{"type": "measure_change_below", "measure": "usage-volume", "percent": -30}],
        ["open_risk"],
        "low-usage",
        "smb",
    ),
    DemoRule(
        "Sponsor left",
        "Whenever the CRM reports that an account's executive sponsor left, in any segment.",
        [{"type": "event_within", "measure": "sponsor-left", "days": 30}],
        ["open_risk", "notify"],
        "lost-champion",
    ),
)


@dataclass
class RulesReport:
    created: int = 0
    present: int = 0
    previewed: int = 0
    matched: int = 0
    acted: int = 0


def ensure_rules(admin: User, today: dt.date) -> RulesReport:
    """Write the demo rules that are missing (an admin's own rule of the same
    name is left alone), preview each new one and switch it on, then evaluate
    every active rule as of today and take the new matches' actions."""
    report = RulesReport()
    segments = {segment.code: segment for segment in Segment.objects.all()}
    causes = {cause.code: cause for cause in RootCause.objects.filter(active=True)}
    measures = set(Measure.objects.filter(active=True).values_list("code", flat=True))
    for spec in DEMO_RULES:
        if Rule.objects.filter(name=spec.name).exists():
            report.present += 1
            continue
        cause = causes.get(spec.cause)
        segment = segments.get(spec.segment) if spec.segment else None
        wanted = {item["measure"] for item in spec.conditions if "measure" in item}
        if cause is None or (spec.segment and segment is None) or wanted - measures:
            continue  # an admin retired its cause, segment or measure: no demo rule
        rule = services.rule_create(
            user=admin,
            values={
                "name": spec.name,
                "description": spec.description,
                "segment": segment,
                "conditions": spec.conditions,
                "actions": spec.actions,
                "primary_cause": cause,
            },
        )
        report.previewed += rule_preview(rule, as_of=today).count
        services.rule_update(user=admin, rule=rule, values={"active": True})
        report.created += 1
    result = evaluate_rules(as_of=today)
    report.matched = result.matched
    report.acted = act_on_pending()
    return report
