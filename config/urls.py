from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config.views import favicon
from risks.views.home import home

admin.site.site_header = "Red Account administration"
admin.site.site_title = "Red Account"
admin.site.index_title = "Customer success risk workflow"

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("risks/", include("risks.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon),
]
