"""What a risk rule's match tells systems outside: the Slack message of the
account's region for every match acted on, and the ``rule.matched`` webhook
event for the matches of rules with the ``webhook`` action (docs/api.md,
"Webhook events"). The event's data is built by the serializer that documents
it in the OpenAPI schema, as in ``risks.integrations``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications import slack
from notifications.outbox import absolute_url, queue_slack
from risks.integrations import (
    EventAccountSerializer,
    EventRiskSerializer,
    account_fields,
    emit,
    event_webhook,
)
from risks.links import account_url, risk_url

from .evidence import sentence
from .models import Outcome, Rule, RuleMatch

RULE_MATCHED = "rule.matched"


def rule_url(rule_id: int) -> str:
    return absolute_url(reverse("rules:detail", kwargs={"pk": rule_id}))


class EventRuleSerializer(serializers.Serializer):
    """A risk rule."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.SerializerMethodField(help_text="The rule's page.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, rule: Rule) -> str:
        return rule_url(rule.pk)


# Inline: a choice set under the name ``outcome`` would rename the API's
# OutcomeEnum (the closing outcomes), as in rules.api.serializers.
@extend_schema_field(
    {
        "type": "string",
        "enum": [Outcome.OPENED.value, Outcome.NOTED.value, Outcome.NOTIFIED.value],
        "description": "opened: it opened a risk record; noted: its evidence was added "
        "to the account's open record; notified: no record was opened or noted on.",
    }
)
class MatchOutcomeField(serializers.CharField):
    pass


class EventMatchSerializer(serializers.Serializer):
    """One episode of the rule holding for the account."""

    id = serializers.IntegerField()
    matched_at = serializers.DateTimeField(help_text="When the evaluation found it.")
    as_of = serializers.DateField(help_text="The day the conditions were judged on.")
    outcome = MatchOutcomeField()


class EventEvidenceSerializer(serializers.Serializer):
    """What one condition held on."""

    text = serializers.CharField(help_text="The condition's evidence in words.")
    values = serializers.DictField(
        help_text='The figures, e.g. {"type": "band_is", "band": "red", "score": 31}.'
    )


class RuleMatchedDataSerializer(serializers.Serializer):
    rule = EventRuleSerializer()
    match = EventMatchSerializer()
    account = EventAccountSerializer()
    evidence = EventEvidenceSerializer(many=True, help_text="One per condition, in order.")
    risk = EventRiskSerializer(
        allow_null=True, help_text="The record it opened or noted on, or null."
    )


RULE_MATCHED_WEBHOOK = event_webhook(
    RULE_MATCHED,
    RuleMatchedDataSerializer,
    "Sent once per match of a risk rule that has the `webhook` action, when the "
    "match's actions are taken: after the record is opened or the evidence noted. "
    "A rule may have the webhook action alone, for the accounts nobody calls.",
)


def _evidence(match: RuleMatch) -> list[dict[str, Any]]:
    return [
        {"text": sentence(item), "values": item}
        for item in match.evidence or []
        if isinstance(item, dict)
    ]


def rule_matched(match: RuleMatch) -> None:
    """For a match just acted on (opened, noted or notified): the Slack message
    of the account's region, and rule.matched when the rule has the webhook
    action."""
    rule, account, risk = match.rule, match.account, match.risk
    if rule.sends_webhook:
        emit(
            RULE_MATCHED,
            RuleMatchedDataSerializer,
            {
                "rule": rule,
                "match": match,
                "account": account,
                "evidence": _evidence(match),
                "risk": risk,
            },
            key=f"{RULE_MATCHED}:{match.pk}",
            occurred_at=match.matched_at,
        )
    # The blocks are made only for a region with a channel: acting on
    # thousands of matches costs one query each here otherwise.
    queue_slack(
        region_id=account.region_id,
        dedupe_key=f"{RULE_MATCHED}:{match.pk}",
        kind=RULE_MATCHED,
        text=slack.one_line(f"The rule “{rule.name}” matched {account.name}"),
        blocks=lambda: _slack_blocks(rule, match, _evidence(match)),
    )


def _what_happened(match: RuleMatch) -> str:
    if match.outcome == Outcome.OPENED:
        return f"It opened risk record #{match.risk_id} at tier 1."
    if match.outcome == Outcome.NOTED:
        return f"Its evidence was added to the open risk record #{match.risk_id}."
    return "No risk record was opened."


def _slack_blocks(
    rule: Rule, match: RuleMatch, evidence: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    account = match.account
    lines = "\n".join(f"• {slack.escape(item['text'])}" for item in evidence)
    as_of: dt.date = match.as_of
    button = (
        slack.link_button("Open record", risk_url(match.risk_id))
        if match.risk_id
        else slack.link_button("Open account", account_url(account.pk))
    )
    return [
        slack.header(f"Rule matched: {rule.name}"),
        slack.section(
            f"The rule “{slack.escape(rule.name)}” matched *{slack.escape(account.name)}* "
            f"on {as_of:%-d %b %Y}. {_what_happened(match)}\n{lines}"
        ),
        slack.fields(account_fields(account)),
        slack.context(f"<{rule_url(rule.pk)}|About this rule>"),
        button,
    ]
