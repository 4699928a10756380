"""/api/v1/webhook-deliveries/: the delivery log of signed webhooks, for CS
operations admins (docs/api.md)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.schema import error, errors

from ..events import EVENT_TYPES
from ..models import MessageStatus, WebhookDelivery, WebhookEndpoint


class AdminsOnly(BasePermission):
    message = "Only CS operations admins read the webhook delivery log."

    def has_permission(self, request: Request, view: object) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_cs_admin)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(source="kind", help_text="The event's type.")
    webhook_id = serializers.CharField(help_text="The webhook-id header sent with it.")
    endpoint_url = serializers.CharField(source="endpoint.url")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "endpoint_url",
            "event_type",
            "webhook_id",
            "status",
            "attempts",
            "response_code",
            "duration_ms",
            "last_error",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "sent_at",
            "payload",
        ]
        read_only_fields = fields


class WebhookDeliveryFilter(django_filters.FilterSet):
    endpoint = django_filters.ModelChoiceFilter(
        queryset=WebhookEndpoint.objects.all(), label="Endpoint id"
    )
    event_type = django_filters.ChoiceFilter(
        field_name="kind", choices=list(EVENT_TYPES.items()), label="Event type"
    )
    status = django_filters.ChoiceFilter(choices=MessageStatus.choices, label="Status")

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []


ADMINS_ONLY = error(403, "Only CS operations admins read the webhook delivery log.")


@extend_schema_view(
    list=extend_schema(
        summary="List webhook deliveries",
        responses={
            200: WebhookDeliverySerializer(many=True),
            **errors(400, 401),
            403: ADMINS_ONLY,
            **errors(404),
        },
    ),
    retrieve=extend_schema(
        summary="One webhook delivery",
        responses={200: WebhookDeliverySerializer, **errors(401), 403: ADMINS_ONLY, **errors(404)},
    ),
)
class WebhookDeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """Each event's delivery to each endpoint, newest first: its status, the
    last attempt's response code and duration, and the number of attempts."""

    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    permission_classes = [AdminsOnly]

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        return WebhookDelivery.objects.select_related("endpoint").order_by("-created_at", "-pk")
