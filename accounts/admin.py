"""Admin for CS operations: regions, segments, people, customer accounts and
their renewals (read-only: renewals come in through the importer)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdmin

from . import services
from .forms import AdminSignInForm
from .models import Account, AccountStatus, Region, Renewal, Segment, User

CS_FIELDS = ("role", "region", "manager", "department")
SSO_FIELDS = ("oidc_issuer", "oidc_subject")

# The admin's own sign-in page follows the rules of the main one.
admin.site.login_form = AdminSignInForm


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
        ("Single sign-on", {"fields": SSO_FIELDS}),
    )
    # Written by the first sign-in through the provider only.
    readonly_fields = SSO_FIELDS
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
    actions = ("unlink_sso",)

    @admin.action(description="Unlink single sign-on identity", permissions=["change"])
    def unlink_sso(self, request: HttpRequest, queryset: QuerySet) -> None:
        people = list(queryset)
        unlinked = services.users_unlink_sso(user=request.user, people=people)
        for person in people:
            self.log_change(request, person, "Unlinked the single sign-on identity.")
        self.message_user(
            request,
            f"{unlinked} person(s) unlinked: their next single sign-on links them again "
            "by their verified email address.",
            messages.SUCCESS,
        )


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "external_id",
        "region",
        "segment",
        "arr",
        "renewal_date",
        "csm",
        "status",
        "churned_on",
    )
    list_filter = ("status", "region", "segment")
    list_select_related = ("region", "segment", "csm")
    search_fields = ("name", "external_id")
    autocomplete_fields = ("csm",)
    date_hierarchy = "renewal_date"
    # Churn is set by closing a risk record as churned; it is undone only by
    # the "Reactivate" action, through the service.
    readonly_fields = ("status", "churned_on")
    actions = ("reactivate",)

    @admin.action(description="Reactivate selected churned accounts", permissions=["change"])
    def reactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        churned = list(queryset.filter(status=AccountStatus.CHURNED))
        active = queryset.count() - len(churned)
        with transaction.atomic():
            for account in churned:
                services.account_reactivate(user=request.user, account=account)
                self.log_change(request, account, "Reactivated.")
        message = f"{len(churned)} account(s) reactivated."
        if active:
            message += (
                f" {active} selected account(s) were active already and were left as they are."
            )
        self.message_user(request, message, messages.SUCCESS)


@admin.register(Renewal)
class RenewalAdmin(ReadOnlyAdmin):
    """Renewals are written by the importer only (a CSV file on /imports/renewals/
    or the API), which also marks churned accounts; here they are looked up."""

    list_display = (
        "account",
        "renewal_date",
        "outcome",
        "arr_before",
        "arr_after",
        "source",
        "recorded_at",
    )
    list_filter = ("outcome", "source", "account__region", "account__segment")
    list_select_related = ("account",)
    search_fields = ("account__name", "account__external_id")
    date_hierarchy = "renewal_date"
    ordering = ("-renewal_date", "account_id")
