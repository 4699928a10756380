"""The home page (by role), mounted at the site's root."""

from __future__ import annotations

from django.urls import path

from .views.home import home

urlpatterns = [path("", home, name="home")]
