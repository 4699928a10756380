"""Viewsets of the weekly review: agendas (list, detail, generate, calendar
invite) and the notes and action items of agenda items (docs/api.md). Action
items are tasks of the risk records: ``tasks/`` marks them done.

The views parse the request, call ``reviews.services`` and render the result;
refusals are the services' exceptions, which ``core.api.exception_handler``
turns into 400 / 403 / 409.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.schema import FIELD_ERRORS_SCHEMA, ConflictSerializer, ErrorDetailSerializer
from notifications import ics as ics_writer
from risks.api.tasks import TaskSerializer

from .. import ics, notifications, scheduling, selectors, services
from ..models import Agenda, AgendaItem
from .filters import AgendaFilter
from .serializers import (
    ActionInputSerializer,
    AgendaSerializer,
    GenerateSerializer,
    NoteInputSerializer,
    ReviewNoteSerializer,
)

BAD_REQUEST = OpenApiResponse(
    FIELD_ERRORS_SCHEMA, description="Field errors: `{field: [messages]}`."
)
BAD_FILTER = OpenApiResponse(
    FIELD_ERRORS_SCHEMA, description="Invalid filter values: `{parameter: [messages]}`."
)
UNAUTHENTICATED = OpenApiResponse(ErrorDetailSerializer, description="Not signed in.")
NOT_FOUND = OpenApiResponse(ErrorDetailSerializer, description="No such object.")
REVIEWERS_ONLY = OpenApiResponse(
    ErrorDetailSerializer,
    description="Only reviewers and managers of the agenda's region, and admins, write here.",
)
ITEM_GONE = OpenApiResponse(
    ConflictSerializer,
    description="The item left the agenda when it was refreshed; reload the agenda.",
)


# --- agendas -----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List agendas, newest week first, with their items",
        responses={
            200: AgendaSerializer(many=True),
            400: BAD_FILTER,
            401: UNAUTHENTICATED,
            404: OpenApiResponse(ErrorDetailSerializer, description="No such page."),
        },
    ),
    retrieve=extend_schema(
        summary="Get an agenda with its items, notes and action items",
        responses={200: AgendaSerializer, 401: UNAUTHENTICATED, 404: NOT_FOUND},
    ),
)
class AgendaViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AgendaSerializer
    filterset_class = AgendaFilter

    def get_queryset(self) -> QuerySet[Agenda]:
        return selectors.agenda_api_queryset()

    def filter_queryset(self, queryset: QuerySet[Agenda]) -> QuerySet[Agenda]:
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def perform_content_negotiation(self, request: Request, force: bool = False):
        # The invite is text/calendar whatever the client accepts, and its
        # errors are JSON like every other error: no 406 for
        # ``Accept: text/calendar``.
        if self.action == "calendar":
            renderer = JSONRenderer()
            return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(
        summary="Generate or refresh a region's agenda (managers and admins)",
        description=(
            "Idempotent: the first call for a (region, week) creates the agenda (201) "
            "and notifies the participants; later calls before the meeting refresh "
            "its items, keeping notes and action items (200); from the meeting's "
            "start the agenda is frozen and returned unchanged (200). An agenda "
            "whose meeting has already started cannot be created (409)."
        ),
        request=GenerateSerializer,
        responses={
            200: AgendaSerializer,
            201: AgendaSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: OpenApiResponse(
                ErrorDetailSerializer, description="Only managers and admins generate agendas."
            ),
            409: OpenApiResponse(
                ConflictSerializer, description="The meeting has started; too late to create."
            ),
        },
    )
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    def generate(self, request: Request) -> Response:
        body = GenerateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        region = body.validated_data["region"]
        week_start = body.validated_data["week_start"]
        target_week = (
            scheduling.week_start_of(week_start)
            if week_start is not None
            else scheduling.next_meeting(region, timezone.now())[0]
        )
        existed = Agenda.objects.filter(region=region, week_start=target_week).exists()
        agenda = services.agenda_generate(region=region, week_start=week_start, user=request.user)
        fresh = self.get_queryset().get(pk=agenda.pk)
        return Response(
            AgendaSerializer(fresh).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="The agenda's meeting as an iCalendar invite",
        operation_id="agendas_calendar_retrieve",
        request=None,
        responses={
            (200, "text/calendar"): OpenApiResponse(
                OpenApiTypes.STR, description="A VCALENDAR with the meeting's VEVENT."
            ),
            401: UNAUTHENTICATED,
            404: NOT_FOUND,
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="calendar.ics",
        url_name="calendar",
        filter_backends=[],
    )
    def calendar(self, request: Request, pk: str | None = None) -> HttpResponse:
        agenda = self.get_object()
        response = HttpResponse(
            ics.agenda_invite(
                agenda, url=notifications.agenda_url(agenda), method=ics_writer.PUBLISH
            ),
            content_type="text/calendar; charset=utf-8",
        )
        filename = f"review-{agenda.region.code}-{agenda.week_start.isoformat()}.ics"
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response


# --- notes and action items of an agenda item ----------------------------------------------


class AgendaItemViewSet(viewsets.GenericViewSet):
    """Only the two write actions: items are read through their agenda."""

    serializer_class = ReviewNoteSerializer

    def get_queryset(self) -> QuerySet[AgendaItem]:
        return selectors.agenda_item_with_work()

    @extend_schema(
        summary="Add a review note to an agenda item",
        description="Also written on the risk's timeline. Allowed after the meeting too.",
        request=NoteInputSerializer,
        responses={
            201: ReviewNoteSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: REVIEWERS_ONLY,
            404: NOT_FOUND,
            409: ITEM_GONE,
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def notes(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        body = NoteInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        note = services.review_note_add(user=request.user, item=item, **body.validated_data)
        return Response(ReviewNoteSerializer(note).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Add an action item to an agenda item",
        description=(
            "The action becomes a task on the item's risk record (source `review`); its "
            "first line is the task's title. Also written on the risk's timeline. Allowed "
            "after the meeting too. Mark it done with `PATCH /tasks/{id}/`."
        ),
        request=ActionInputSerializer,
        responses={
            201: TaskSerializer,
            400: BAD_REQUEST,
            401: UNAUTHENTICATED,
            403: REVIEWERS_ONLY,
            404: NOT_FOUND,
            409: ITEM_GONE,
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def actions(self, request: Request, pk: str | None = None) -> Response:
        item = self.get_object()
        body = ActionInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        action_item = services.action_item_add(user=request.user, item=item, **body.validated_data)
        return Response(TaskSerializer(action_item).data, status=status.HTTP_201_CREATED)
