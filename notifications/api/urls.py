"""/api/v1/ routes of the notifications app: the webhook delivery log."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from .views import WebhookDeliveryViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")

urlpatterns = router.urls
