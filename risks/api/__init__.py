"""REST API v1 of the risks app: root causes, risk records and escalations
(design.md §6)."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from .views import EscalationViewSet, RiskViewSet, RootCauseViewSet


def register(router: BaseRouter) -> None:
    router.register("root-causes", RootCauseViewSet, basename="root-cause")
    router.register("risks", RiskViewSet, basename="risk")
    router.register("escalations", EscalationViewSet, basename="escalation")
