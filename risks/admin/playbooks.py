"""Admin of playbooks and their steps, and a read-only list of tasks.

A playbook and its steps are one write: ``services.playbook_save`` takes the
playbook's fields and the whole ordered list of steps. The page's two parts
are validated in Django's order, the playbook's own form first, then the
steps' inline formset. So the formset's ``clean`` makes the call, once both
are valid, and shows a refusal next to the step or field it concerns (the
page is then shown again and ``ServiceFormAdmin`` rolls the write back).

Only admins (role admin or superuser) change playbooks: the service refuses
anyone else, and the page does not offer them a form that can only fail.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import construct_change_message
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from accounts.models import Account, AccountStatus, Department, Segment
from core import business_days
from core.admin import ReadOnlyAdmin, ServiceFormAdmin
from core.exceptions import DomainError, InvalidInput
from core.forms import add_domain_error

from .. import services
from ..models import MAX_DUE_DAYS, Playbook, PlaybookStep, RiskStatus, StepOwner, Task
from ..selectors import overdue_q
from ..services.tasks import MAX_STEPS, PlannedTask

# The playbook's own form, once valid, waits here (on the request) for the
# steps' formset, which validates next and writes both through the service.
VALID_PLAYBOOK_FORM = "_valid_playbook_form"


def may_write_playbooks(request: HttpRequest) -> bool:
    user = request.user
    return bool(getattr(user, "is_authenticated", False) and user.is_cs_admin)


# --- forms ------------------------------------------------------------------------------


class PlaybookAdminForm(forms.ModelForm):
    """The playbook's own fields. Django checks the model's constraints here
    (one active playbook per cause and segment, one active default per
    cause), so a second active playbook is an error above the form."""

    class Meta:
        model = Playbook
        fields = ["name", "root_cause", "segment", "description", "active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3, "cols": 80})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "segment" in self.fields:
            self.fields["segment"].empty_label = "Every segment"


class PlaybookStepForm(forms.ModelForm):
    position = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=999,
        widget=forms.NumberInput(attrs={"size": 3, "class": "vSmallField"}),
        help_text="Order of the steps; empty: after the others. Saved as 1, 2, 3 ...",
    )
    due_days = forms.IntegerField(
        min_value=0,
        max_value=MAX_DUE_DAYS,
        label="Due (business days)",
        widget=forms.NumberInput(attrs={"size": 3, "class": "vSmallField"}),
        help_text="Business days (Monday to Friday) after the record opens.",
    )

    class Meta:
        model = PlaybookStep
        fields = ["position", "title", "description", "owner", "due_days"]
        widgets = {
            "title": forms.TextInput(attrs={"size": 40}),
            "description": forms.Textarea(attrs={"rows": 2, "cols": 40}),
        }


def _ordered(forms_: list[forms.ModelForm]) -> list[forms.ModelForm]:
    """The step forms to keep, in the order the positions give (rows without
    a position after the others, in page order)."""
    kept = [
        form
        for form in forms_
        if form.has_changed() or form.instance.pk is not None
        if not form.cleaned_data.get("DELETE")
    ]
    return sorted(
        kept,
        key=lambda form: (
            form.cleaned_data.get("position") is None,
            form.cleaned_data.get("position") or 0,
            forms_.index(form),
        ),
    )


class PlaybookStepFormSet(forms.BaseInlineFormSet):
    """The playbook's steps. Validating them writes the playbook and its steps
    through ``services.playbook_save`` when the playbook's own form is valid."""

    # Set by the inline's get_formset.
    request: HttpRequest

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return  # a step's own errors show next to it; nothing is written
        parent = getattr(self.request, VALID_PLAYBOOK_FORM, None)
        if parent is None:
            return  # the playbook's own fields are not valid: nothing is written
        step_forms = _ordered(self.forms)
        data = parent.cleaned_data
        try:
            parent.saved_playbook = services.playbook_save(
                user=self.request.user,
                playbook=parent.instance if parent.instance.pk is not None else None,
                name=data["name"],
                root_cause=data["root_cause"],
                segment=data.get("segment"),
                description=data.get("description", ""),
                active=data.get("active", False),
                steps=[
                    {
                        "title": form.cleaned_data["title"],
                        "description": form.cleaned_data.get("description", ""),
                        "owner": form.cleaned_data["owner"],
                        "due_days": form.cleaned_data["due_days"],
                    }
                    for form in step_forms
                ],
            )
        except DomainError as error:
            self._show(error, parent, step_forms)

    def _show(
        self, error: DomainError, parent: forms.ModelForm, step_forms: list[forms.ModelForm]
    ) -> None:
        """A step's error next to its field; the steps' count above the steps;
        anything else on the playbook's form. The formset must not be valid
        either way, or the page would go on as if saved."""
        if isinstance(error, InvalidInput):
            playbook_errors: dict[str, list[str]] = {}
            for key, messages in error.errors.items():
                if key == "steps":
                    raise ValidationError(messages)
                if key.startswith("steps[") and "]." in key:
                    index, field = key[len("steps[") :].split("].", 1)
                    form = step_forms[int(index) - 1]
                    form.add_error(field if field in form.fields else None, messages)
                else:
                    playbook_errors[key] = messages
            if not playbook_errors:
                return
            error = InvalidInput(playbook_errors)
        add_domain_error(parent, error)
        raise ValidationError("Nothing was saved: see the error at the top of the page.")


class PlaybookStepInline(admin.TabularInline):
    model = PlaybookStep
    form = PlaybookStepForm
    formset = PlaybookStepFormSet
    fields = ("position", "title", "description", "owner", "due_days")
    ordering = ("position", "id")
    extra = 1
    max_num = MAX_STEPS
    verbose_name = "step"
    verbose_name_plural = "Steps (each becomes a task when a record opens)"

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"request": request})

    # The steps are part of the playbook: whoever may write it writes them.
    def _may_write_steps(self, request: HttpRequest, obj: Any) -> bool:
        action = "add" if obj is None else "change"
        return may_write_playbooks(request) and request.user.has_perm(f"risks.{action}_playbook")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("risks.view_playbook") or self._may_write_steps(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_write_steps(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_write_steps(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may_write_steps(request, obj)


# --- the preview ------------------------------------------------------------------------


def _day(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def owner_text(planned: PlannedTask, account: Account) -> str:
    """Who a planned task goes to, as the preview says it."""
    if planned.department:
        return f"{Department(planned.department).label} (department)"
    name = str(planned.owner)
    if planned.step.owner == StepOwner.MANAGER:
        if planned.owner is not None and planned.owner.pk != account.csm_id:
            return f"The CSM's manager: {name}"
        return f"The account's CSM: {name} (the CSM has no active manager)"
    return f"The account's CSM: {name}"


def example_account(playbook: Playbook) -> Account | None:
    """An active account a record with this playbook could be filed on: of the
    playbook's segment, or for a playbook for every segment, preferably of a
    segment without its own playbook for the cause. The first by name."""
    accounts = Account.objects.filter(status=AccountStatus.ACTIVE).select_related(
        "csm__manager", "region", "segment"
    )
    if playbook.segment_id is not None:
        return accounts.filter(segment_id=playbook.segment_id).order_by("name", "pk").first()
    own = Playbook.objects.filter(
        root_cause_id=playbook.root_cause_id,
        active=True,
        segment_id=OuterRef("segment_id"),
    )
    return (
        accounts.annotate(segment_has_own=Exists(own))
        .order_by("segment_has_own", "name", "pk")
        .first()
    )


def playbook_preview(playbook: Playbook, now: dt.datetime) -> SafeString:
    """The tasks a record opened at ``now`` on an example account would get."""
    if playbook.pk is None:
        return format_html("<p>{}</p>", "Save the playbook to preview the tasks it gives.")
    account = example_account(playbook)
    if account is None:
        where = f"in the {playbook.segment.name} segment" if playbook.segment_id else "at all"
        return format_html("<p>{}</p>", f"No active account {where} to preview on.")
    opened_on = account.local_date(now)
    plan = services.playbook_plan(playbook=playbook, account=account, opened_on=opened_on)
    notes = []
    if not playbook.active:
        notes.append("This playbook is inactive: new records do not get these tasks.")
    elif playbook.segment_id is None:
        others = Segment.objects.filter(
            playbooks__root_cause_id=playbook.root_cause_id, playbooks__active=True
        ).order_by("name")
        names = ", ".join(segment.name for segment in others)
        if names:
            notes.append(f"Records on accounts of {names} get their segment's own playbook.")
    intro = format_html(
        "<p>Example account: <strong>{}</strong> ({}, {}), CSM {}. "
        "A record opened today, {} ({}), would get:</p>",
        account.name,
        account.segment.name,
        account.region.name,
        account.csm,
        _day(opened_on),
        account.region.timezone or timezone.get_current_timezone_name(),
    )
    if not plan:
        return format_html("{}<p>{}</p>", intro, "No tasks: the playbook has no steps.")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ({} business day{})</td></tr>",
        (
            (
                index,
                planned.title,
                owner_text(planned, account),
                _day(planned.due_date),
                planned.step.due_days,
                "" if planned.step.due_days == 1 else "s",
            )
            for index, planned in enumerate(plan, start=1)
        ),
    )
    table = format_html(
        "<table><thead><tr><th>Step</th><th>Task</th><th>Owner</th><th>Due</th></tr>"
        "</thead><tbody>{}</tbody></table>",
        rows,
    )
    extra = format_html_join("", "<p>{}</p>", ((note,) for note in notes))
    return format_html("{}{}{}", intro, table, extra)


# --- playbooks --------------------------------------------------------------------------


class SegmentOrEveryFilter(admin.SimpleListFilter):
    title = "segment"
    parameter_name = "segment"
    EVERY = "every"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        segments = Segment.objects.order_by("name")
        return [(self.EVERY, "Every segment"), *((str(s.pk), s.name) for s in segments)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == self.EVERY:
            return queryset.filter(segment__isnull=True)
        if value and value.isdigit():
            return queryset.filter(segment_id=int(value))
        return queryset


@admin.register(Playbook)
class PlaybookAdmin(ServiceFormAdmin):
    form = PlaybookAdminForm
    inlines = (PlaybookStepInline,)
    list_display = ("name", "root_cause", "segment_or_every", "active", "step_count")
    list_filter = ("root_cause", SegmentOrEveryFilter, "active")
    list_select_related = ("root_cause", "segment")
    search_fields = ("name", "description", "root_cause__name", "root_cause__code")
    readonly_fields = ("preview",)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(step_count=Count("steps"))

    def get_fieldsets(self, request: HttpRequest, obj: Playbook | None = None) -> list:
        fieldsets: list = [
            (None, {"fields": ("name", "root_cause", "segment", "description", "active")})
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "Preview (the steps as saved)",
                    {
                        "fields": ("preview",),
                        "description": "The tasks a risk record opened today would get.",
                    },
                )
            )
        return fieldsets

    @admin.display(description="Segment", ordering="segment__name")
    def segment_or_every(self, playbook: Playbook) -> str:
        return playbook.segment.name if playbook.segment_id else "Every segment"

    @admin.display(description="Steps", ordering="step_count")
    def step_count(self, playbook: Playbook) -> int:
        return playbook.step_count

    @admin.display(description="Tasks of a record opened today")
    def preview(self, playbook: Playbook) -> SafeString:
        return playbook_preview(playbook, business_days.current_time())

    # --- who may write ----------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_write_playbooks(request) and super().has_add_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Playbook | None = None) -> bool:
        return may_write_playbooks(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Playbook | None = None) -> bool:
        return may_write_playbooks(request) and super().has_delete_permission(request, obj)

    # --- writing: the steps' formset calls the service ----------------------------------

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> Playbook:
        # Called only when the playbook's own form is valid, before the steps
        # are validated: their formset then writes both (see the module's doc).
        setattr(request, VALID_PLAYBOOK_FORM, form)
        return form.instance

    def save_model(
        self, request: HttpRequest, obj: Playbook, form: forms.ModelForm, change: bool
    ) -> None:
        """The service has written the playbook; the page goes on with it as saved."""
        saved = form.saved_playbook
        obj.pk = saved.pk
        obj._state.adding = False
        obj._state.db = saved._state.db
        obj.refresh_from_db()

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool
    ) -> None:
        """Nothing left to write: the service wrote the steps with the playbook."""

    def construct_change_message(
        self, request: HttpRequest, form: forms.ModelForm, formsets: list, add: bool
    ) -> list[dict]:
        message = construct_change_message(form, [], add)
        if not add and any(formset.has_changed() for formset in formsets):
            message.append({"changed": {"fields": ["Steps"]}})
        return message

    def delete_model(self, request: HttpRequest, obj: Playbook) -> None:
        services.playbook_delete(user=request.user, playbook=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        with transaction.atomic():
            for playbook in queryset:
                services.playbook_delete(user=request.user, playbook=playbook)


# --- tasks: for reference ---------------------------------------------------------------


class TaskStateFilter(admin.SimpleListFilter):
    title = "done"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("done", "Done"), ("open", "Open"), ("overdue", "Overdue, on open records")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "done":
            return queryset.filter(done_at__isnull=False)
        if value == "open":
            return queryset.filter(done_at__isnull=True)
        if value == "overdue":
            # As the task pages and the reminder count them: a closed record's
            # tasks are no one's to chase.
            return queryset.filter(overdue_q(timezone.localdate()), risk__status=RiskStatus.OPEN)
        return queryset


@admin.register(Task)
class TaskAdmin(ReadOnlyAdmin):
    """Tasks are written by the services (a record's playbook, the weekly
    review, people on the record's page); here they are only listed."""

    list_display = (
        "title",
        "record",
        "account",
        "owner",
        "department",
        "due_date",
        "done",
        "source",
    )
    list_filter = ("source", "department", TaskStateFilter)
    list_select_related = ("risk__account", "owner")
    search_fields = (
        "title",
        "description",
        "risk__account__name",
        "owner__username",
        "owner__first_name",
        "owner__last_name",
    )
    fields = (
        "risk",
        "title",
        "description",
        "owner",
        "department",
        "due_date",
        "done_at",
        "done_by",
        "source",
        "step",
        "agenda_item",
        "created_by",
        "created_at",
    )
    show_full_result_count = False

    @admin.display(description="Record", ordering="risk_id")
    def record(self, task: Task) -> SafeString:
        url = reverse("admin:risks_riskrecord_change", args=[task.risk_id])
        return format_html('<a href="{}">#{}</a>', url, task.risk_id)

    @admin.display(description="Account", ordering="risk__account__name")
    def account(self, task: Task) -> str:
        return task.risk.account.name

    @admin.display(description="Done", boolean=True, ordering="done_at")
    def done(self, task: Task) -> bool:
        return task.done_at is not None
