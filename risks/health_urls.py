"""The Health page, mounted at /health/. Its view lives with the risk records:
the accountability list (red accounts with no open record) needs them."""

from __future__ import annotations

from django.urls import path

from .views.health import health_page

app_name = "health"

urlpatterns = [path("", health_page, name="index")]
