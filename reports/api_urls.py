"""/api/v1/reports/ routes."""

from __future__ import annotations

from django.urls import path

from .api import OpenRiskReportView, OutcomesReportView, TrendReportView
from .calibration_api import HealthCalibrationReportView
from .programs_api import FlagCoverageReportView, ProgramEffectivenessReportView

urlpatterns = [
    path("reports/outcomes/", OutcomesReportView.as_view(), name="report-outcomes"),
    path("reports/open-risk/", OpenRiskReportView.as_view(), name="report-open-risk"),
    path("reports/trend/", TrendReportView.as_view(), name="report-trend"),
    path(
        "reports/program-effectiveness/",
        ProgramEffectivenessReportView.as_view(),
        name="report-program-effectiveness",
    ),
    path("reports/flag-coverage/", FlagCoverageReportView.as_view(), name="report-flag-coverage"),
    path(
        "reports/health-calibration/",
        HealthCalibrationReportView.as_view(),
        name="report-health-calibration",
    ),
]
