"""Admin of the timeline: read-only (the timeline is append-only)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from ..models import TimelineEvent

# --- timeline ----------------------------------------------------------------------------


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    """Append-only: the services write events; here they can only be read."""

    list_display = ("kind", "risk", "actor", "at")
    list_filter = ("kind",)
    list_select_related = ("risk__account", "actor")
    search_fields = ("risk__account__name", "text")
    fields = ("risk", "kind", "actor", "at", "text", "data")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TimelineEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TimelineEvent | None = None) -> bool:
        return False
