"""/api/v1/ routes of people, regions, segments and renewals, and the token endpoint."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from .token import ObtainTokenView, RevokeAllTokensView, RevokeTokenView
from .views import RegionViewSet, RenewalViewSet, SegmentViewSet, UserViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("users", UserViewSet, basename="user")
router.register("regions", RegionViewSet, basename="region")
router.register("segments", SegmentViewSet, basename="segment")
router.register("renewals", RenewalViewSet, basename="renewal")

urlpatterns = [
    path("auth/token/", ObtainTokenView.as_view(), name="api-token"),
    path("auth/token/revoke/", RevokeTokenView.as_view(), name="api-token-revoke"),
    path("auth/token/revoke-all/", RevokeAllTokensView.as_view(), name="api-token-revoke-all"),
    *router.urls,
]
