"""/api/v1/ routes of customer accounts, root causes, risk records, escalations,
playbooks and tasks."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

from .accounts import AccountViewSet
from .tasks import PlaybookViewSet, TaskViewSet
from .views import EscalationViewSet, RiskViewSet, RootCauseViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("accounts", AccountViewSet, basename="account")
router.register("root-causes", RootCauseViewSet, basename="root-cause")
router.register("risks", RiskViewSet, basename="risk")
router.register("escalations", EscalationViewSet, basename="escalation")
router.register("playbooks", PlaybookViewSet, basename="playbook")
router.register("tasks", TaskViewSet, basename="task")

urlpatterns = router.urls
