"""API representations of root causes, risk records, escalations
and timeline events, and the request bodies of the workflow actions.

Input serializers only parse: every rule (who may act, active causes, tiers,
amounts against the ARR at risk, versions) is decided by ``risks.services``.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import slug_re
from rest_framework import serializers

from accounts.models import Account
from core.api import CodeRelatedField, MoneyField

from ..models import (
    CLOSED_STATUSES,
    Escalation,
    RiskRecord,
    RootCause,
    Tier,
    TimelineEvent,
)

# --- root causes -----------------------------------------------------------------------


class RootCauseSerializer(serializers.ModelSerializer):
    """A root cause of the taxonomy."""

    # Parses types only: the rules (slugs, unique code, a code in use stays)
    # are the service's, so the API and the admin answer alike.

    code = serializers.CharField(
        allow_blank=True, help_text="Slug; fixed once a risk record uses the cause."
    )
    name = serializers.CharField(allow_blank=True)
    category = serializers.CharField(
        allow_blank=True, help_text="adoption, product, or another category slug."
    )
    description = serializers.CharField(
        allow_blank=True, help_text="When a CSM should pick this cause."
    )
    active = serializers.BooleanField(
        default=True, help_text="false retires the cause: new records cannot choose it."
    )

    class Meta:
        model = RootCause
        fields = ["id", "code", "name", "category", "description", "active"]


# --- risk records -------------------------------------------------------------------------


class CauseCodeField(CodeRelatedField):
    """A root cause by its code. Any existing cause parses: whether an inactive
    one may be chosen is the service's rule (it may stay on a record that
    already has it)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "Root cause code.")
        super().__init__(slug_field="code", queryset=RootCause.objects.all(), **kwargs)

    def to_internal_value(self, data: Any) -> RootCause:
        # A value that is not a slug names no cause; refuse it before the
        # query, which PostgreSQL would fail on for some strings (NUL bytes).
        if not isinstance(data, str):
            self.fail("invalid")
        if not slug_re.match(data):
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class RiskSerializer(serializers.ModelSerializer):
    """A risk record. Filed with POST and edited with PATCH (the fields of
    RiskCreateRequest and PatchedRiskUpdateRequest); tier, status and the audit
    fields change only through the workflow actions."""

    account_name = serializers.CharField(source="account.name", read_only=True)
    region = serializers.CharField(
        source="account.region.code", read_only=True, help_text="Code of the account's region."
    )
    primary_cause = serializers.SlugRelatedField(slug_field="code", read_only=True)
    secondary_cause = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )

    class Meta:
        model = RiskRecord
        fields = [
            "id",
            "account",
            "account_name",
            "region",
            "primary_cause",
            "secondary_cause",
            "tier",
            "max_tier",
            "status",
            "summary",
            "next_steps",
            "arr_at_risk",
            "arr_retained",
            "opened_by",
            "opened_at",
            "tier_changed_at",
            "closed_by",
            "closed_at",
            "outcome_note",
            "version",
        ]
        read_only_fields = fields


class RiskCreateSerializer(serializers.Serializer):
    """File a risk record at tier 1 on an account without an open one."""

    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(), help_text="Account id."
    )
    primary_cause = CauseCodeField()
    secondary_cause = CauseCodeField(required=False, allow_null=True)
    summary = serializers.CharField()
    next_steps = serializers.CharField()
    arr_at_risk = MoneyField(
        required=False,
        allow_null=True,
        help_text="Defaults to the account's ARR; at most the account's ARR unless "
        "confirmed (arr_above_account_reason).",
    )
    arr_above_account_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Needed when arr_at_risk is above the account's ARR: only the CSM's "
        "manager or an admin may confirm such a figure, with this reason.",
    )


class RiskUpdateSerializer(serializers.Serializer):
    """Change the description of an open record: only the fields sent change.
    `version` (the one you loaded) is always required."""

    primary_cause = CauseCodeField(required=False)
    secondary_cause = CauseCodeField(required=False, allow_null=True)
    summary = serializers.CharField(required=False)
    next_steps = serializers.CharField(required=False)
    arr_at_risk = MoneyField(required=False)
    arr_above_account_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Needed when arr_at_risk is above the account's ARR: only the CSM's "
        "manager or an admin may confirm such a figure, with this reason.",
    )
    version = serializers.IntegerField(
        min_value=1,
        help_text="Required: the version of the record you loaded. A stale one is refused (409).",
    )


# --- actions on a risk record ------------------------------------------------------------


class EscalateSerializer(serializers.Serializer):
    reason = serializers.CharField()


class DeescalateSerializer(serializers.Serializer):
    to_tier = serializers.ChoiceField(
        choices=Tier.choices, help_text="A tier below the current one."
    )
    note = serializers.CharField()
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="If sent, a stale version is refused (409)."
    )


class CloseSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[(status.value, status.label) for status in CLOSED_STATUSES]
    )
    note = serializers.CharField()
    arr_retained = MoneyField(
        required=False,
        allow_null=True,
        help_text="Only for saved: defaults to the ARR at risk (less is a downsell).",
    )
    version = serializers.IntegerField(
        required=False, min_value=1, help_text="If sent, a stale version is refused (409)."
    )


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField()


class TimelineEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEvent
        fields = ["id", "kind", "actor", "at", "text", "data"]
        read_only_fields = fields


# --- escalations -----------------------------------------------------------------------


class EscalationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Escalation
        fields = [
            "id",
            "risk",
            "from_tier",
            "to_tier",
            "status",
            "reason",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields


class DecisionSerializer(serializers.Serializer):
    """Approve: the note is optional."""

    note = serializers.CharField(required=False, allow_blank=True)


class RejectionSerializer(serializers.Serializer):
    """Reject: a rejection says why."""

    note = serializers.CharField()
