"""API representations of risk rules, what a rule would match now (its
preview), its backtest, the result of evaluating now, and rule matches.

As elsewhere in the API the serializers parse types only: the conditions, the
actions, the primary cause and the name are checked by ``rules.services``
(``clean_rule``), which names a condition's bad parameter
``conditions[i].field`` (``i`` counting from 0), and its refusals reach the
client through ``core.api.exception_handler`` as 400 / 403 / 409.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import HealthBand, Region, Segment
from core.api import CodeRelatedField, MoneyField
from risks.api.serializers import CauseCodeField

from .. import conditions as c
from ..evidence import sentences
from ..models import RULE_FIELDS, Action, Outcome, Rule, RuleMatch

# --- the schema of conditions and evidence -----------------------------------------------

_PARAMETERS: dict[str, dict[str, Any]] = {
    "band": {"type": "string", "enum": list(HealthBand.values)},
    "points": {
        "type": "integer",
        "minimum": 1,
        "maximum": c.MAX_POINTS,
        "description": f"Health score points, 1 to {c.MAX_POINTS}.",
    },
    "days": {"type": "integer", "minimum": 1, "maximum": c.MAX_DAYS},
    "measure": {
        "type": "string",
        "description": "Code of an active measure: a number measure, or an event measure "
        "for event_within.",
    },
    "value": {
        "type": "number",
        "minimum": -float(c.VALUE_LIMIT),
        "exclusiveMinimum": True,
        "maximum": float(c.VALUE_LIMIT),
        "exclusiveMaximum": True,
        "description": f"At most {c.VALUE_PLACES} digits after the point.",
    },
    "percent": {
        "type": "number",
        "minimum": int(c.PERCENT_LOW),
        "exclusiveMinimum": True,
        "maximum": int(c.PERCENT_HIGH),
        "exclusiveMaximum": True,
        "description": "A % change against the measure's baseline (e.g. -30), greater than "
        f"{c.PERCENT_LOW} and less than {c.PERCENT_HIGH}, at most {c.VALUE_PLACES} digits "
        "after the point.",
    },
}


def _condition_schema(kind: str) -> dict[str, Any]:
    label, parameters = c.TYPES[kind]
    return {
        "type": "object",
        "title": kind,
        "description": label,
        "properties": {
            "type": {"type": "string", "enum": [kind]},
            **{name: _PARAMETERS[name] for name in parameters},
        },
        "required": ["type", *parameters],
        "additionalProperties": False,
    }


CONDITIONS_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "maxItems": c.MAX_CONDITIONS,
    "items": {"oneOf": [_condition_schema(kind) for kind in c.TYPES]},
    "description": (
        f"1 to {c.MAX_CONDITIONS} conditions, all of which must hold, each "
        '`{"type": …}` with its parameters: `band_is` {band}, `score_drop` {points, days}, '
        "`measure_below` / `measure_above` {measure, value}, `measure_change_below` "
        "{measure, percent}, `event_within` {measure, days}, `renewal_within` {days}. "
        "A bad parameter's errors are named `conditions[i].parameter`, i counting from 0; "
        "errors of the list as a whole (too many, a contradictory or repeated pair) are "
        "named `conditions`."
    ),
}

EVIDENCE_SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"type": {"type": "string", "description": "The condition's type."}},
        "required": ["type"],
        "additionalProperties": True,
    },
    "description": (
        "One object per condition, in the rule's order: the condition's type and "
        "parameters with the figures it held on, e.g. "
        '`{"type": "band_is", "band": "red", "score": 31}`.'
    ),
}

ACTIONS_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "string", "enum": list(Action.values)},
    "description": (
        "What a match does, once per episode: `open_risk` (open a tier-1 risk record "
        "with the rule's primary cause, or note the evidence on the account's open "
        "record), `notify` (email the account's CSM and their manager) and/or `webhook` "
        "(send the rule.matched webhook event, e.g. to start a digital play for an "
        "account nobody calls)."
    ),
}

# An inline choice set: `outcome` already names the closing outcomes' enum
# (OutcomeEnum, POST /risks/{id}/close/), which a second choice set under the
# same property name would rename.
OUTCOME_SCHEMA = {
    "allOf": [{"type": "string", "enum": list(Outcome.values)}],
    "description": (
        "Blank while the match's actions are pending; then `opened` (it opened a risk "
        "record), `noted` (noted on the account's open record), `notified` (no record: "
        "emails or the webhook event only) "
        "or `skipped` (see `outcome_note`)."
    ),
}


@extend_schema_field(CONDITIONS_SCHEMA)
class ConditionsField(serializers.Field):
    """The conditions as sent: ``rules.services`` checks them."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(ACTIONS_SCHEMA)
class ActionsField(ConditionsField):
    """The action codes as sent: ``rules.services`` checks them."""


@extend_schema_field(EVIDENCE_SCHEMA)
class EvidenceField(serializers.ReadOnlyField):
    pass


@extend_schema_field(OUTCOME_SCHEMA)
class OutcomeField(serializers.ReadOnlyField):
    pass


# --- rules ---------------------------------------------------------------------------------


class RuleSerializer(serializers.ModelSerializer):
    """A risk rule: when all its conditions hold for an active account in its
    scope, it matches the account once per episode and takes its actions."""

    name = serializers.CharField(
        allow_blank=True, help_text="Required; at most 120 characters; unique."
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    active = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Only active rules are evaluated. A new rule is inactive unless this is "
        "sent: preview it first.",
    )
    segment = CodeRelatedField(
        slug_field="code",
        queryset=Segment.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="Segment code: only the accounts of this segment; null for every segment.",
    )
    region = CodeRelatedField(
        slug_field="code",
        queryset=Region.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="Region code: only the accounts of this region; null for every region.",
    )
    conditions = ConditionsField()
    actions = ActionsField()
    primary_cause = CauseCodeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Root cause code of the records the rule opens (and so their playbook); "
        "required with `open_risk`. A newly chosen cause must be active.",
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Bumped by every change. Send the version you loaded with PUT or PATCH: "
        "if someone saved the rule since, the change is refused (409).",
    )
    recent_matches = serializers.IntegerField(
        read_only=True, help_text="Matches in the last 30 days."
    )
    open_matches = serializers.IntegerField(
        read_only=True, help_text="Episodes still holding (matches not cleared)."
    )

    class Meta:
        model = Rule
        fields = [
            "id",
            *RULE_FIELDS,
            "version",
            "created_at",
            "updated_at",
            "recent_matches",
            "open_matches",
        ]
        read_only_fields = ["created_at", "updated_at"]
        validators: list = []  # the unique name is the service's check


# --- preview and evaluation ------------------------------------------------------------


class PreviewAccountSerializer(serializers.Serializer):
    """An account the rule matches, with the figures each condition held on."""

    id = serializers.IntegerField(source="account.pk")
    name = serializers.CharField(source="account.name")
    segment = serializers.CharField(source="account.segment.code", help_text="Segment code.")
    region = serializers.CharField(source="account.region.code", help_text="Region code.")
    csm = serializers.IntegerField(source="account.csm_id", help_text="User id of the CSM.")
    arr = MoneyField(source="account.arr")
    evidence = EvidenceField()
    explanation = serializers.ListField(
        child=serializers.CharField(),
        source="sentences",
        help_text="The evidence in words, one sentence per condition.",
    )


class PreviewSerializer(serializers.Serializer):
    as_of = serializers.DateField(help_text="The day the conditions were judged on.")
    count = serializers.IntegerField(help_text="How many accounts the rule matches.")
    accounts = PreviewAccountSerializer(
        many=True,
        source="rows",
        help_text="The first 50 of them, the largest ARR first.",
    )


class BacktestWeekSerializer(serializers.Serializer):
    day = serializers.DateField(help_text="The replay date.")
    matched = serializers.IntegerField(help_text="Accounts the rule matched on that date.")


class BacktestAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="account_id")
    name = serializers.CharField()
    first_match = serializers.DateField(help_text="The earliest replay date it matched on.")
    churn_date = serializers.DateField(
        allow_null=True,
        help_text="Its first churn in (first_match, first_match + horizon_days], or null.",
    )
    lead_days = serializers.IntegerField(
        allow_null=True, help_text="churn_date - first_match, in days; null without a churn."
    )


class BacktestSerializer(serializers.Serializer):
    months = serializers.IntegerField()
    horizon_days = serializers.IntegerField()
    end = serializers.DateField(help_text="The last replay date: today.")
    window_start = serializers.DateField(help_text="The first replay date.")
    weeks = serializers.IntegerField(help_text="Replay dates: months * 52 // 12.")
    fired = serializers.IntegerField(help_text="Accounts matched on at least one replay date.")
    churned_after = serializers.IntegerField(
        help_text="Fired accounts with a churn in (first_match, first_match + horizon_days]."
    )
    precision = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        allow_null=True,
        help_text="churned_after / fired; null when nothing fired.",
    )
    churns_in_window = serializers.IntegerField(
        help_text="Churns of accounts in the rule's scope dated in (window_start, end]."
    )
    recalled = serializers.IntegerField(
        help_text="Of those, the churns whose account matched on a replay date D with "
        "D < churn date ≤ D + horizon_days."
    )
    recall = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        allow_null=True,
        help_text="recalled / churns_in_window; null when there was no churn.",
    )
    median_lead_days = serializers.DecimalField(
        max_digits=6,
        decimal_places=1,
        allow_null=True,
        help_text="The median of lead_days over the churned_after accounts; null when none.",
    )
    weekly = BacktestWeekSerializer(many=True, help_text="Every replay date, oldest first.")
    accounts = BacktestAccountSerializer(
        many=True, help_text="The first 50 fired accounts by first match (then by id)."
    )


class EvaluationSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    rules = serializers.IntegerField(help_text="Active rules evaluated.")
    matched = serializers.IntegerField(help_text="New matches (episodes that started).")
    cleared = serializers.IntegerField(help_text="Episodes that stopped holding.")
    problems = serializers.ListField(
        child=serializers.CharField(),
        help_text="Rules that could not run and why (a measure they test was deleted or "
        "changed since they were saved); the other rules ran.",
    )


# --- matches ---------------------------------------------------------------------------------


class RuleMatchSerializer(serializers.ModelSerializer):
    """One episode of a rule holding for an account: written when the rule
    started to hold, cleared when it stopped."""

    rule_name = serializers.CharField(source="rule.name", read_only=True)
    account_name = serializers.CharField(source="account.name", read_only=True)
    evidence = EvidenceField()
    explanation = serializers.SerializerMethodField(
        help_text="The evidence in words, one sentence per condition."
    )
    outcome = OutcomeField()

    class Meta:
        model = RuleMatch
        fields = [
            "id",
            "rule",
            "rule_name",
            "account",
            "account_name",
            "matched_at",
            "as_of",
            "evidence",
            "explanation",
            "risk",
            "outcome",
            "outcome_note",
            "acted_at",
            "cleared_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "risk": {"help_text": "The risk record it opened or noted on, or null."},
            "acted_at": {"help_text": "When its actions were taken; null while pending."},
            "cleared_at": {"help_text": "When the rule stopped holding; null while it holds."},
        }

    def get_explanation(self, match: RuleMatch) -> list[str]:
        return sentences(match.evidence)
