"""The customer accounts resource of the API. It lives with the risk records
because each account shows its open record; people, regions and segments are
in ``accounts.api``.

Everyone signed in reads. Admins write any account; a manager creates, changes
and deletes only the accounts of their own team and may only make themselves
or a team member the CSM (``accounts.rules``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from accounts import rules as account_rules
from accounts import services as account_services
from accounts.models import ACCOUNT_OWNER_ROLES, Account, Region, Segment, User
from core.api import CodeRelatedField, MoneyField
from core.schema import crud_schema, error, errors

from ..filters import AccountFilter
from ..selectors import account_api_queryset


class AccountPermission(permissions.BasePermission):
    """``accounts.rules`` decides; this only asks it at the right moments."""

    message = "Only CS operations admins and managers may change customer accounts."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in permissions.SAFE_METHODS or account_rules.may_write_accounts(user)

    def has_object_permission(self, request: Request, view: Any, obj: Account) -> bool:
        if request.method in permissions.SAFE_METHODS or account_rules.may_change_account(
            request.user, obj
        ):
            return True
        self.message = "Managers may only change the accounts of their own team."
        return False


class AccountSerializer(serializers.ModelSerializer):
    region = CodeRelatedField(
        slug_field="code", queryset=Region.objects.all(), help_text="Region code, e.g. EMEA."
    )
    segment = CodeRelatedField(
        slug_field="code",
        queryset=Segment.objects.all(),
        help_text="Segment code, e.g. enterprise.",
    )
    arr = MoneyField(help_text="Annual recurring revenue, a decimal string with two places.")
    csm = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), help_text="Id of the owner: a user with role csm or manager."
    )
    open_risk = serializers.IntegerField(
        source="open_risk_id",
        read_only=True,
        allow_null=True,
        help_text="Id of the account's open risk record, or null.",
    )

    class Meta:
        model = Account
        fields = [
            "id",
            "external_id",
            "name",
            "region",
            "segment",
            "arr",
            "renewal_date",
            "csm",
            "status",
            "churned_on",
            "open_risk",
            "health_score",
            "health_band",
            "health_as_of",
        ]
        # The health fields copy the newest health score (health.scoring).
        read_only_fields = ["status", "churned_on", "health_score", "health_band", "health_as_of"]
        extra_kwargs = {
            "external_id": {"help_text": "CRM id, unique when present."},
            "status": {
                "help_text": "churned once a risk record closes as churned; an admin "
                "reactivates it (POST reactivate/)."
            },
            "churned_on": {"help_text": "The day the account churned, or null."},
        }

    def validate_external_id(self, value: str | None) -> str | None:
        # Blank means "no CRM id": stored as NULL so that uniqueness holds
        # only among accounts that have one.
        value = (value or "").strip()
        return value or None

    def validate_csm(self, csm: User) -> User:
        if csm.role not in ACCOUNT_OWNER_ROLES:
            raise serializers.ValidationError("The account owner must be a CSM or a manager.")
        return csm


@crud_schema("account", AccountSerializer, filtered=True)
class AccountViewSet(viewsets.ModelViewSet):
    """Customer accounts: everyone signed in reads; admins write any account.

    A manager may create, change and delete only the accounts owned by
    themselves or by their team (people whose manager they are), and may only
    make themselves or a team member the CSM; anything else is 403. CSMs and
    reviewers only read.
    """

    # The rule itself is accounts/rules.py; AccountPermission and _check_csm ask it.

    serializer_class = AccountSerializer
    permission_classes = [AccountPermission]
    filterset_class = AccountFilter

    def get_queryset(self) -> QuerySet[Account]:
        return account_api_queryset()

    def _check_csm(self, serializer: BaseSerializer) -> None:
        csm = serializer.validated_data.get("csm")
        if csm is not None and not account_rules.may_assign_csm(self.request.user, csm):
            raise PermissionDenied("Managers may only give accounts to themselves or their team.")

    def perform_create(self, serializer: BaseSerializer) -> None:
        self._check_csm(serializer)
        serializer.save()

    def perform_update(self, serializer: BaseSerializer) -> None:
        self._check_csm(serializer)
        serializer.save()

    @extend_schema(
        summary="Reactivate a churned account (admins)",
        description="Risk records can be filed on it again.",
        request=None,
        responses={
            200: AccountSerializer,
            **errors(401, 403, 404),
            409: error(409, "Not churned."),
        },
    )
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str | None = None) -> Response:
        account = self.get_object()
        account_services.account_reactivate(user=request.user, account=account)
        fresh = self.get_queryset().get(pk=account.pk)
        return Response(AccountSerializer(fresh).data)
