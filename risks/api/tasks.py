"""Playbooks and tasks on risk records (docs/api.md): their representations,
the request bodies, and the viewsets of ``playbooks/`` and ``tasks/``. The
weekly review's agenda items show their tasks with ``TaskSerializer``, and
``POST /risks/{id}/tasks/`` (``RiskViewSet``) adds one with
``TaskAddSerializer``.

As elsewhere in the API the serializers parse types only: who may do what and
every rule of the input are ``risks.services``' (``playbook_save``,
``task_add``, ``task_set_done``), and their refusals reach the client through
``core.api.exception_handler`` as 400 / 403 / 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import F, Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Account, Department, Segment
from core.api import CodeRelatedField, SignedInReadsAdminWrites, optional_user_id_field
from core.schema import error, errors

from .. import selectors, services
from ..models import MAX_DUE_DAYS, Playbook, PlaybookStep, RiskStatus, StepOwner, Task
from ..services.tasks import MAX_STEPS, TITLE_LIMIT
from .serializers import CauseCodeField
from .task_filters import PlaybookFilter, TaskFilter


class TaskSerializer(serializers.ModelSerializer):
    # Declared so the schema lists the blank value ("no department") too.
    department = serializers.ChoiceField(
        choices=Department.choices,
        allow_blank=True,
        read_only=True,
        help_text="The department that owns the task, or blank when a person does.",
    )
    done = serializers.SerializerMethodField(help_text="Whether the task is done.")
    overdue = serializers.SerializerMethodField(help_text="Open, and its due date is before today.")
    record_closed = serializers.SerializerMethodField(
        help_text="The task's risk record is closed (the task stays as it was)."
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "risk",
            "title",
            "description",
            "owner",
            "department",
            "due_date",
            "done",
            "done_at",
            "done_by",
            "overdue",
            "record_closed",
            "source",
            "step",
            "agenda_item",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_done(self, task: Task) -> bool:
        return task.done_at is not None

    def get_overdue(self, task: Task) -> bool:
        return task.is_overdue

    @extend_schema_field(serializers.BooleanField())
    def get_record_closed(self, task: Task) -> bool:
        return task.risk.status != RiskStatus.OPEN


class TaskAddSerializer(serializers.Serializer):
    """A task added by hand to an open record: what, by when, and who keeps it
    (a person, a department, or both)."""

    title = serializers.CharField(
        allow_blank=True, help_text=f"Required; at most {TITLE_LIMIT} characters."
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    owner = optional_user_id_field(
        "User id of an active person. An owner or a department is required."
    )
    department = serializers.ChoiceField(
        choices=Department.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="The department that owns the task. An owner or a department is required.",
    )
    due_date = serializers.DateField(help_text="YYYY-MM-DD.")


class TaskDoneSerializer(serializers.Serializer):
    """Mark a task done, or open again. Nothing else of a task changes here."""

    done = serializers.BooleanField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.initial_data, Mapping):
            others = sorted(str(name) for name in self.initial_data if name != "done")
            if others:
                raise ValidationError(
                    {
                        name: ["Only `done` can change; a task is otherwise kept as agreed."]
                        for name in others
                    }
                )
        return attrs


# --- playbooks ---------------------------------------------------------------------------


class PlaybookStepSerializer(serializers.ModelSerializer):
    """One step of a playbook: the task it gives a new record."""

    position = serializers.IntegerField(
        read_only=True, help_text="1, 2, ...: the step's place in `steps`."
    )
    title = serializers.CharField(
        allow_blank=True, help_text=f"Required; at most {TITLE_LIMIT} characters."
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    owner = serializers.ChoiceField(
        choices=StepOwner.choices,
        default=StepOwner.CSM,
        help_text=(
            "Who gets the task: `csm` (the account's CSM), `manager` (the CSM's manager; "
            "the CSM when there is none), or a department."
        ),
    )
    due_days = serializers.IntegerField(
        help_text=f"Due this many business days (Monday to Friday) after the record "
        f"opens, 0 to {MAX_DUE_DAYS}."
    )

    class Meta:
        model = PlaybookStep
        fields = ["id", "position", "title", "description", "owner", "due_days"]
        read_only_fields = ["id", "position"]


class PlaybookSerializer(serializers.ModelSerializer):
    """A playbook: the tasks a new record with this primary cause gets, on
    accounts of one segment or (segment null) of every segment without its own."""

    name = serializers.CharField(allow_blank=True, help_text="Required; at most 120 characters.")
    root_cause = CauseCodeField()
    segment = CodeRelatedField(
        slug_field="code",
        queryset=Segment.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="Segment code, or null for every segment without a playbook of its own "
        "for this cause.",
    )
    description = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="When and why the team runs it."
    )
    active = serializers.BooleanField(
        default=True,
        help_text="Only active playbooks give new records their tasks; one active playbook "
        "per cause and segment, and one for every segment.",
    )
    steps = PlaybookStepSerializer(
        many=True,
        help_text=f"1 to {MAX_STEPS} steps, in order. A write replaces every step; the "
        "tasks records already got keep their text.",
    )

    class Meta:
        model = Playbook
        fields = ["id", "name", "root_cause", "segment", "description", "active", "steps"]
        validators: list = []  # one active playbook per cause and segment: the service's 409


class PlaybookPreviewQuerySerializer(serializers.Serializer):
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.select_related("csm__manager", "region"),
        help_text="Account id.",
    )


class PlannedTaskSerializer(serializers.Serializer):
    """A task a playbook step would give the record."""

    step = serializers.IntegerField(source="step.pk", help_text="The playbook step's id.")
    position = serializers.IntegerField(source="step.position")
    title = serializers.CharField()
    description = serializers.CharField()
    owner = serializers.IntegerField(
        source="owner.pk",
        allow_null=True,
        help_text="User id of the owner, or null for a department's task.",
    )
    owner_label = serializers.CharField(
        help_text="The owner's name, or the department's, as the pages show it."
    )
    department = serializers.ChoiceField(
        choices=Department.choices,
        allow_blank=True,
        help_text="The department that owns the task, or blank when a person does.",
    )
    due_date = serializers.DateField()


class PlaybookPreviewSerializer(serializers.Serializer):
    playbook = serializers.IntegerField()
    account = serializers.IntegerField()
    opened_on = serializers.DateField(
        help_text="Today in the account's region: the day the due dates count from."
    )
    applies = serializers.BooleanField(
        help_text=(
            "This is the playbook a record filed today on the account with the playbook's "
            "root cause as its primary cause would get: it is active, for the account's "
            "segment or for every segment, and no playbook of the account's own segment "
            "comes first. The tasks are shown either way."
        )
    )
    tasks = PlannedTaskSerializer(many=True)


def flat_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as the services name them: ``{"steps[2].due_days":
    [...]}`` rather than ``{"steps": {1: {"due_days": [...]}}}`` (positions in
    a list count from 1, as in the service's messages). The body stays
    ``{field: [messages]}``, the shape every 400 of the API has."""
    flat: dict[str, list[str]] = {}

    def add(key: str, value: Any) -> None:
        for field, messages in flat_errors(value, key).items():
            flat.setdefault(field, []).extend(messages)

    if isinstance(detail, Mapping):
        for name, value in detail.items():
            if isinstance(name, int):  # a list's item: DRF keys them by index
                add(f"{prefix}[{name + 1}]", value)
            elif prefix and name == "non_field_errors":
                add(prefix, value)
            else:
                add(f"{prefix}.{name}" if prefix else str(name), value)
    elif isinstance(detail, list) and all(isinstance(item, str) for item in detail):
        flat[prefix] = [str(item) for item in detail]
    elif isinstance(detail, list):  # the list-shaped errors of older DRF settings
        for index, item in enumerate(detail, start=1):
            if item:
                add(f"{prefix}[{index}]", item)
    elif detail:
        flat[prefix] = [str(detail)]
    return flat


def _steps_of(playbook: Playbook) -> list[dict[str, Any]]:
    return [
        {
            "title": step.title,
            "description": step.description,
            "owner": step.owner,
            "due_days": step.due_days,
        }
        for step in playbook.steps.all()
    ]


ADMINS_ONLY = error(403, "Only CS operations admins change playbooks.")
PLAYBOOK_TAKEN = error(
    409,
    "The cause already has an active playbook for this segment (or for every segment): "
    "deactivate that one first, or save this one with `active: false`.",
)
PLAYBOOK_RULES = (
    "Every signed-in person reads playbooks; only admins write them. `steps` are "
    f"1 to {MAX_STEPS} steps, each `{{title, description?, owner?, due_days}}`; "
    "`owner` is `csm` (default), `manager` or a department, and `due_days` counts "
    f"business days after the record opens (0 to {MAX_DUE_DAYS}). A write replaces "
    "every step; tasks that records already got keep their text. A step's errors are "
    "named `steps[N].field`, N counting from 1."
)


@extend_schema_view(
    list=extend_schema(
        summary="List playbooks",
        description="By root cause, then segment (every-segment playbooks first), then name.",
        responses={200: PlaybookSerializer(many=True), **errors(400, 401, 404)},
    ),
    retrieve=extend_schema(
        summary="Get a playbook with its steps",
        responses={200: PlaybookSerializer, **errors(401, 404)},
    ),
    create=extend_schema(
        summary="Add a playbook (admins)",
        description=PLAYBOOK_RULES,
        request=PlaybookSerializer,
        responses={
            201: PlaybookSerializer,
            **errors(400, 401),
            403: ADMINS_ONLY,
            409: PLAYBOOK_TAKEN,
        },
    ),
    update=extend_schema(
        summary="Replace a playbook and its steps (admins)",
        description=PLAYBOOK_RULES,
        request=PlaybookSerializer,
        responses={
            200: PlaybookSerializer,
            **errors(400, 401),
            403: ADMINS_ONLY,
            404: error(404),
            409: PLAYBOOK_TAKEN,
        },
    ),
    partial_update=extend_schema(
        summary="Change some fields of a playbook (admins)",
        description=PLAYBOOK_RULES
        + " Fields left out keep their values; `steps`, when sent, replaces every step.",
        request=PlaybookSerializer,
        responses={
            200: PlaybookSerializer,
            **errors(400, 401),
            403: ADMINS_ONLY,
            404: error(404),
            409: PLAYBOOK_TAKEN,
        },
    ),
    destroy=extend_schema(
        summary="Delete a playbook (admins)",
        description="Its steps go with it; tasks it gave records keep their text.",
        responses={
            204: OpenApiResponse(description="Deleted."),
            **errors(401),
            403: ADMINS_ONLY,
            404: error(404),
        },
    ),
)
class PlaybookViewSet(viewsets.ModelViewSet):
    """Playbooks: everyone signed in reads (and previews); admins write,
    through ``services.playbook_save`` and ``services.playbook_delete``."""

    serializer_class = PlaybookSerializer
    filterset_class = PlaybookFilter
    permission_classes = [SignedInReadsAdminWrites]

    def get_queryset(self) -> QuerySet[Playbook]:
        playbooks = Playbook.objects.select_related("root_cause", "segment")
        if self.action != "preview":  # the plan reads the steps itself
            playbooks = playbooks.prefetch_related(
                Prefetch("steps", queryset=PlaybookStep.objects.order_by("position", "id"))
            )
        return playbooks.order_by(
            "root_cause__name", F("segment__name").asc(nulls_first=True), "name", "id"
        )

    def filter_queryset(self, queryset: QuerySet[Playbook]) -> QuerySet[Playbook]:
        # The filters narrow the list; a playbook's own URL finds it whatever
        # the query string says.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _parse(self, request: Request, *, partial: bool) -> dict[str, Any]:
        body = PlaybookSerializer(data=request.data, partial=partial)
        if not body.is_valid():
            raise ValidationError(flat_errors(body.errors))
        return dict(body.validated_data)

    def _represent(self, playbook: Playbook, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=playbook.pk)
        return Response(PlaybookSerializer(fresh).data, status=status_code)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        fields = self._parse(request, partial=False)
        playbook = services.playbook_save(user=request.user, **fields)
        return self._represent(playbook, status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        playbook = self.get_object()
        fields = self._parse(request, partial=partial)
        if partial:
            fields = {
                "name": playbook.name,
                "root_cause": playbook.root_cause,
                "segment": playbook.segment,
                "description": playbook.description,
                "active": playbook.active,
                "steps": _steps_of(playbook),
                **fields,
            }
        playbook = services.playbook_save(user=request.user, playbook=playbook, **fields)
        return self._represent(playbook)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.playbook_delete(user=request.user, playbook=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="The tasks this playbook would give a record filed today on an account",
        description=(
            "For every signed-in person. Each step's task with its owner (the account's "
            "CSM, the CSM's manager, or a department) and due date, counted in business "
            "days from today in the account's region. `applies` says whether a record "
            "filed today on the account with the playbook's cause would get this playbook."
        ),
        parameters=[PlaybookPreviewQuerySerializer],
        responses={
            200: PlaybookPreviewSerializer,
            400: error(400, "`account` is missing or names no account."),
            **errors(401, 404),
        },
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def preview(self, request: Request, pk: str | None = None) -> Response:
        playbook = self.get_object()
        query = PlaybookPreviewQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        account = query.validated_data["account"]
        opened_on = account.local_date(timezone.now())
        plan = services.playbook_plan(playbook=playbook, account=account, opened_on=opened_on)
        chosen = services.playbook_for(
            root_cause=playbook.root_cause_id, segment=account.segment_id
        )
        preview = {
            "playbook": playbook.pk,
            "account": account.pk,
            "opened_on": opened_on,
            "applies": chosen is not None and chosen.pk == playbook.pk,
            "tasks": plan,
        }
        return Response(PlaybookPreviewSerializer(preview).data)


# --- tasks -------------------------------------------------------------------------------------

# The body of PATCH /tasks/{id}/ as a plain schema: drf-spectacular would
# document TaskDoneSerializer for a PATCH with every field optional ("Patched"),
# but `done` is required and nothing else is taken.
TASK_DONE_SCHEMA = {
    "type": "object",
    "properties": {"done": {"type": "boolean", "description": "true: done; false: open again."}},
    "required": ["done"],
    "additionalProperties": False,
}

MAY_NOT_MARK = error(
    403,
    "Only the task's owner, the record's CSM or their manager, the department's reviewers "
    "in the account's region (a department's task), the region's reviewers and managers "
    "(a task agreed in the weekly review), or an admin.",
)


@extend_schema_view(
    list=extend_schema(
        summary="List tasks, overdue first",
        description=(
            "Overdue tasks first, then the other open ones, then the done ones; each by due "
            "date. Tasks of closed records are left out unless `include_closed=true` or "
            "`risk` is given."
        ),
        responses={200: TaskSerializer(many=True), **errors(400, 401, 404)},
    ),
    retrieve=extend_schema(
        summary="Get a task", responses={200: TaskSerializer, **errors(401, 404)}
    ),
)
class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tasks of every record, for everyone signed in. Tasks are added on their
    record (``POST /risks/{id}/tasks/``), by a playbook or in the weekly
    review; here they are only marked done or open again. No PUT, no DELETE."""

    serializer_class = TaskSerializer
    filterset_class = TaskFilter

    def get_queryset(self) -> QuerySet[Task]:
        return selectors.ordered_tasks(selectors.task_queryset(), timezone.localdate())

    def filter_queryset(self, queryset: QuerySet[Task]) -> QuerySet[Task]:
        # The filters (and the default leaving out closed records) narrow the
        # list; a task's own URL finds it whatever its record's state.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    @extend_schema(
        summary="Mark a task done, or open again",
        description=(
            'The body is `{"done": true}` or `{"done": false}` and nothing else. Each change '
            "goes on the record's timeline; the tasks of a closed record can still be "
            "finished."
        ),
        request={"application/json": TASK_DONE_SCHEMA},
        responses={
            200: TaskSerializer,
            **errors(400, 401),
            403: MAY_NOT_MARK,
            404: error(404),
            409: error(409, "The task was deleted meanwhile."),
        },
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        body = TaskDoneSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        task = services.task_set_done(
            user=request.user, task=task, done=body.validated_data["done"]
        )
        return Response(TaskSerializer(task).data)
