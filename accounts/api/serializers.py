"""Serializers of people, regions, segments and customer accounts (docs/api.md):
regions and segments by code, people by id, money as a two-place decimal string."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import (
    ACCOUNT_OWNER_ROLES,
    Region,
    Renewal,
    RenewalOutcome,
    Role,
    Segment,
    User,
)
from core.api import CodeRelatedField
from core.money import MAX_MONEY, MONEY_DIGITS, MONEY_PLACES


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
        "example": "15:00",
        "description": "Local start time, HH:MM (HH:MM:SS is accepted; seconds are dropped).",
    }
)
class ReviewTimeField(serializers.TimeField):
    """HH:MM in and out. HH:MM:SS is accepted from clients that send full
    times, but a meeting starts on a minute, so the seconds are dropped."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)

    def to_internal_value(self, value: Any) -> dt.time:
        return super().to_internal_value(value).replace(second=0, microsecond=0)


class RegionSerializer(serializers.ModelSerializer):
    review_time = ReviewTimeField()

    class Meta:
        model = Region
        fields = ["id", "code", "name", "timezone", "review_weekday", "review_time"]


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "code", "name"]


class UserSerializer(serializers.ModelSerializer):
    region = CodeRelatedField(
        slug_field="code",
        queryset=Region.objects.all(),
        allow_null=True,
        required=False,
        help_text="Region code, e.g. EMEA.",
    )
    manager = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        allow_null=True,
        required=False,
        help_text="Id of the user (role manager) who approves this person's escalations.",
    )
    password = serializers.CharField(
        write_only=True,
        required=False,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text=(
            "Write-only. Checked against the password rules. Left out on creation, "
            "the person cannot sign in until a password is set; left out on an "
            "update, the password is unchanged."
        ),
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "first_name",
            "last_name",
            "role",
            "region",
            "manager",
            "department",
            "is_active",
            "password",
        ]
        extra_kwargs = {
            "is_active": {
                "help_text": "false deactivates the person: they can no longer sign in, "
                "and their history stays. People records refer to are never deleted."
            }
        }

    def validate_manager(self, manager: User | None) -> User | None:
        if manager is None:
            return None
        if manager.role != Role.MANAGER:
            raise serializers.ValidationError("The manager must have the manager role.")
        if self.instance is not None and manager.pk == self.instance.pk:
            raise serializers.ValidationError("A person cannot be their own manager.")
        return manager

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        user = self.instance
        role = attrs.get("role")
        if user is not None and role is not None and role != user.role:
            self._check_role_change(user, role)
        password = attrs.get("password")
        if password is not None:
            # The similarity rule compares the password with the person's
            # names and email as they will be after this request.
            candidate = User(
                **{
                    name: attrs.get(name, getattr(user, name, ""))
                    for name in ("username", "email", "first_name", "last_name")
                }
            )
            try:
                password_validation.validate_password(password, user=candidate)
            except DjangoValidationError as error:
                raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs

    @staticmethod
    def _check_role_change(user: User, role: str) -> None:
        # A role change must not leave data that breaks a rule of the data model:
        # managers of a team, and owners of accounts.
        if user.role == Role.MANAGER and user.team.exists():
            raise serializers.ValidationError(
                {"role": ["This person still manages a team; give the team another manager first."]}
            )
        if role not in ACCOUNT_OWNER_ROLES and user.accounts.exists():
            raise serializers.ValidationError(
                {
                    "role": [
                        "This person still owns customer accounts, which need a CSM "
                        "or a manager; hand them over first."
                    ]
                }
            )

    def create(self, validated_data: dict[str, Any]) -> User:
        password = validated_data.pop("password", None)
        user = User(**validated_data)
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save()
        return user

    def update(self, instance: User, validated_data: dict[str, Any]) -> User:
        password = validated_data.pop("password", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if password is not None:
            instance.set_password(password)
        instance.save()
        return instance


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send it as `Authorization: Token <token>`. Shown once: only a hash is kept."
    )
    expiry = serializers.DateTimeField(
        help_text="When the token stops working (API_TOKEN_TTL_DAYS after it was issued)."
    )


# --- renewals ---------------------------------------------------------------------------


class RenewalSerializer(serializers.ModelSerializer):
    """A renewal as stored, with the account's external id and name."""

    account_external_id = serializers.CharField(
        source="account.external_id",
        read_only=True,
        allow_null=True,
        help_text="The account's CRM id, or null.",
    )
    account_name = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = Renewal
        fields = [
            "id",
            "account",
            "account_external_id",
            "account_name",
            "renewal_date",
            "outcome",
            "arr_before",
            "arr_after",
            "source",
            "recorded_at",
        ]
        read_only_fields = fields


class RenewalRowSerializer(serializers.Serializer):
    """One row of a bulk upload (documentation of the request body: the rows
    are checked by the importer, which reports every bad row at once)."""

    account = serializers.IntegerField(
        required=False, help_text="Account id; or send account_external_id."
    )
    account_external_id = serializers.CharField(
        required=False, help_text="The account's CRM id; or send account."
    )
    renewal_date = serializers.DateField(
        help_text="The day the contract came up; not later than today."
    )
    outcome = serializers.ChoiceField(
        choices=RenewalOutcome.choices, help_text="renewed, downsell or churned (in any case)."
    )
    arr_before = serializers.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        min_value=Decimal("0"),
        max_value=MAX_MONEY,
        coerce_to_string=False,
        help_text="ARR of the contract ending: a number or a decimal string, 0 or more.",
    )
    arr_after = serializers.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        min_value=Decimal("0"),
        max_value=MAX_MONEY,
        coerce_to_string=False,
        required=False,
        allow_null=True,
        help_text="ARR of the contract that follows: at least arr_before when renewed, less "
        "for a downsell; 0, null or left out when churned.",
    )


class RenewalIngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="New renewals.")
    updated = serializers.IntegerField(
        help_text="Renewals of an (account, renewal_date) already known, now replaced by the "
        "row sent."
    )
