"""The risk rule pages, mounted at /rules/ (rules/views.py)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "rules"

urlpatterns = [
    path("", views.rule_list, name="index"),
    path("evaluate/", views.rule_evaluate, name="evaluate"),
    path("new/", views.rule_new, name="new"),
    path("<int:pk>/", views.rule_detail, name="detail"),
    path("<int:pk>/backtest/", views.rule_backtest, name="backtest"),
    path("<int:pk>/edit/", views.rule_edit, name="edit"),
    path("<int:pk>/active/", views.rule_set_active, name="active"),
    path("<int:pk>/delete/", views.rule_delete, name="delete"),
]
