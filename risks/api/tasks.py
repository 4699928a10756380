"""API representation of tasks on risk records (docs/api.md). The viewsets
of ``tasks/`` and ``playbooks/`` build on these; the weekly review's agenda
items show their tasks with the same serializer."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Department

from ..models import RiskStatus, Task


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
        return (
            task.done_at is None
            and task.due_date is not None
            and task.due_date < timezone.localdate()
        )

    @extend_schema_field(serializers.BooleanField())
    def get_record_closed(self, task: Task) -> bool:
        return task.risk.status != RiskStatus.OPEN
