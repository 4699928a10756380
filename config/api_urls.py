"""/api/v1/: one router for every resource of design.md §6."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from accounts import api as accounts_api
from reviews import api as reviews_api
from risks import api as risks_api
from risks.api import reports as reports_api

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
accounts_api.register(router)
risks_api.register(router)
reviews_api.register(router)

urlpatterns = [
    path("auth/token/", accounts_api.ObtainTokenView.as_view(), name="api-token"),
    # design.md §6 names the invite `agendas/{id}/calendar.ics`, without the
    # router's trailing slash; the schema documents the routed twin once.
    path(
        "agendas/<int:pk>/calendar.ics",
        reviews_api.AgendaViewSet.as_view({"get": "calendar"}, schema=None),
        name="agenda-calendar-ics",
    ),
    *reports_api.urlpatterns,
    *router.urls,
]
