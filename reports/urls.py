from __future__ import annotations

from django.urls import path

from . import calibration_views, programs_views, views

app_name = "reports"

# Mounted at /risks/reports/ (config/urls.py), where the pages have always been.
urlpatterns = [
    path("", views.outcomes_page, name="outcomes"),
    path("open-risk/", views.open_risk_page, name="open_risk"),
    path("trend/", views.trend_page, name="trend"),
    path("outcomes.csv", views.outcomes_csv, name="outcomes_csv"),
    path("open-risk.csv", views.open_risk_csv, name="open_risk_csv"),
    path("trend.csv", views.trend_csv, name="trend_csv"),
    path(
        "program-effectiveness/",
        programs_views.program_effectiveness_page,
        name="program_effectiveness",
    ),
    path(
        "program-effectiveness.csv",
        programs_views.program_effectiveness_csv,
        name="program_effectiveness_csv",
    ),
    path("flag-coverage/", programs_views.flag_coverage_page, name="flag_coverage"),
    path("flag-coverage.csv", programs_views.flag_coverage_csv, name="flag_coverage_csv"),
    path(
        "health-calibration/",
        calibration_views.health_calibration_page,
        name="health_calibration",
    ),
    path(
        "health-calibration.csv",
        calibration_views.health_calibration_csv,
        name="health_calibration_csv",
    ),
]
