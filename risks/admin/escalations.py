"""Admin of escalations: approve and reject go through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from core.exceptions import DomainError

from .. import services
from ..forms import (
    RejectEscalationsForm,
)
from ..models import Escalation

# --- escalations ----------------------------------------------------------------------


ESCALATION_FIELDS = (
    "risk",
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


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    """Escalations are requested on a risk record and decided here with the
    approve and reject actions; their fields are never edited by hand."""

    list_display = (
        "account",
        "from_tier",
        "to_tier",
        "status",
        "requested_by",
        "requested_at",
        "decided_by",
    )
    list_filter = ("status", "risk__account__region")
    list_select_related = ("risk__account", "requested_by", "decided_by")
    search_fields = ("risk__account__name", "reason")
    fields = ESCALATION_FIELDS
    readonly_fields = ESCALATION_FIELDS
    actions = ("approve_selected", "reject_selected")

    @admin.display(description="Account", ordering="risk__account__name")
    def account(self, escalation: Escalation) -> str:
        return escalation.risk.account.name

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Escalation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Escalation | None = None) -> bool:
        return False

    def has_decide_permission(self, request: HttpRequest) -> bool:
        # Admin access to the decision actions; the service then checks that this
        # user may decide this escalation (the CSM's manager or a CS admin).
        return request.user.has_perm(f"{self.opts.app_label}.change_escalation")

    def _describe(self, escalation: Escalation) -> str:
        return (
            f"{escalation.risk.account.name} (tier {escalation.from_tier} → {escalation.to_tier})"
        )

    @admin.action(description="Approve selected escalations", permissions=["decide"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        approved = 0
        # Each approval is its own transaction: one refusal leaves the others done.
        for escalation in queryset:
            try:
                services.escalation_approve(user=request.user, escalation=escalation)
            except DomainError as error:
                self.message_user(
                    request, f"{self._describe(escalation)}: {error.message}", messages.ERROR
                )
            else:
                approved += 1
        if approved:
            self.message_user(request, f"Approved {approved} escalation(s).", messages.SUCCESS)

    @admin.action(description="Reject selected escalations", permissions=["decide"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        # First call: the changelist's action POST shows the confirmation page.
        # Second call: that page posts back with "apply" and the note.
        form = RejectEscalationsForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            rejected = 0
            for escalation in queryset:
                try:
                    services.escalation_reject(
                        user=request.user, escalation=escalation, note=form.cleaned_data["note"]
                    )
                except DomainError as error:
                    self.message_user(
                        request, f"{self._describe(escalation)}: {error.message}", messages.ERROR
                    )
                else:
                    rejected += 1
            if rejected:
                self.message_user(request, f"Rejected {rejected} escalation(s).", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject escalations",
            "opts": self.opts,
            "queryset": queryset,
            "form": form,
            "action_name": "reject_selected",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/risks/escalation/reject_confirmation.html", context)
