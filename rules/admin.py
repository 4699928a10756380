"""Risk rules and their matches in the Django admin, for looking things up.
Rules are written on the rule pages (/rules/), whose editor builds the
conditions from menus and previews them, or through the API; both go
through rules.services. Matches are written only by evaluations."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin

from .evidence import sentences
from .models import RULE_FIELDS, Rule, RuleMatch


@admin.register(Rule)
class RuleAdmin(ReadOnlyAdmin):
    list_display = ("name", "active", "segment", "region", "primary_cause", "updated_at", "page")
    list_filter = ("active", "segment", "region")
    list_select_related = ("segment", "region", "primary_cause")
    search_fields = ("name", "description")
    fields = (*RULE_FIELDS, "version", "created_by", "created_at", "updated_at", "page")

    @admin.display(description="Rule page")
    def page(self, rule: Rule) -> str:
        # Rules are edited there: the editor checks and previews them.
        return format_html(
            '<a href="{}">Open on the rule pages</a>', reverse("rules:detail", args=[rule.pk])
        )


@admin.register(RuleMatch)
class RuleMatchAdmin(ReadOnlyAdmin):
    list_display = ("rule", "account", "matched_at", "outcome", "risk", "acted_at", "cleared_at")
    list_filter = ("outcome", "rule")
    list_select_related = ("rule", "account", "risk__account")
    search_fields = ("rule__name", "account__name")
    date_hierarchy = "matched_at"
    fields = (
        "rule",
        "account",
        "matched_at",
        "as_of",
        "explanation",
        "evidence",
        "risk",
        "outcome",
        "outcome_note",
        "acted_at",
        "cleared_at",
    )

    @admin.display(description="Evidence in words")
    def explanation(self, match: RuleMatch) -> str:
        return " ".join(sentences(match.evidence))
