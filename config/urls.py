from __future__ import annotations

from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Red Account administration"
admin.site.site_title = "Red Account"
admin.site.index_title = "Customer success risk workflow"

urlpatterns = [
    # Until the web UI lands, the Django admin is the interface.
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
]
