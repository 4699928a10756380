"""The REST API of people, regions, segments and customer accounts, and the
token endpoint (design.md §6). config/api_urls.py calls ``register``."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from .token import ObtainTokenView
from .views import AccountViewSet, RegionViewSet, SegmentViewSet, UserViewSet

__all__ = ["ObtainTokenView", "register"]


def register(router: BaseRouter) -> None:
    router.register("users", UserViewSet, basename="user")
    router.register("regions", RegionViewSet, basename="region")
    router.register("segments", SegmentViewSet, basename="segment")
    router.register("accounts", AccountViewSet, basename="account")
