"""Viewsets of root causes, risk records (with their workflow actions) and
escalations (docs/api.md).

The views parse the request, call ``risks.services`` and render the result.
Refusals are the services' exceptions, which ``core.api.exception_handler``
turns into 400 / 403 / 409; nothing here re-decides who may do what.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import SignedInReadsAdminWrites
from core.schema import FIELD_ERRORS_SCHEMA, ConflictSerializer, ErrorDetailSerializer

from .. import selectors, services
from ..models import Escalation, RiskRecord, RootCause
from .filters import ApiRiskFilter, EscalationFilter, RootCauseFilter
from .serializers import (
    CloseSerializer,
    DecisionSerializer,
    DeescalateSerializer,
    EscalateSerializer,
    EscalationSerializer,
    NoteSerializer,
    RejectionSerializer,
    RiskCreateSerializer,
    RiskSerializer,
    RiskUpdateSerializer,
    RootCauseSerializer,
    TimelineEventSerializer,
)
from .tasks import TaskAddSerializer, TaskSerializer

# --- error responses of the schema ---------------------------------------------------

BAD_REQUEST = OpenApiResponse(
    FIELD_ERRORS_SCHEMA, description="Field errors: `{field: [messages]}`."
)
BAD_FILTER = OpenApiResponse(
    FIELD_ERRORS_SCHEMA, description="Invalid filter values: `{parameter: [messages]}`."
)
UNAUTHENTICATED = OpenApiResponse(ErrorDetailSerializer, description="Not signed in.")
FORBIDDEN = OpenApiResponse(
    ErrorDetailSerializer, description="Your role or relation to the account does not allow it."
)
ADMIN_ONLY = OpenApiResponse(ErrorDetailSerializer, description="Only CS operations admins write.")
NOT_FOUND = OpenApiResponse(ErrorDetailSerializer, description="No such object.")
PAGE_NOT_FOUND = OpenApiResponse(ErrorDetailSerializer, description="No such page.")
RISK_CONFLICT = OpenApiResponse(
    ConflictSerializer,
    description=(
        "The record's state forbids it: closed (read-only), stale `version`, "
        "a pending escalation already exists, or already at tier 3."
    ),
)
DECISION_CONFLICT = OpenApiResponse(
    ConflictSerializer,
    description="Already decided, or the record was closed or changed tier since.",
)


CAUSE_WRITE_RULES = (
    "A cause's `code` cannot change once a risk record uses it (409); change its "
    "`name` instead. `active: false` retires a cause: new records cannot choose it, "
    "old ones keep it."
)
CODE_IN_USE = OpenApiResponse(
    ConflictSerializer, description="Risk records use this cause; its code cannot change."
)


def _list_responses(serializer: type) -> dict[int, Any]:
    return {200: serializer(many=True), 400: BAD_FILTER, 401: UNAUTHENTICATED, 404: PAGE_NOT_FOUND}


def _detail_responses(serializer: type) -> dict[int, Any]:
    return {200: serializer, 401: UNAUTHENTICATED, 404: NOT_FOUND}


def _admin_write_responses(serializer: type, status: int) -> dict[int, Any]:
    responses = {status: serializer, 400: BAD_REQUEST, 401: UNAUTHENTICATED, 403: ADMIN_ONLY}
    if status == 200:  # writes to an existing object may not find it
        responses[404] = NOT_FOUND
    return responses


# --- root causes -------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List root causes", responses=_list_responses(RootCauseSerializer)),
    retrieve=extend_schema(
        summary="Get a root cause", responses=_detail_responses(RootCauseSerializer)
    ),
    create=extend_schema(
        summary="Add a root cause (admins)",
        request=RootCauseSerializer,
        responses=_admin_write_responses(RootCauseSerializer, 201),
    ),
    update=extend_schema(
        summary="Replace a root cause (admins)",
        description=CAUSE_WRITE_RULES,
        request=RootCauseSerializer,
        responses={**_admin_write_responses(RootCauseSerializer, 200), 409: CODE_IN_USE},
    ),
    partial_update=extend_schema(
        summary="Change a root cause (admins); `active: false` retires it",
        description=CAUSE_WRITE_RULES,
        request=RootCauseSerializer,
        responses={**_admin_write_responses(RootCauseSerializer, 200), 409: CODE_IN_USE},
    ),
    destroy=extend_schema(
        summary="Root causes are never deleted (admins get 409)",
        description=(
            "Old records and reports keep their causes, so a cause is never deleted: "
            'retire it with `PATCH {"active": false}` instead.'
        ),
        responses={
            401: UNAUTHENTICATED,
            403: ADMIN_ONLY,
            404: NOT_FOUND,
            409: OpenApiResponse(
                ConflictSerializer, description="Always: deactivate the cause instead."
            ),
        },
    ),
)
class RootCauseViewSet(viewsets.ModelViewSet):
    """Root causes: everyone signed in reads; CS operations admins write."""

    # Every write goes through services.root_cause_*, like the admin's.

    queryset = RootCause.objects.all()
    serializer_class = RootCauseSerializer
    filterset_class = RootCauseFilter
    permission_classes = [SignedInReadsAdminWrites]

    def perform_create(self, serializer: RootCauseSerializer) -> None:
        serializer.instance = services.root_cause_create(
            user=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: RootCauseSerializer) -> None:
        serializer.instance = services.root_cause_update(
            user=self.request.user, cause=serializer.instance, **serializer.validated_data
        )

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.root_cause_delete(user=request.user, cause=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)  # never reached: always refused


# --- risk records ---------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List risk records",
        description="Every status unless `status` is given (`closed` means any outcome).",
        responses=_list_responses(RiskSerializer),
    ),
    retrieve=extend_schema(
        summary="Get a risk record", responses=_detail_responses(RiskSerializer)
    ),
)
class RiskViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    # No PUT (a record changes field by field, PATCH) and no DELETE (a record
    # ends with an outcome, never by deletion): both answer 405.

    serializer_class = RiskSerializer
    filterset_class = ApiRiskFilter

    def get_queryset(self) -> QuerySet[RiskRecord]:
        return selectors.risk_api_queryset()

    def filter_queryset(self, queryset: QuerySet[RiskRecord]) -> QuerySet[RiskRecord]:
        # The filters narrow the list; a record's own URL finds it whatever
        # the query string says.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _represent(self, risk: RiskRecord, status_code: int = status.HTTP_200_OK) -> Response:
        # Reloaded through the API queryset: the services return a record
        # without the account's region, which the representation shows.
        fresh = self.get_queryset().get(pk=risk.pk)
        return Response(RiskSerializer(fresh).data, status=status_code)

    @extend_schema(
        summary="File a risk record",
        description=(
            "Opens the record at tier 1. The account's CSM, their manager or an admin "
            "may file; a second open record on the account is refused (409, with the "
            "`existing` record's id)."
        ),
        request=RiskCreateSerializer,
        responses={
            201: RiskSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            409: OpenApiResponse(
                ConflictSerializer,
                description="The account already has an open record (`existing`).",
            ),
        },
    )
    def create(self, request: Request) -> Response:
        body = RiskCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        risk = services.risk_open(user=request.user, **body.validated_data)
        return self._represent(risk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit an open risk record",
        description=(
            "Changes only the fields sent among primary_cause, secondary_cause, summary, "
            "next_steps and arr_at_risk; other fields are read-only and ignored. "
            "`version` is required: a stale one is refused (409, `existing` is the record)."
        ),
        request=RiskUpdateSerializer,
        responses={
            200: RiskSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: RISK_CONFLICT,
        },
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        risk = self.get_object()
        # Not partial: `version` must be present; the other fields are optional.
        body = RiskUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        risk = services.risk_edit(user=request.user, risk=risk, **body.validated_data)
        return self._represent(risk)

    @extend_schema(
        summary="Request an escalation one tier up",
        description=(
            "The owning CSM's request waits for their manager (status `pending`); "
            "a manager's or an admin's is approved at once."
        ),
        request=EscalateSerializer,
        responses={
            201: EscalationSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: RISK_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str | None = None) -> Response:
        risk = self.get_object()
        body = EscalateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        escalation = services.escalation_request(
            user=request.user, risk=risk, **body.validated_data
        )
        return Response(EscalationSerializer(escalation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="De-escalate to a lower tier (manager or admin)",
        description="Cancels a pending escalation. `version`, if sent, must be current.",
        request=DeescalateSerializer,
        responses={
            200: RiskSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: RISK_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def deescalate(self, request: Request, pk: str | None = None) -> Response:
        risk = self.get_object()
        body = DeescalateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        risk = services.risk_deescalate(user=request.user, risk=risk, **body.validated_data)
        return self._represent(risk)

    @extend_schema(
        summary="Close with an outcome",
        description=(
            "saved, churned or withdrawn, with a note. Cancels a pending escalation; "
            "the record is read-only afterwards. `version`, if sent, must be current."
        ),
        request=CloseSerializer,
        responses={
            200: RiskSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: RISK_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        risk = self.get_object()
        body = CloseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        risk = services.risk_close(user=request.user, risk=risk, **body.validated_data)
        return self._represent(risk)

    @extend_schema(
        summary="Add a note to the timeline",
        request=NoteSerializer,
        responses={
            201: TimelineEventSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: RISK_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, pk: str | None = None) -> Response:
        risk = self.get_object()
        body = NoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        event = services.risk_add_note(user=request.user, risk=risk, **body.validated_data)
        return Response(TimelineEventSerializer(event).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The record's timeline, oldest first",
        request=None,
        responses={
            200: TimelineEventSerializer(many=True),
            401: UNAUTHENTICATED,
            404: OpenApiResponse(ErrorDetailSerializer, description="No such record or page."),
        },
    )
    # No filter backends: the risk filters are not the timeline's (this also
    # keeps them out of the schema of this operation).
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        risk = self.get_object()
        page = self.paginate_queryset(selectors.risk_timeline_oldest_first(risk))
        return self.get_paginated_response(TimelineEventSerializer(page, many=True).data)

    @extend_schema(
        methods=["GET"],
        summary="The record's tasks, overdue first",
        description=(
            "Every task of the record, whatever its state or the record's: overdue first, "
            "then the other open ones, then the done ones; each by due date."
        ),
        request=None,
        responses={
            200: TaskSerializer(many=True),
            401: UNAUTHENTICATED,
            404: OpenApiResponse(ErrorDetailSerializer, description="No such record or page."),
        },
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a task to an open record",
        description=(
            "The account's CSM, their manager or an admin. A task needs a `title`, a "
            "`due_date`, and an `owner` (an active user's id) or a `department`, or both."
        ),
        request=TaskAddSerializer,
        responses={
            201: TaskSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: OpenApiResponse(
                ErrorDetailSerializer,
                description="Only the account's CSM, their manager or an admin add tasks.",
            ),
            404: NOT_FOUND,
            409: OpenApiResponse(
                ConflictSerializer, description="The record is closed; it takes no new tasks."
            ),
        },
    )
    # No filter backends: the risk filters are not the tasks' (as for the timeline).
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def tasks(self, request: Request, pk: str | None = None) -> Response:
        risk = self.get_object()
        if request.method == "GET":
            tasks = selectors.ordered_tasks(
                selectors.task_queryset().filter(risk=risk), timezone.localdate()
            )
            page = self.paginate_queryset(tasks)
            return self.get_paginated_response(TaskSerializer(page, many=True).data)
        body = TaskAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.task_add(user=request.user, risk=risk, **body.validated_data)
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


# --- escalations ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List escalations", responses=_list_responses(EscalationSerializer)),
    retrieve=extend_schema(
        summary="Get an escalation", responses=_detail_responses(EscalationSerializer)
    ),
)
class EscalationViewSet(viewsets.ReadOnlyModelViewSet):
    # Read-only as a resource: escalations are requested with
    # POST /risks/{id}/escalate/ and decided with the actions below.

    serializer_class = EscalationSerializer
    filterset_class = EscalationFilter

    def get_queryset(self) -> QuerySet[Escalation]:
        return selectors.escalation_api_queryset()

    def filter_queryset(self, queryset: QuerySet[Escalation]) -> QuerySet[Escalation]:
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(
        summary="Approve a pending escalation (the CSM's manager or an admin)",
        request=DecisionSerializer,
        responses={
            200: EscalationSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: DECISION_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        escalation = self.get_object()
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        escalation = services.escalation_approve(
            user=request.user, escalation=escalation, **body.validated_data
        )
        return Response(EscalationSerializer(escalation).data)

    @extend_schema(
        summary="Reject a pending escalation, saying why (the CSM's manager or an admin)",
        request=RejectionSerializer,
        responses={
            200: EscalationSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: DECISION_CONFLICT,
        },
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        escalation = self.get_object()
        body = RejectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        escalation = services.escalation_reject(
            user=request.user, escalation=escalation, **body.validated_data
        )
        return Response(EscalationSerializer(escalation).data)
