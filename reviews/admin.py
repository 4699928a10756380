"""Admin of the weekly review: for looking, not for writing.

Agendas, notes and action items are written by ``reviews.services`` (which
also put them on the risk's timeline), so the admin shows them read-only. The
one change it offers, refreshing an agenda, goes through that service too.
The outbox is read-only as well: its rows are the record of what was sent.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin
from core.exceptions import DomainError

from . import services
from .models import Agenda, AgendaItem, ReviewNote


class AgendaItemInline(admin.TabularInline):
    model = AgendaItem
    fields = ("position", "section", "risk")
    readonly_fields = fields
    ordering = ("position",)
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("risk__account")


@admin.register(Agenda)
class AgendaAdmin(ReadOnlyAdmin):
    list_display = ("region", "week_start", "meeting_at", "status", "generated_at")
    list_filter = ("region", "status")
    date_hierarchy = "week_start"
    list_select_related = ("region",)
    readonly_fields = ("region", "week_start", "meeting_at", "status", "generated_at")
    inlines = (AgendaItemInline,)
    actions = ("refresh",)

    @admin.action(description="Refresh selected agendas", permissions=["view"])
    def refresh(self, request: HttpRequest, queryset: QuerySet) -> None:
        refreshed = 0
        for agenda in queryset:
            try:
                services.agenda_generate(
                    region=agenda.region_id, week_start=agenda.week_start, user=request.user
                )
            except DomainError as refusal:
                self.message_user(request, f"{agenda}: {refusal.message}", messages.ERROR)
                return
            refreshed += 1
        self.message_user(
            request,
            f"{refreshed} agenda(s) refreshed; agendas whose meeting started are unchanged.",
            messages.SUCCESS,
        )


@admin.register(ReviewNote)
class ReviewNoteAdmin(ReadOnlyAdmin):
    list_display = ("item", "author", "created_at")
    list_select_related = ("item__agenda__region", "item__risk__account", "author")
    search_fields = ("text",)
    readonly_fields = ("item", "author", "text", "created_at")
