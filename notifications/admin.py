from __future__ import annotations

from django.contrib import admin

from core.admin import ReadOnlyAdmin

from .models import OutboundEmail


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):
    """The outbox, read-only: what was sent, when, and why a send failed."""

    list_display = ("kind", "subject", "created_at", "sent_at", "attempts")
    list_filter = ("kind",)
    search_fields = ("subject", "dedupe_key")
    readonly_fields = (
        "dedupe_key",
        "kind",
        "to",
        "subject",
        "body",
        "ics",
        "created_at",
        "sent_at",
        "attempts",
        "last_error",
    )
