"""The app's URLs plus the baseline the risks list is measured against."""

from __future__ import annotations

from django.urls import path

from config.urls import handler404  # noqa: F401
from config.urls import urlpatterns as app_urlpatterns

from .views import baseline_risks

urlpatterns = [
    path("bench/baseline/risks/", baseline_risks, name="bench-baseline-risks"),
    *app_urlpatterns,
]
