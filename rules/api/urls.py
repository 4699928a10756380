"""/api/v1/ routes of risk rules (with their preview and "evaluate now") and
of rule matches."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from .views import RuleMatchViewSet, RuleViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("rules", RuleViewSet, basename="rule")
router.register("rule-matches", RuleMatchViewSet, basename="rule-match")

urlpatterns = router.urls
