"""Admin of risk records: adding and editing through the services, and the
note, escalate, de-escalate and close pages of a record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.admin import ServiceFormAdmin
from core.exceptions import DomainError
from core.forms import add_domain_error

from .. import services
from ..forms import (
    CloseForm,
    DeescalateForm,
    EscalationRequestForm,
    RiskNoteForm,
    RiskRecordAdminForm,
)
from ..models import Escalation, EscalationStatus, RiskRecord, TimelineEvent

# --- risk records --------------------------------------------------------------------


class TimelineEventInline(admin.TabularInline):
    """The record's history, oldest first as it reads like a story (and as the API
    returns it). Append-only: nothing can be added, changed or deleted here."""

    model = TimelineEvent
    fields = ("at", "kind", "actor", "text", "data")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "Timeline"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EscalationInline(admin.TabularInline):
    model = Escalation
    fields = (
        "from_tier",
        "to_tier",
        "status",
        "reason",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
        "decision_note",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("requested_by", "decided_by")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


DESCRIPTION_FIELDS = ("primary_cause", "secondary_cause", "summary", "next_steps", "arr_at_risk")
STATE_FIELDS = ("status", "tier", "max_tier", "tier_changed_at", "version")
AUDIT_FIELDS = (
    "opened_by",
    "opened_at",
    "closed_by",
    "closed_at",
    "arr_retained",
    "outcome_note",
)

WorkflowAction = Callable[[HttpRequest, RiskRecord, dict[str, Any]], str]


@admin.register(RiskRecord)
class RiskRecordAdmin(ServiceFormAdmin):
    form = RiskRecordAdminForm
    list_display = (
        "account",
        "status",
        "tier",
        "max_tier",
        "primary_cause",
        "arr_at_risk",
        "opened_at",
    )
    list_filter = (
        "status",
        "tier",
        "primary_cause__category",
        "account__region",
        "account__segment",
    )
    list_select_related = ("account", "primary_cause")
    search_fields = ("account__name", "summary")
    autocomplete_fields = ("account",)
    inlines = (EscalationInline, TimelineEventInline)
    workflow_template = "admin/risks/riskrecord/workflow_form.html"

    # --- permissions and layout ---------------------------------------------------

    def has_change_permission(self, request: HttpRequest, obj: RiskRecord | None = None) -> bool:
        # A closed record is read-only (the services refuse any change); showing
        # it as a view page avoids offering a form that can only fail.
        if obj is not None and not obj.is_open:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: RiskRecord | None = None) -> bool:
        # Records are closed with an outcome (e.g. withdrawn), never deleted:
        # the reports count them.
        return False

    def get_fieldsets(self, request: HttpRequest, obj: RiskRecord | None = None) -> list:
        if obj is None:
            return [
                (None, {"fields": ("account", *DESCRIPTION_FIELDS, "arr_above_account_reason")})
            ]
        description = ("account", *DESCRIPTION_FIELDS)
        if self.has_change_permission(request, obj):
            description = (*description, "arr_above_account_reason", "loaded_version")
        return [
            (None, {"fields": description}),
            ("Workflow state", {"fields": STATE_FIELDS}),
            ("Opened and closed", {"fields": AUDIT_FIELDS}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: RiskRecord | None = None) -> tuple:
        if obj is None:
            return ()
        return ("account", *STATE_FIELDS, *AUDIT_FIELDS)

    def get_inlines(self, request: HttpRequest, obj: RiskRecord | None) -> tuple:
        return self.inlines if obj is not None else ()

    # --- workflow pages -------------------------------------------------------------

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        pages = [
            ("note", self.note_view),
            ("escalate", self.escalate_view),
            ("deescalate", self.deescalate_view),
            ("close", self.close_view),
        ]
        urls = [
            path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(view),
                name="{}_{}_{}".format(*info, name),
            )
            for name, view in pages
        ]
        return urls + super().get_urls()

    def _workflow_page(
        self,
        request: HttpRequest,
        object_id: str,
        *,
        form_class: type[forms.Form],
        title: str,
        submit_label: str,
        perform: WorkflowAction,
    ) -> HttpResponse:
        risk = self.get_object(request, unquote(object_id))
        if risk is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        # Admin access to change risk records at all; the service then decides
        # whether this user may do this to this record.
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = form_class(request.POST)
            if form.is_valid():
                try:
                    message = perform(request, risk, form.cleaned_data)
                except DomainError as error:
                    add_domain_error(form, error)
                else:
                    self.log_change(request, risk, message)
                    self.message_user(request, message, messages.SUCCESS)
                    return HttpResponseRedirect(
                        reverse("admin:risks_riskrecord_change", args=[risk.pk])
                    )
        else:
            form = form_class(initial={"version": risk.version})
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": str(risk),
            "opts": self.opts,
            "original": risk,
            "form": form,
            "submit_label": submit_label,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.workflow_template, context)

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def perform(request: HttpRequest, risk: RiskRecord, data: dict[str, Any]) -> str:
            services.risk_add_note(user=request.user, risk=risk, text=data["text"])
            return "Note added to the timeline."

        return self._workflow_page(
            request,
            object_id,
            form_class=RiskNoteForm,
            title="Add a note",
            submit_label="Add note",
            perform=perform,
        )

    def escalate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def perform(request: HttpRequest, risk: RiskRecord, data: dict[str, Any]) -> str:
            escalation = services.escalation_request(
                user=request.user, risk=risk, reason=data["reason"]
            )
            if escalation.status == EscalationStatus.APPROVED:
                return f"Escalated to tier {escalation.to_tier}."
            return (
                f"Escalation to tier {escalation.to_tier} requested; "
                "it waits for the manager's decision."
            )

        return self._workflow_page(
            request,
            object_id,
            form_class=EscalationRequestForm,
            title="Request an escalation",
            submit_label="Request escalation",
            perform=perform,
        )

    def deescalate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def perform(request: HttpRequest, risk: RiskRecord, data: dict[str, Any]) -> str:
            risk = services.risk_deescalate(
                user=request.user,
                risk=risk,
                to_tier=data["to_tier"],
                note=data["note"],
                version=data["version"],
            )
            return f"De-escalated to tier {risk.tier}."

        return self._workflow_page(
            request,
            object_id,
            form_class=DeescalateForm,
            title="De-escalate",
            submit_label="De-escalate",
            perform=perform,
        )

    def close_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def perform(request: HttpRequest, risk: RiskRecord, data: dict[str, Any]) -> str:
            risk = services.risk_close(
                user=request.user,
                risk=risk,
                outcome=data["outcome"],
                note=data["note"],
                arr_retained=data["arr_retained"],
                version=data["version"],
            )
            return f"Closed as {risk.get_status_display().lower()}."

        return self._workflow_page(
            request,
            object_id,
            form_class=CloseForm,
            title="Close the risk record",
            submit_label="Close record",
            perform=perform,
        )
