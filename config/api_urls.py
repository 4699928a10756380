"""/api/v1/: each app's API routes, side by side."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("risks.api.urls")),
    path("", include("health.api.urls")),
    path("", include("reviews.api.urls")),
    path("", include("rules.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("reports.api_urls")),
]
