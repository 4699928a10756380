"""/api/v1/reports/ routes."""

from __future__ import annotations

from django.urls import path

from .api import OpenRiskReportView, OutcomesReportView, TrendReportView

urlpatterns = [
    path("reports/outcomes/", OutcomesReportView.as_view(), name="report-outcomes"),
    path("reports/open-risk/", OpenRiskReportView.as_view(), name="report-open-risk"),
    path("reports/trend/", TrendReportView.as_view(), name="report-trend"),
]
