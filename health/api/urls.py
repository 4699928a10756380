"""/api/v1/ routes of measures, scorecard lines, observations and health
scores, and of an account's health (beside the accounts resource of
``risks.api``, whose routes never end in ``health/``)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import DefaultRouter

from .views import (
    AccountHealthView,
    HealthScoreViewSet,
    MeasureViewSet,
    ObservationViewSet,
    ThresholdViewSet,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("measures", MeasureViewSet, basename="measure")
router.register("thresholds", ThresholdViewSet, basename="threshold")
router.register("observations", ObservationViewSet, basename="observation")
router.register("health-scores", HealthScoreViewSet, basename="health-score")

urlpatterns = [
    path("accounts/<int:pk>/health/", AccountHealthView.as_view(), name="account-health"),
    *router.urls,
]
