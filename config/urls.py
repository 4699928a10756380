"""The site's URLs: each app's pages and API under their prefixes. This module
imports nothing of the apps; it names their url modules."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.views import favicon

admin.site.site_header = "Red Account administration"
admin.site.site_title = "Red Account"
admin.site.index_title = "Customer success risk workflow"

urlpatterns = [
    path("", include("risks.home_urls")),
    path("", include("accounts.auth_urls")),
    # Before "risks/": the reports have always lived under /risks/reports/.
    path("risks/reports/", include("reports.urls")),
    path("risks/", include("risks.urls")),
    path("accounts/", include("risks.account_urls")),
    path("health/", include("risks.health_urls")),
    path("tasks/", include("risks.task_urls")),
    path("reviews/", include("reviews.urls")),
    path("rules/", include("rules.urls")),
    path("imports/", include("core.import_urls")),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file (our CSP
    # forbids inline scripts); its assets come from drf-spectacular-sidecar.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    # Single sign-on (OpenID Connect): its views answer 404 while it is off.
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("favicon.ico", favicon),
]

handler404 = "config.views.page_not_found"
handler500 = "config.views.server_error"
