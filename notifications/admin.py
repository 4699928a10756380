"""Admin of the outbox and of where it sends: a region's Slack webhook, the
webhook endpoints (with their delivery log, a test event and a new secret).
Every write goes through ``services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from accounts.models import Region
from core.admin import ReadOnlyAdmin, ServiceFormAdmin
from core.exceptions import DomainError
from core.forms import add_domain_error

from . import services
from .events import SUBSCRIBABLE
from .models import OutboundMessage, SlackWebhook, WebhookDelivery, WebhookEndpoint

MESSAGE_FIELDS = (
    "channel",
    "kind",
    "status",
    "dedupe_key",
    "to",
    "subject",
    "body",
    "ics",
    "slack",
    "endpoint",
    "event_id",
    "payload",
    "created_at",
    "next_attempt_at",
    "last_attempt_at",
    "sent_at",
    "attempts",
    "response_code",
    "duration_ms",
    "last_error",
)


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    """The outbox, read-only: what was sent on which channel, when, and why
    a send failed."""

    list_display = ("kind", "channel", "status", "destination", "created_at", "sent_at", "attempts")
    list_filter = ("channel", "status", "kind")
    list_select_related = ("slack__region", "endpoint")
    search_fields = ("subject", "dedupe_key", "kind")
    readonly_fields = MESSAGE_FIELDS

    @admin.display(description="to")
    def destination(self, row: OutboundMessage) -> str:
        if row.slack_id:
            return str(row.slack)
        if row.endpoint_id:
            return str(row.endpoint)
        return ", ".join(row.to)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """The delivery log: one row per event and endpoint, with the last
    attempt's answer."""

    list_display = (
        "kind",
        "endpoint",
        "status",
        "response_code",
        "duration_ms",
        "attempts",
        "created_at",
        "last_attempt_at",
        "next_attempt_at",
    )
    list_filter = ("status", "kind", "endpoint")
    list_select_related = ("endpoint",)
    search_fields = ("kind", "event_id", "last_error")
    readonly_fields = MESSAGE_FIELDS


ENDPOINT_FIELDS = ["url", "description", "events", "active"]


class WebhookEndpointForm(forms.ModelForm):
    """Validating the form calls ``services.endpoint_create`` / ``_update``,
    whose refusals show next to the fields."""

    user: Any
    events = forms.MultipleChoiceField(
        choices=[(event, f"{event} — {meaning}") for event, meaning in SUBSCRIBABLE.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    url = forms.CharField(label="URL", max_length=500, required=False)

    class Meta:
        model = WebhookEndpoint
        fields = ENDPOINT_FIELDS

    secret = ""

    def _post_clean(self) -> None:
        if self.errors:
            return
        data = {field: self.cleaned_data[field] for field in ENDPOINT_FIELDS}
        try:
            if self.instance.pk is None:
                self.instance, self.secret = services.endpoint_create(user=self.user, **data)
            else:
                self.instance = services.endpoint_update(
                    user=self.user, endpoint=self.instance.pk, **data
                )
        except DomainError as error:
            add_domain_error(self, error)

    def save(self, commit: bool = True) -> WebhookEndpoint:
        self.save_m2m = lambda: None
        return self.instance


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceFormAdmin):
    form = WebhookEndpointForm
    change_form_template = "admin/notifications/webhookendpoint/change_form.html"
    list_display = ("url", "description", "active", "event_list", "failing_since", "disabled_at")
    list_filter = ("active",)
    search_fields = ("url", "description")
    readonly_fields = (
        "secret_hint",
        "created_at",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "deliveries_link",
    )

    @admin.display(description="events")
    def event_list(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(endpoint.events)

    @admin.display(description="delivery log")
    def deliveries_link(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.pk is None:
            return "—"
        url = reverse("admin:notifications_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">Deliveries</a>', url, endpoint.pk)

    def save_form(self, request: HttpRequest, form: WebhookEndpointForm, change: bool) -> Any:
        # Kept on this request only (the admin object is shared by all).
        request.new_webhook_secret = form.secret  # type: ignore[attr-defined]
        return super().save_form(request, form, change)

    def response_add(self, request: HttpRequest, obj: WebhookEndpoint, *args: Any) -> HttpResponse:
        secret = getattr(request, "new_webhook_secret", "")
        if secret:
            return self._secret_page(request, obj, secret, created=True)
        return super().response_add(request, obj, *args)

    def _secret_page(
        self, request: HttpRequest, endpoint: WebhookEndpoint, secret: str, *, created: bool
    ) -> HttpResponse:
        """The signing secret, shown on this page once: it is in no message,
        cookie or log, and only its last characters are shown again."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": endpoint,
            "secret": secret,
            "created": created,
            "title": "Signing secret",
            "change_url": reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk]),
        }
        return TemplateResponse(request, "admin/notifications/webhookendpoint/secret.html", context)

    def get_urls(self) -> list:
        own = [
            path(
                "<int:pk>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="notifications_webhookendpoint_send_test",
            ),
            path(
                "<int:pk>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="notifications_webhookendpoint_rotate_secret",
            ),
        ]
        return own + super().get_urls()

    def _back(self, pk: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:notifications_webhookendpoint_change", args=[pk])
        )

    def send_test_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return self._back(pk)
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        if not self.has_change_permission(request, endpoint):
            return HttpResponse(status=403)
        try:
            services.endpoint_send_test(user=request.user, endpoint=endpoint)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                "A webhook.test event was queued for this endpoint; its delivery is in the log.",
            )
        return self._back(pk)

    def rotate_secret_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return self._back(pk)
        endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
        if not self.has_change_permission(request, endpoint):
            return HttpResponse(status=403)
        try:
            secret = services.endpoint_rotate_secret(user=request.user, endpoint=endpoint)
        except DomainError as error:
            messages.error(request, error.message)
            return self._back(pk)
        return self._secret_page(request, endpoint, secret, created=False)


class SlackWebhookForm(forms.ModelForm):
    user: Any
    region = forms.ModelChoiceField(queryset=Region.objects.order_by("code"))
    url = forms.CharField(
        label="Incoming-webhook URL",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False),
        help_text="From Slack's Incoming Webhooks app. It is stored encrypted and never "
        "shown again; leave this empty to keep the stored URL.",
    )

    class Meta:
        model = SlackWebhook
        fields = ["region", "url", "active"]

    def _post_clean(self) -> None:
        if self.errors:
            return
        data = self.cleaned_data
        try:
            if self.instance.pk is None:
                self.instance = services.slack_webhook_create(
                    user=self.user, region=data["region"], url=data["url"], active=data["active"]
                )
            else:
                self.instance = services.slack_webhook_update(
                    user=self.user,
                    slack=self.instance.pk,
                    region=data["region"],
                    url=data["url"],
                    active=data["active"],
                )
        except DomainError as error:
            add_domain_error(self, error)

    def save(self, commit: bool = True) -> SlackWebhook:
        self.save_m2m = lambda: None
        return self.instance


@admin.register(SlackWebhook)
class SlackWebhookAdmin(ServiceFormAdmin):
    form = SlackWebhookForm
    list_display = ("region", "url_hint", "active", "updated_at")
    list_select_related = ("region",)
    readonly_fields = ("url_hint", "created_at", "updated_at")
