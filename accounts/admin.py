"""Admin for CS operations: regions, segments, people and customer accounts."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Account, Region, Segment, User

CS_FIELDS = ("role", "region", "manager", "department")


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "timezone", "review_weekday", "review_time")
    search_fields = ("code", "name")
    ordering = ("code",)


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "code")
    search_fields = ("code", "name")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        ("Customer success", {"fields": CS_FIELDS}),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("Personal info", {"classes": ("wide",), "fields": ("first_name", "last_name", "email")}),
        ("Customer success", {"classes": ("wide",), "fields": CS_FIELDS}),
    )
    list_display = (
        "username",
        "first_name",
        "last_name",
        "email",
        "role",
        "region",
        "department",
        "manager",
        "is_staff",
        "is_active",
    )
    list_filter = ("role", "region", "department", "is_staff", "is_superuser", "is_active")
    list_select_related = ("region", "manager")
    search_fields = ("username", "first_name", "last_name", "email")
    # The choices are limited to users with the manager role (limit_choices_to).
    autocomplete_fields = ("manager",)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "region", "segment", "arr", "renewal_date", "csm")
    list_filter = ("region", "segment")
    list_select_related = ("region", "segment", "csm")
    search_fields = ("name", "external_id")
    autocomplete_fields = ("csm",)
    date_hierarchy = "renewal_date"
