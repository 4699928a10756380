"""Admin of the root-cause taxonomy: every write through ``services.root_cause_*``."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ServiceFormAdmin

from .. import services
from ..forms import (
    RootCauseAdminForm,
)
from ..models import RootCause

# --- root causes ---------------------------------------------------------------------


@admin.register(RootCause)
class RootCauseAdmin(ServiceFormAdmin):
    """Adding and changing a cause goes through ``services.root_cause_*``: the
    code stays once records use the cause, and causes are deactivated, never
    deleted — the same answers as the API's."""

    form = RootCauseAdminForm
    list_display = ("code", "name", "category", "active")
    list_filter = ("category", "active")
    search_fields = ("code", "name", "description")
    actions = ("deactivate", "activate")

    def get_readonly_fields(self, request: HttpRequest, obj: RootCause | None = None) -> tuple:
        return ("code",) if obj is not None and services.root_cause_in_use(obj) else ()

    def has_delete_permission(self, request: HttpRequest, obj: RootCause | None = None) -> bool:
        return False  # services.root_cause_delete: never

    def _set_active(self, request: HttpRequest, queryset: QuerySet, active: bool) -> None:
        causes = list(queryset.exclude(active=active))
        with transaction.atomic():
            for cause in causes:
                services.root_cause_update(user=request.user, cause=cause, active=active)
                self.log_change(request, cause, [{"changed": {"fields": ["Active"]}}])
        state = "activated" if active else "deactivated"
        self.message_user(request, f"{len(causes)} root cause(s) {state}.", messages.SUCCESS)

    @admin.action(description="Deactivate selected root causes", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, active=False)

    @admin.action(description="Activate selected root causes", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, active=True)
