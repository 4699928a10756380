"""The import pages (core.views), mounted at /imports/ by config/urls.py."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:kind>/", views.upload, name="upload"),
    path("<slug:kind>/<int:pk>/", views.job_page, name="job"),
    path("<slug:kind>/<int:pk>/start/", views.start, name="start"),
]
