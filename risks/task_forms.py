"""Forms of the task pages: adding a task to a record, and the filters of the
task list. They parse only: the rules (a date and an owner or a department,
active owners, open records) are ``risks.services.task_add``'s."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Department, Role, User

from .models import TaskSource


def _people() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        label="Owner",
        queryset=User.objects.filter(is_active=True).order_by(
            "first_name", "last_name", "username"
        ),
        required=False,
        empty_label="Nobody (a department)",
    )


class TaskForm(forms.Form):
    title = forms.CharField(
        label="Task",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"required": True}),
        help_text="What is to be done, in a line.",
    )
    description = forms.CharField(
        label="Details", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    owner = _people()
    department = forms.ChoiceField(
        label="Department",
        choices=[("", "None"), *Department.choices],
        required=False,
        help_text="For a department's task, leave the owner empty.",
    )
    due_date = forms.DateField(
        label="Due date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "required": True}, format="%Y-%m-%d"),
    )


class TaskScope:
    MINE = "mine"
    TEAM = "team"
    ALL = "all"


class TaskDue:
    OVERDUE = "overdue"
    WEEK = "week"


class TaskFilterForm(forms.Form):
    """The filters of the task list (GET)."""

    scope = forms.ChoiceField(
        label="Whose",
        choices=[
            (TaskScope.MINE, "Mine and my department's"),
            (TaskScope.TEAM, "My team's records"),
            (TaskScope.ALL, "Everyone's"),
        ],
        required=False,
    )
    owner = _people()
    department = forms.ChoiceField(
        label="Department", choices=[("", "Any department"), *Department.choices], required=False
    )
    source = forms.ChoiceField(
        label="From", choices=[("", "Anywhere"), *TaskSource.choices], required=False
    )
    state = forms.ChoiceField(
        label="Done?",
        choices=[("open", "Open"), ("done", "Done"), ("all", "Open and done")],
        required=False,
    )
    due = forms.ChoiceField(
        label="Due",
        choices=[
            ("", "Any time"),
            (TaskDue.OVERDUE, "Overdue"),
            (TaskDue.WEEK, "By the end of this week"),
        ],
        required=False,
    )
    include_closed = forms.BooleanField(label="Include closed records", required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].empty_label = "Anyone"
        if user.role != Role.MANAGER:
            self.fields["scope"].choices = [
                choice for choice in self.fields["scope"].choices if choice[0] != TaskScope.TEAM
            ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["scope"] = data.get("scope") or TaskScope.MINE
        data["state"] = data.get("state") or "open"
        return data
