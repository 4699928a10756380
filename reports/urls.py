from __future__ import annotations

from django.urls import path

from . import views

app_name = "reports"

# Mounted at /risks/reports/ (config/urls.py), where the pages have always been.
urlpatterns = [
    path("", views.outcomes_page, name="outcomes"),
    path("open-risk/", views.open_risk_page, name="open_risk"),
    path("trend/", views.trend_page, name="trend"),
    path("outcomes.csv", views.outcomes_csv, name="outcomes_csv"),
    path("open-risk.csv", views.open_risk_csv, name="open_risk_csv"),
    path("trend.csv", views.trend_csv, name="trend_csv"),
]
