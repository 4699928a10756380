"""REST API v1 of the reviews app: agendas, agenda items' notes and actions,
action items (design.md §6)."""

from __future__ import annotations

from rest_framework.routers import BaseRouter

from .views import ActionItemViewSet, AgendaItemViewSet, AgendaViewSet


def register(router: BaseRouter) -> None:
    router.register("agendas", AgendaViewSet, basename="agenda")
    router.register("agenda-items", AgendaItemViewSet, basename="agenda-item")
    router.register("action-items", ActionItemViewSet, basename="action-item")
