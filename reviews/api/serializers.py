"""Representations of the weekly review in the API (docs/api.md) and the
request bodies of its actions. Input serializers only parse:
who may write and what is valid is decided by ``reviews.services``."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Region
from core import dates
from core.api import CodeRelatedField, optional_user_id_field
from risks.api.tasks import TaskSerializer
from risks.models import MONEY

from .. import selectors
from ..models import Agenda, AgendaItem, ReviewNote


class ReviewNoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewNote
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = fields


class AgendaItemSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="risk.account.name", read_only=True)
    arr_at_risk = serializers.DecimalField(source="risk.arr_at_risk", read_only=True, **MONEY)
    renewal_date = serializers.DateField(source="risk.account.renewal_date", read_only=True)
    primary_cause = serializers.CharField(
        source="risk.primary_cause.code", read_only=True, help_text="Root cause code."
    )
    secondary_cause = serializers.CharField(
        source="risk.secondary_cause.code",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="Root cause code, or null.",
    )
    csm = serializers.IntegerField(
        source="risk.account.csm_id", read_only=True, help_text="User id of the account's CSM."
    )
    notes = ReviewNoteSerializer(many=True, read_only=True)
    actions = serializers.SerializerMethodField(
        help_text=(
            "The item's tasks: those agreed on this item (done or not) and every other "
            "open task of its risk record (playbook, added by hand, earlier reviews)."
        )
    )

    class Meta:
        model = AgendaItem
        fields = [
            "id",
            "section",
            "position",
            "risk",
            "account_name",
            "arr_at_risk",
            "renewal_date",
            "primary_cause",
            "secondary_cause",
            "csm",
            "notes",
            "actions",
        ]
        read_only_fields = fields

    @extend_schema_field(TaskSerializer(many=True))
    def get_actions(self, item: AgendaItem) -> list[dict]:
        return TaskSerializer(selectors.item_tasks(item), many=True).data


class AgendaSerializer(serializers.ModelSerializer):
    region = serializers.SlugRelatedField(slug_field="code", read_only=True)
    items = AgendaItemSerializer(many=True, read_only=True)

    class Meta:
        model = Agenda
        fields = ["id", "region", "week_start", "meeting_at", "status", "generated_at", "items"]
        read_only_fields = fields


def _sensible_week(value: dt.date) -> dt.date:
    # Weeks at the ends of the calendar would overflow the scheduling arithmetic.
    if not dates.in_range(value):
        raise serializers.ValidationError(dates.OUT_OF_RANGE)
    return value


class GenerateSerializer(serializers.Serializer):
    region = CodeRelatedField(
        slug_field="code", queryset=Region.objects.all(), help_text="Region code, e.g. EMEA."
    )
    week_start = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        validators=[_sensible_week],
        help_text=(
            "Any day of the week (its Monday is used). Default: the week of the "
            "region's next meeting."
        ),
    )


class NoteInputSerializer(serializers.Serializer):
    # Blank text reaches the service, which owns the rule and its message.
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)


class ActionInputSerializer(serializers.Serializer):
    description = serializers.CharField(allow_blank=True)
    owner = optional_user_id_field("User id of the owner.")
    department = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="professional_services, product, support, sales or finance.",
    )
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
