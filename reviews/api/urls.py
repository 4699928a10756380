"""/api/v1/ routes of agendas, and of agenda items' notes and actions."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import AgendaItemViewSet, AgendaViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("agendas", AgendaViewSet, basename="agenda")
router.register("agenda-items", AgendaItemViewSet, basename="agenda-item")

urlpatterns = [
    # Calendar programs fetch the invite by a name ending in .ics, without the
    # router's trailing slash; the schema documents the routed twin once.
    path(
        "agendas/<int:pk>/calendar.ics",
        AgendaViewSet.as_view({"get": "calendar"}, schema=None),
        name="agenda-calendar-ics",
    ),
    *router.urls,
]
